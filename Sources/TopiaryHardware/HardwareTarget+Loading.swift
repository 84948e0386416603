import Foundation
import TopiaryCore
import Yams

extension HardwareTarget {
    /// The format version of target files this build reads.
    public static let formatVersion = 1

    static let topKeys = ["format", "name", "description", "kind", "compute", "efficiency", "memory", "overhead", "sparsity", "power", "layout", "quantized", "float_runs_as"]
    static let memoryKeys = ["bandwidth_gbs", "cache_bytes", "cache_bandwidth_gbs", "capacity_bytes", "weight_storage_bytes",
                             "activation_bytes", "weight_cache_bytes", "weight_stream_gbs", "overlap"]

    /// Loads and validates a target profile; errors name file:line:column and the key.
    public static func load(path: String) throws(TargetError) -> HardwareTarget {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TargetError(file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and validates target YAML; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(TargetError) -> HardwareTarget {
        let root = try YAMLReader.compose(yaml: yaml, file: file)
        return try decode(root, reader: TargetYAMLReader(file: file))
    }

    private static func decode(_ root: Node, reader r: TargetYAMLReader) throws(TargetError) -> HardwareTarget {
        let top = try r.mapping(root, key: "", allowed: topKeys, required: ["name", "kind", "compute", "efficiency", "memory", "overhead", "power"])
        let format = try top.number("format", 1...1_000, default: 1)
        if Int(format) != formatVersion {
            throw r.error(top["format"], "format", "format \(Int(format)) is not supported; this build reads format \(formatVersion)")
        }
        let name = try top.text("name")
        if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            throw r.error(top["name"], "name", "a name is one word of letters, digits, '-' and '_', found '\(name)'")
        }
        let kind = Kind(rawValue: try top.word("kind", Kind.allCases.map(\.rawValue)))!

        let compute = try r.mapping(top["compute"]!, key: "compute", allowed: Precision.allCases.map(\.rawValue))
        var peak: [Precision: Double] = [:]
        for key in compute.order { peak[Precision(rawValue: key)!] = try compute.number(key, 0...1e9, openLow: true) }
        if peak.isEmpty {
            throw r.error(top["compute"], "compute", "give the peak GOPS of at least one precision (\(Precision.allCases.map(\.rawValue).joined(separator: ", ")))")
        }

        let eff = try r.mapping(top["efficiency"]!, key: "efficiency", allowed: OperationKind.allCases.map(\.rawValue),
                                required: OperationKind.allCases.map(\.rawValue))
        var efficiency: [OperationKind: Double] = [:]
        for k in OperationKind.allCases { efficiency[k] = try eff.number(k.rawValue, 0...1, openLow: true) }

        let mem = try r.mapping(top["memory"]!, key: "memory", allowed: memoryKeys, required: ["bandwidth_gbs"])
        func bytes(_ key: String) throws(TargetError) -> Int? {
            guard let n = mem[key] else { return nil }
            return try byteCount(n, key: mem.path(key), reader: r)
        }
        var memory = Memory(bandwidthGBs: try mem.number("bandwidth_gbs", 0...1e6, openLow: true))
        memory.cacheBytes = try bytes("cache_bytes")
        memory.cacheBandwidthGBs = try mem.optionalNumber("cache_bandwidth_gbs", 0...1e6, openLow: true)
        memory.capacityBytes = try bytes("capacity_bytes")
        memory.weightStorageBytes = try bytes("weight_storage_bytes")
        memory.activationBytes = try bytes("activation_bytes")
        memory.weightCacheBytes = try bytes("weight_cache_bytes")
        memory.weightStreamGBs = try mem.optionalNumber("weight_stream_gbs", 0...1e6, openLow: true)
        memory.overlap = try mem.bool("overlap", default: true)
        for (a, b) in [("cache_bytes", "cache_bandwidth_gbs"), ("weight_cache_bytes", "weight_stream_gbs")] where (mem[a] == nil) != (mem[b] == nil) {
            let given = mem[a] == nil ? b : a, missing = mem[a] == nil ? a : b
            throw r.error(mem[given], mem.path(given), "'\(given)' needs '\(missing)' beside it")
        }

        let ovh = try r.mapping(top["overhead"]!, key: "overhead", allowed: ["layer_us", "inference_us", "quantized_layer_us", "weightless_layer_us"],
                                required: ["layer_us", "inference_us"])
        var overhead = Overhead(layerMicroseconds: try ovh.number("layer_us", 0...1e7), inferenceMicroseconds: try ovh.number("inference_us", 0...1e9))
        overhead.quantizedLayerMicroseconds = try ovh.optionalNumber("quantized_layer_us", 0...1e7)
        overhead.weightlessLayerMicroseconds = try ovh.optionalNumber("weightless_layer_us", 0...1e7)

        var sparsity = Sparsity(unstructured: false)
        if let s = top["sparsity"] {
            let sp = try r.mapping(s, key: "sparsity", allowed: ["unstructured", "efficiency"])
            sparsity.unstructured = try sp.bool("unstructured", default: false)
            if sparsity.unstructured {
                sparsity.efficiency = try sp.number("efficiency", 0...1, openLow: true)
            } else if sp["efficiency"] != nil {
                throw r.error(sp["efficiency"], sp.path("efficiency"), "'efficiency' applies only with 'unstructured: true'")
            }
        }

        let pw = try r.mapping(top["power"]!, key: "power", allowed: ["active_w", "idle_w"], required: ["active_w", "idle_w"])
        let power = Power(activeWatts: try pw.number("active_w", 0...1e5, openLow: true), idleWatts: try pw.number("idle_w", 0...1e5))
        if power.idleWatts > power.activeWatts {
            throw r.error(pw["idle_w"], "power.idle_w", "idle power \(power.idleWatts) W exceeds active power \(power.activeWatts) W")
        }
        var blockChannels: Int?, vectorChannels: Int?, genericEfficiency = 1.0, genericRowElements = 0.0
        var layoutPrecisions: Set<Precision>?
        var plainInputEfficiency: Double?
        if let l = top["layout"] {
            let lay = try r.mapping(l, key: "layout", allowed: ["block_channels", "vector_channels", "generic_efficiency", "generic_row_elements",
                                                                      "plain_input_efficiency", "precisions"])
            if let list = lay["precisions"] {
                var set = Set<Precision>()
                for item in try r.sequence(list, key: "layout.precisions") {
                    set.insert(Precision(rawValue: try r.word(item, key: "layout.precisions", Precision.allCases.map(\.rawValue)))!)
                }
                layoutPrecisions = set
            }
            for key in ["block_channels", "vector_channels"] {
                guard let b = try lay.optionalNumber(key, 1...1024) else { continue }
                guard b == b.rounded() else { throw r.error(lay[key], "layout.\(key)", "expected a whole number of channels") }
                if key == "block_channels" { blockChannels = Int(b) } else { vectorChannels = Int(b) }
            }
            if lay["plain_input_efficiency"] != nil {
                guard blockChannels != nil else {
                    throw r.error(lay["plain_input_efficiency"], "layout.plain_input_efficiency", "'plain_input_efficiency' needs 'block_channels' beside it")
                }
                plainInputEfficiency = try lay.number("plain_input_efficiency", 0...1, openLow: true)
            }
            if vectorChannels != nil {
                genericEfficiency = try lay.number("generic_efficiency", 0...1, openLow: true)
                genericRowElements = try lay.number("generic_row_elements", 0...4096, default: 0)
            } else {
                for key in ["generic_efficiency", "generic_row_elements"] where lay[key] != nil {
                    throw r.error(lay[key], "layout.\(key)", "'\(key)' needs 'vector_channels' beside it")
                }
            }
        }
        var floatActivations: Set<Activation>?
        var quantizedEfficiency: [OperationKind: Double] = [:]
        var quantizedGenericEfficiency: Double?
        var quantizedKernelChannels: HardwareTarget.QuantizedKernelChannels?
        var quantizedChannelsLast = false
        var quantizedGenericCosts: HardwareTarget.QuantizedGenericCosts?
        if let q = top["quantized"] {
            let qm = try r.mapping(q, key: "quantized", allowed: ["float_activations", "efficiency", "generic_efficiency", "kernel_channels", "channels_last",
                                                                  "generic_costs"])
            if let list = qm["float_activations"] {
                let names = Activation.allCases.filter { $0 != .none }.map(\.rawValue)
                var set = Set<Activation>()
                for item in try r.sequence(list, key: "quantized.float_activations") {
                    set.insert(Activation(rawValue: try r.word(item, key: "quantized.float_activations", names))!)
                }
                floatActivations = set
            }
            if qm["generic_efficiency"] != nil {
                if vectorChannels == nil {
                    throw r.error(qm["generic_efficiency"], "quantized.generic_efficiency", "'generic_efficiency' needs 'layout.vector_channels'")
                }
                quantizedGenericEfficiency = try qm.number("generic_efficiency", 0...1, openLow: true)
            }
            if let k = qm["kernel_channels"] {
                let km = try r.mapping(k, key: "quantized.kernel_channels", allowed: ["input", "output", "min_output", "depthwise"])
                var v: [String: Int] = [:]
                for key in ["input", "output", "min_output", "depthwise"] {
                    let b = try km.number(key, 1...1024, default: 1)
                    guard b == b.rounded() else { throw r.error(km[key], "quantized.kernel_channels.\(key)", "expected a whole number of channels") }
                    v[key] = Int(b)
                }
                quantizedKernelChannels = .init(input: v["input"]!, output: v["output"]!, minOutput: v["min_output"]!, depthwise: v["depthwise"]!)
            }
            quantizedChannelsLast = try qm.bool("channels_last", default: false)
            if let g = qm["generic_costs"] {
                let keys = ["position_macs", "im2col_macs", "output_macs", "depthwise_lanes", "depthwise_remainder_macs", "depthwise_tap_macs",
                            "depthwise_output_macs"]
                let gm = try r.mapping(g, key: "quantized.generic_costs", allowed: keys)
                guard quantizedKernelChannels != nil else {
                    throw r.error(g, "quantized.generic_costs", "'generic_costs' needs 'quantized.kernel_channels' (which convolutions are generic)")
                }
                var v: [String: Double] = [:]
                for key in keys where key != "depthwise_lanes" { v[key] = try gm.number(key, 0...1e6, default: 0) }
                let lanes = try gm.number("depthwise_lanes", 1...1024, default: 1)
                guard lanes == lanes.rounded() else {
                    throw r.error(gm["depthwise_lanes"], "quantized.generic_costs.depthwise_lanes", "expected a whole number of channels")
                }
                quantizedGenericCosts = .init(positionMACs: v["position_macs"]!, im2colMACs: v["im2col_macs"]!, outputMACs: v["output_macs"]!,
                                              depthwiseLanes: Int(lanes), depthwiseRemainderMACs: v["depthwise_remainder_macs"]!,
                                              depthwiseTapMACs: v["depthwise_tap_macs"]!, depthwiseOutputMACs: v["depthwise_output_macs"]!)
            }
            if let e = qm["efficiency"] {
                let em = try r.mapping(e, key: "quantized.efficiency", allowed: OperationKind.allCases.map(\.rawValue))
                for key in em.order { quantizedEfficiency[OperationKind(rawValue: key)!] = try em.number(key, 0...1, openLow: true) }
            }
        }
        var target = HardwareTarget(name: name, description: try top.text("description", default: ""), kind: kind, peakGOPS: peak,
                              efficiency: efficiency, memory: memory, overhead: overhead, sparsity: sparsity, power: power,
                              blockChannels: blockChannels, vectorChannels: vectorChannels, genericEfficiency: genericEfficiency,
                              floatActivations: floatActivations, layoutPrecisions: layoutPrecisions)
        target.quantizedEfficiency = quantizedEfficiency
        target.genericRowElements = genericRowElements
        target.plainInputEfficiency = plainInputEfficiency
        target.quantizedGenericEfficiency = quantizedGenericEfficiency
        target.quantizedKernelChannels = quantizedKernelChannels
        target.quantizedChannelsLast = quantizedChannelsLast
        target.quantizedGenericCosts = quantizedGenericCosts
        if let node = top["float_runs_as"] {
            if target.precisions.allSatisfy({ $0 == .fp32 }) {
                throw r.error(node, "float_runs_as", "the target computes only fp32; list the precision float networks run at (fp16, int8) under 'compute'")
            }
            let word = try top.word("float_runs_as", target.precisions.filter { $0 != .fp32 }.map(\.rawValue))
            target.floatRunsAs = Precision(rawValue: word)!
        }
        return target
    }

    /// A byte count: an integer, or a number with a unit (`512 KiB`, `8 MB`, `4 GiB`).
    private static func byteCount(_ node: Node, key: String, reader r: TargetYAMLReader) throws(TargetError) -> Int {
        guard case .scalar(let s) = node else { throw r.error(node, key, "expected a byte count, found \(r.kindName(node))") }
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1)]
        let text = s.string.trimmingCharacters(in: .whitespaces)
        var number = text
        var scale = 1.0
        for (u, f) in units where text.hasSuffix(u) {
            number = String(text.dropLast(u.count)).trimmingCharacters(in: .whitespaces)
            scale = f
            break
        }
        guard let v = Double(number), v.isFinite, v > 0, v * scale < 1e18 else {
            throw r.error(node, key, "expected a positive byte count such as 1048576 or '1 MiB' (units B, KB, MB, GB, KiB, MiB, GiB), found '\(text)'")
        }
        return Int((v * scale).rounded())
    }
}
