import Foundation
import Yams

extension SearchSpace {
    /// The format version this build reads.
    public static let formatVersion = 1

    /// Loads and validates a search-space file.
    public static func load(path: String) throws(SpaceError) -> SearchSpace {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpaceError(file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and validates search-space YAML; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(SpaceError) -> SearchSpace {
        let root = try YAMLReader.compose(yaml: yaml, file: file)
        var builder = SpaceBuilder(reader: YAMLReader(file: file))
        return try builder.build(root: root, yaml: yaml)
    }
}

/// Walks the YAML tree once, validating as it goes, and collects the parameters.
private struct SpaceBuilder {
    let reader: YAMLReader
    var parameters: [Parameter] = []

    static let topKeys = ["format", "name", "description", "benchmark", "input", "classes", "network",
                          "channel_divisor", "width_multiplier", "stem", "stages", "head", "cell", "compression"]
    static let blockKeys = ["op", "type", "kernel", "expansion", "se", "activation"]

    mutating func add(_ name: String, _ choices: [ChoiceValue], _ section: Parameter.Section, group: String,
                      when condition: Condition? = nil) {
        parameters.append(Parameter(name: name, choices: choices, section: section, group: group, condition: condition))
    }

    mutating func build(root: Node, yaml: String) throws(SpaceError) -> SearchSpace {
        let top = try reader.mapping(root, key: "", allowed: Self.topKeys, required: ["name", "input", "classes", "network"])
        let format = try top.int("format", 1...1_000, default: SearchSpace.formatVersion)
        if format != SearchSpace.formatVersion {
            throw reader.error(top["format"], "format", "format \(format) is not supported; this build reads format \(SearchSpace.formatVersion)")
        }
        let name = try top.string("name")
        if name.isEmpty || name.contains(where: { $0.isWhitespace }) {
            throw reader.error(top["name"], "name", "a space name must be one word")
        }
        let summary = try top.string("description", default: "")
        let input = try readInput(top)
        let classes = try top.int("classes", 2...100_000)
        let benchmark = try top.value("benchmark", .word(["nas-bench-macro", "nas-bench-201", "none"]), default: .string("none"))
        let network = try top.word("network", ["mobilenet", "cell"])

        let spec: NetworkSpec
        if network == "mobilenet" {
            for k in ["cell"] where top[k] != nil { throw reader.error(top.keyNodes[k], k, "'\(k)' belongs to network: cell") }
            spec = .mobilenet(try readMobileNet(top, input: input))
        } else {
            for k in ["channel_divisor", "width_multiplier", "head"] where top[k] != nil {
                throw reader.error(top.keyNodes[k], k, "'\(k)' belongs to network: mobilenet")
            }
            spec = .cell(try readCell(top, input: input))
        }
        try readCompression(top)

        let kind = BenchmarkKind(rawValue: benchmark.stringValue ?? "")
        if let kind { try checkBenchmark(kind, spec: spec, top: top) }
        return SearchSpace(name: name, summary: summary, file: reader.file, yamlText: yaml, input: input, classes: classes,
                           network: spec, parameters: parameters, benchmark: kind)
    }

    mutating func readInput(_ top: Entries) throws(SpaceError) -> TensorShape {
        let m = try reader.mapping(top["input"]!, key: "input", allowed: ["channels", "height", "width", "size"], required: ["channels"])
        let channels = try m.int("channels", 1...64)
        // Elastic resolution (Once-for-All): a list of square sizes is a dimension,
        // `input.size`; the first listed is the default (a candidate without it takes it).
        // The space is checked at the smallest, where strides run out of pixels first.
        if let node = m["size"], case .sequence = node {
            let sizes = try reader.choices(node, key: "input.size", .int(8...4096))
            add(SearchSpace.inputSizeDimension, sizes, .arch, group: "input")
            let smallest = sizes.compactMap(\.intValue).min()!
            return TensorShape(channels: channels, height: smallest, width: smallest)
        }
        let size = m["size"] != nil ? try m.int("size", 1...4096) : nil
        if size != nil && (m["height"] != nil || m["width"] != nil) {
            throw reader.error(m.node, "input", "give either size or height and width, not both")
        }
        var h = size ?? 0, w = size ?? 0
        if size == nil {
            h = try m.int("height", 1...4096)
            w = try m.int("width", 1...4096)
        }
        return TensorShape(channels: channels, height: h, width: w)
    }

    // MARK: MobileNet family

    mutating func readMobileNet(_ top: Entries, input: TensorShape) throws(SpaceError) -> MobileNetSpec {
        for k in ["stem", "stages", "head"] where top[k] == nil { throw reader.error(top.node, k, "missing required key '\(k)'") }
        let divisor = try top.int("channel_divisor", 1...64, default: 1)
        let wm = try top.choices("width_multiplier", .double(0, 4, openLow: true), default: [.double(1)])
        add("width_multiplier", wm, .arch, group: "global")

        let stemMap = try reader.mapping(top["stem"]!, key: "stem", allowed: ["kernel", "stride", "width", "activation"], required: ["width"])
        let stemKernel = try stemMap.int("kernel", 1...11, default: 3)
        try checkOddKernel(stemKernel, stemMap, "kernel")
        let stem = MobileNetSpec.Stem(
            kernel: stemKernel,
            stride: try stemMap.int("stride", 1...4, default: 1),
            width: "stem.width",
            activation: try activation(stemMap, "activation", default: "relu"))
        add("stem.width", try stemMap.choices("width", .int(1...8192)), .arch, group: "stem")

        var size = (h: input.height, w: input.width)
        try applyStride(stem.stride, kernel: stem.kernel, to: &size, node: stemMap.node, key: "stem.stride")

        let stageNodes = try reader.sequence(top["stages"]!, key: "stages")
        if stageNodes.isEmpty { throw reader.error(top["stages"], "stages", "a network needs at least one stage") }
        var stages: [MobileNetSpec.Stage] = []
        for (i, node) in stageNodes.enumerated() {
            stages.append(try readStage(node, index: i, existing: stages, size: &size))
        }

        let headNodes = try reader.sequence(top["head"]!, key: "head")
        var head: [MobileNetSpec.HeadLayer] = []
        var pooled = false
        for (i, node) in headNodes.enumerated() {
            let key = "head[\(i)]"
            let m = try reader.mapping(node, key: key, allowed: ["type", "width", "activation", "batchnorm", "bias"], required: ["type"])
            let type = try m.word("type", ["conv", "pool", "linear"])
            switch type {
            case "conv":
                add("head.\(i).width", try m.choices("width", .int(1...16384)), .arch, group: "head")
                head.append(.conv(width: "head.\(i).width", activation: try activation(m, "activation", default: "relu"),
                                  batchNorm: try m.bool("batchnorm", default: true), bias: try m.bool("bias", default: false)))
            case "pool":
                for k in ["width", "activation", "batchnorm", "bias"] where m[k] != nil {
                    throw reader.error(m.keyNodes[k], "\(key).\(k)", "a pool layer takes no '\(k)'")
                }
                if pooled { throw reader.error(node, key, "the head pools twice") }
                pooled = true
                head.append(.pool)
            default:
                if !pooled { throw reader.error(node, key, "a linear layer needs a pool layer before it") }
                if m["batchnorm"] != nil { throw reader.error(m.keyNodes["batchnorm"], "\(key).batchnorm", "a linear layer takes no batchnorm") }
                var widthParam: String?
                if m["width"] != nil {
                    widthParam = "head.\(i).width"
                    add(widthParam!, try m.choices("width", .int(1...16384)), .arch, group: "head")
                }
                head.append(.linear(width: widthParam, activation: try activation(m, "activation", default: widthParam == nil ? "none" : "relu"),
                                    bias: try m.bool("bias", default: true)))
            }
        }
        guard case .linear(nil, _, _)? = head.last else {
            throw reader.error(top["head"], "head", "the head must end with a linear layer without width (the classifier)")
        }
        if head.dropLast().contains(where: { if case .linear(nil, _, _) = $0 { return true }; return false }) {
            throw reader.error(top["head"], "head", "only the last linear layer may omit its width")
        }
        return MobileNetSpec(channelDivisor: divisor, widthMultiplier: "width_multiplier", stem: stem, stages: stages, head: head)
    }

    mutating func readStage(_ node: Node, index i: Int, existing: [MobileNetSpec.Stage],
                            size: inout (h: Int, w: Int)) throws(SpaceError) -> MobileNetSpec.Stage {
        let key = "stages[\(i)]"
        let m = try reader.mapping(node, key: key, allowed: ["name", "stride", "depth", "width", "block"], required: ["depth", "width", "block"])
        let name = try m.string("name", default: "s\(i + 1)")
        if name.isEmpty || name.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
            throw reader.error(m["name"], "\(key).name", "a stage name uses letters, digits, '_' and '-' only")
        }
        if name == "stem" || name == "head" || name == "cell" || existing.contains(where: { $0.name == name }) {
            throw reader.error(m["name"] ?? node, "\(key).name", "stage name '\(name)' is already taken")
        }
        let stride = try m.int("stride", 1...4, default: 1)
        try applyStride(stride, kernel: 1, to: &size, node: m["stride"] ?? node, key: "\(key).stride")
        let depths = try m.choices("depth", .int(1...32))
        let widths = try m.choices("width", .int(1...8192))
        add("\(name).depth", depths, .arch, group: name)
        add("\(name).width", widths, .arch, group: name)
        let minDepth = depths.compactMap(\.intValue).min()!
        let maxDepth = depths.compactMap(\.intValue).max()!

        let bm = try reader.mapping(m["block"]!, key: "\(key).block", allowed: Self.blockKeys)
        var variants: [String: [String: ChoiceValue]] = [:]
        var variantOrder: [String] = []
        // `op` holds named variants, each a set of fixed block fields.
        if let opNode = bm["op"] {
            guard case .mapping(let map) = opNode, !map.isEmpty else {
                throw reader.error(opNode, "\(key).block.op", "expected a mapping of variant names to block fields")
            }
            for (k, v) in map {
                guard case .scalar(let ks) = k else { throw reader.error(k, "\(key).block.op", "variant names must be plain words") }
                let vname = ks.string
                let vkey = "\(key).block.op.\(vname)"
                if variants[vname] != nil { throw reader.error(k, vkey, "variant '\(vname)' appears twice") }
                let vm = try reader.mapping(v, key: vkey, allowed: Self.blockKeys.filter { $0 != "op" })
                var fields: [String: ChoiceValue] = [:]
                for f in vm.order {
                    if bm[f] != nil { throw reader.error(vm.keyNodes[f], "\(vkey).\(f)", "'\(f)' is set both here and in the block") }
                    fields[f] = try reader.value(vm[f]!, key: "\(vkey).\(f)", Self.blockFieldKind(f))
                }
                variants[vname] = fields
                variantOrder.append(vname)
            }
        }
        var blockChoices: [(String, [ChoiceValue])] = []
        if !variantOrder.isEmpty { blockChoices.append(("op", variantOrder.map { .string($0) })) }
        for f in Self.blockKeys where f != "op" {
            if let n = bm[f] {
                let kind = Self.blockFieldKind(f)
                let c = try reader.choices(n, key: "\(key).block.\(f)", kind)
                if f == "kernel" {
                    for v in c where v.intValue! % 2 == 0 {
                        throw reader.error(n, "\(key).block.kernel", "kernel \(v) must be odd (same padding)")
                    }
                }
                blockChoices.append((f, c))
            }
        }
        // Every variant (or the block alone) must say how big an inverted-residual block is.
        let variantList = variantOrder.isEmpty ? [[:]] : variantOrder.map { variants[$0]! }
        for fields in variantList {
            let types = fields["type"].map { [$0] } ?? blockChoices.first { $0.0 == "type" }?.1 ?? [.string("mbconv")]
            if types.contains(.string("mbconv")) {
                for f in ["kernel", "expansion"] where fields[f] == nil && !blockChoices.contains(where: { $0.0 == f }) {
                    throw reader.error(bm.node, "\(key).block.\(f)", "missing required key '\(f)' for mbconv blocks")
                }
            }
            if let k = fields["kernel"]?.intValue, k % 2 == 0 {
                throw reader.error(bm.node, "\(key).block.op", "kernel \(k) must be odd (same padding)")
            }
        }
        var blocks: [MobileNetSpec.BlockParameters] = []
        for b in 1...maxDepth {
            var names = MobileNetSpec.BlockParameters()
            for (f, c) in blockChoices {
                let pname = "\(name).b\(b).\(f)"
                add(pname, c, .arch, group: name, when: b > minDepth ? .atLeast("\(name).depth", b) : nil)
                if let field = BlockField(rawValue: f) { names.fields.append((field, pname)) } else { names.op = pname }
            }
            blocks.append(names)
        }
        return MobileNetSpec.Stage(name: name, stride: stride, depth: "\(name).depth", maxDepth: maxDepth,
                                   width: "\(name).width", blocks: blocks, variants: variants)
    }

    static func blockFieldKind(_ f: String) -> ValueKind {
        switch f {
        case "type": return .word(["mbconv", "fused", "identity"])
        case "kernel": return .int(1...11)
        case "expansion": return .double(0, 16, openLow: true)
        case "se": return .bool
        default: return .word(Activation.allCases.map(\.rawValue))
        }
    }

    func activation(_ m: Entries, _ key: String, default def: String) throws(SpaceError) -> Activation {
        Activation(rawValue: try m.word(key, Activation.allCases.map(\.rawValue), default: def))!
    }

    func checkOddKernel(_ k: Int, _ m: Entries, _ key: String) throws(SpaceError) {
        if k % 2 == 0 { throw reader.error(m[key], m.path(key), "kernel \(k) must be odd (same padding)") }
    }

    /// Applies a stride to the running spatial size, refusing one that collapses it below 1.
    func applyStride(_ stride: Int, kernel: Int, to size: inout (h: Int, w: Int), node: Node?, key: String) throws(SpaceError) {
        guard stride > 1 else { return }
        if size.h < stride || size.w < stride {
            throw reader.error(node, key, "stride \(stride) takes the spatial size \(size.h)x\(size.w) below 1 pixel (the shape collapses)")
        }
        size = (ConvArithmetic.output(size.h, kernel: kernel, stride: stride, padding: kernel / 2),
                ConvArithmetic.output(size.w, kernel: kernel, stride: stride, padding: kernel / 2))
    }

    // MARK: Cell family

    mutating func readCell(_ top: Entries, input: TensorShape) throws(SpaceError) -> CellSpec {
        for k in ["stem", "stages", "cell"] where top[k] == nil { throw reader.error(top.node, k, "missing required key '\(k)'") }
        let stemMap = try reader.mapping(top["stem"]!, key: "stem", allowed: ["width"], required: ["width"])
        let stemWidth = try stemMap.int("width", 1...8192)
        let cm = try reader.mapping(top["cell"]!, key: "cell", allowed: ["nodes", "ops"], required: ["ops"])
        let nodes = try cm.int("nodes", 2...NodeInputs.capacity, default: 4)
        let ops = try cm.choices("ops", .word(CellSpec.Op.allCases.map(\.rawValue)))
        let stageNodes = try reader.sequence(top["stages"]!, key: "stages")
        if stageNodes.isEmpty { throw reader.error(top["stages"], "stages", "a network needs at least one stage") }
        var stages: [(width: Int, cells: Int)] = []
        var size = (h: input.height, w: input.width)
        for (i, node) in stageNodes.enumerated() {
            let m = try reader.mapping(node, key: "stages[\(i)]", allowed: ["width", "cells"], required: ["width", "cells"])
            stages.append((try m.int("width", 1...8192), try m.int("cells", 0...64)))
            if i > 0 { try applyStride(2, kernel: 3, to: &size, node: node, key: "stages[\(i)]") }
        }
        var edges: [(to: Int, from: Int, parameter: String)] = []
        for j in 1..<nodes {
            for i in 0..<j {
                let name = CellSpec.edgeName(to: j, from: i)
                add(name, ops, .arch, group: "cell")
                edges.append((j, i, name))
            }
        }
        return CellSpec(nodes: nodes, stemWidth: stemWidth, stages: stages, edges: edges)
    }

    // MARK: Compression

    mutating func readCompression(_ top: Entries) throws(SpaceError) {
        typealias K = CompressionKeys
        let techniques = ["pruning", "quantization", "distillation", "low_rank", "weight_sharing"]
        let cm = try top["compression"].map { n throws(SpaceError) in try reader.mapping(n, key: "compression", allowed: techniques) }
        func section(_ name: String, _ allowed: [String]) throws(SpaceError) -> Entries? {
            guard let n = cm?[name] else { return nil }
            return try reader.mapping(n, key: "compression.\(name)", allowed: allowed)
        }
        func choices(_ e: Entries?, _ key: String, _ kind: ValueKind, _ def: ChoiceValue) throws(SpaceError) -> [ChoiceValue] {
            guard let e else { return [def] }
            return try e.choices(key, kind, default: [def])
        }

        let pr = try section("pruning", ["method", "ratio"])
        let methods = try choices(pr, "method", .word(CompressionConfig.PruningMethod.allCases.map(\.rawValue)), .string("none"))
        add(K.pruningMethod, methods, .compression, group: "pruning")
        let ratioDefault: ChoiceValue = .double(0.5)
        add(K.pruningRatio, try choices(pr, "ratio", .double(0, 0.95, openLow: true), ratioDefault), .compression, group: "pruning",
            when: .notEqual(K.pruningMethod, .string("none")))

        let q = try section("quantization", ["weight_bits", "activation_bits", "mode", "granularity"])
        let wb = try choices(q, "weight_bits", .int(1...32), .int(32))
        let ab = try choices(q, "activation_bits", .int(1...32), .int(32))
        for (vals, key) in [(wb, "weight_bits"), (ab, "activation_bits")] {
            let allowed = key == "weight_bits" ? [32, 16, 8, 4] : [32, 16, 8]
            if let bad = vals.first(where: { !allowed.contains($0.intValue!) }) {
                throw reader.error(q?[key], "compression.quantization.\(key)", "\(bad) bits is not supported; choose from \(allowed.map(String.init).joined(separator: ", "))")
            }
        }
        add(K.weightBits, wb, .compression, group: "quantization")
        add(K.activationBits, ab, .compression, group: "quantization")
        add(K.quantMode, try choices(q, "mode", .word(CompressionConfig.QuantMode.allCases.map(\.rawValue)), .string("ptq")),
            .compression, group: "quantization", when: .anyAtMost([K.weightBits, K.activationBits], 8))
        add(K.quantGranularity, try choices(q, "granularity", .word(CompressionConfig.Granularity.allCases.map(\.rawValue)), .string("per_channel")),
            .compression, group: "quantization", when: .anyAtMost([K.weightBits], 8))

        let kd = try section("distillation", ["enabled", "temperature", "alpha"])
        add(K.distillEnabled, try choices(kd, "enabled", .bool, .bool(false)), .compression, group: "distillation")
        add(K.distillTemperature, try choices(kd, "temperature", .double(0, 100, openLow: true), .double(4)), .compression,
            group: "distillation", when: .notEqual(K.distillEnabled, .bool(false)))
        add(K.distillAlpha, try choices(kd, "alpha", .double(0, 1, openLow: false), .double(0.5)), .compression,
            group: "distillation", when: .notEqual(K.distillEnabled, .bool(false)))

        let lr = try section("low_rank", ["rank_ratio"])
        add(K.rankRatio, try choices(lr, "rank_ratio", .double(0, 1, openLow: true), .double(1)), .compression, group: "low_rank")

        let ws = try section("weight_sharing", ["clusters"])
        let clusters = try choices(ws, "clusters", .int(0...65_536), .int(0))
        if let bad = clusters.first(where: { $0.intValue! == 1 }) {
            throw reader.error(ws?["clusters"], "compression.weight_sharing.clusters", "\(bad) cluster shares every weight; use 0 (off) or at least 2")
        }
        add(K.clusters, clusters, .compression, group: "weight_sharing")
    }

    func checkBenchmark(_ kind: BenchmarkKind, spec: NetworkSpec, top: Entries) throws(SpaceError) {
        if parameters.contains(where: { $0.name == SearchSpace.inputSizeDimension }) {
            throw reader.error(top["input"], "input", "a benchmark table was measured at one resolution: give input.size as one number")
        }
        let arch = parameters.filter { $0.section == .arch && !$0.isFixed }
        switch (kind, spec) {
        case (.nasBenchMacro, .mobilenet):
            if arch.contains(where: { $0.choices.count > 10 || $0.condition != nil }) {
                throw reader.error(top["benchmark"], "benchmark", "nas-bench-macro keys need unconditional dimensions of at most 10 choices each")
            }
        case (.nasBench201, .cell):
            break
        default:
            throw reader.error(top["benchmark"], "benchmark", "benchmark \(kind.rawValue) does not match network family")
        }
    }
}

/// Output size of a convolution or pooling window.
public enum ConvArithmetic {
    public static func output(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }
}
