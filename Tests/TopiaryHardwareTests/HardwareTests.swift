import Foundation
import Testing
import TopiaryCore
@testable import TopiaryHardware

/// Paths the tests read: the repository's target profiles and search spaces.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func target(_ name: String) -> String { repo.appendingPathComponent("SearchSpaces/targets/\(name).yaml").path }
    static func space(_ name: String) -> String { repo.appendingPathComponent("SearchSpaces/\(name).yaml").path }
    static var targetNames: [String] {
        let dir = repo.appendingPathComponent("SearchSpaces/targets").path
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }
}

func target(_ name: String) throws -> HardwareTarget { try HardwareTarget.load(path: Paths.target(name)) }
func space(_ name: String) throws -> SearchSpace { try SearchSpace.load(path: Paths.space(name)) }

/// A fixed architecture of a space (the first sampled candidate), uncompressed.
func baseGraph(_ spaceName: String, seed: UInt64 = 3) throws -> NetworkGraph {
    let s = try space(spaceName)
    return NetworkGraph.build(s.sample(count: 1, seed: seed)[0], in: s)
}

func config(weightBits: Int = 32, activationBits: Int = 32, pruning: CompressionConfig.PruningMethod = .none, ratio: Double = 0) -> CompressionConfig {
    var c = CompressionConfig()
    c.weightBits = weightBits
    c.activationBits = activationBits
    c.pruning = pruning
    c.pruningRatio = ratio
    return c
}

let minimalTarget = """
    name: tiny
    kind: cpu
    compute: {fp32: 10}
    efficiency: {conv: 0.5, depthwise: 0.1, pointwise: 0.5, linear: 0.2, pooling: 0.1, elementwise: 0.1}
    memory: {bandwidth_gbs: 2}
    overhead: {layer_us: 5, inference_us: 10}
    power: {active_w: 3, idle_w: 1}

    """

// MARK: - Target files

@Test(arguments: Paths.targetNames)
func everyTargetFileLoadsAndIsNamedLikeItsFile(_ name: String) throws {
    let t = try target(name)
    #expect(t.name == name)
    #expect(!t.precisions.isEmpty)
    #expect(!t.description.isEmpty)
    #expect(t.power.activeWatts > 0)
}

@Test func theIssuesTargetsAreAllThere() {
    let names = Set(Paths.targetNames)
    for n in ["raspberry-pi-4", "cortex-a76-phone", "jetson-nano", "edge-tpu", "cortex-m7", "x86-server", "nvidia-a100", "host-cpu"] {
        #expect(names.contains(n), "missing target \(n)")
    }
}

@Test func targetFieldsAreReadWithUnits() throws {
    let m7 = try target("cortex-m7")
    #expect(m7.memory.weightStorageBytes == 2 * 1_048_576)
    #expect(m7.memory.activationBytes == 1_048_576)
    #expect(m7.precisions == [.int8, .fp32])
    let tpu = try target("edge-tpu")
    #expect(tpu.precisions == [.int8])
    #expect(tpu.memory.weightCacheBytes == 8 * 1_048_576)
    #expect(try target("cortex-a76-phone").sparsity == .init(unstructured: true, efficiency: 0.6))
}

struct BadTarget: Sendable, CustomStringConvertible {
    var edit: (String, String)
    var line: Int
    var key: String
    var message: String
    var description: String { key }
}

@Test(arguments: [
    BadTarget(edit: ("kind: cpu", "knd: cpu"), line: 2, key: "knd", message: "did you mean 'kind'"),
    BadTarget(edit: ("conv: 0.5,", "conv: 1.5,"), line: 4, key: "efficiency.conv", message: "out of range"),
    BadTarget(edit: ("{fp32: 10}", "{fp32: 10, fp8: 20}"), line: 3, key: "compute.fp8", message: "unknown key 'fp8'"),
    BadTarget(edit: ("{fp32: 10}", "{fp32: fast}"), line: 3, key: "compute.fp32", message: "expected a number"),
    BadTarget(edit: ("{bandwidth_gbs: 2}", "{bandwidth_gbs: 2, cache_bytes: 1 MiB}"), line: 5, key: "memory.cache_bytes", message: "needs 'cache_bandwidth_gbs'"),
    BadTarget(edit: ("{bandwidth_gbs: 2}", "{bandwidth_gbs: 2, capacity_bytes: 4 furlongs}"), line: 5, key: "memory.capacity_bytes", message: "byte count"),
    BadTarget(edit: ("{layer_us: 5, inference_us: 10}", "{layer_us: 5}"), line: 6, key: "overhead.inference_us", message: "missing required key"),
    BadTarget(edit: ("idle_w: 1}", "idle_w: 4}"), line: 7, key: "power.idle_w", message: "exceeds active power"),
    BadTarget(edit: ("kind: cpu", "kind: fpga"), line: 2, key: "kind", message: "not one of cpu, gpu, npu, mcu"),
    BadTarget(edit: ("power: {", "layout: {block_channels: 12.5}\npower: {"), line: 7, key: "layout.block_channels", message: "whole number"),
    BadTarget(edit: ("power: {", "layout: {generic_efficiency: 0.1}\npower: {"), line: 7, key: "layout.generic_efficiency", message: "needs 'vector_channels'"),
    BadTarget(edit: ("power: {", "layout: {generic_row_elements: 20}\npower: {"), line: 7, key: "layout.generic_row_elements", message: "needs 'vector_channels'"),
    BadTarget(edit: ("power: {", "layout: {vector_channels: 4, generic_efficiency: 0.1, generic_row_elements: -3}\npower: {"), line: 7,
              key: "layout.generic_row_elements", message: "out of range"),
    BadTarget(edit: ("power: {", "layout: {precisions: [fp32, fp64]}\npower: {"), line: 7, key: "layout.precisions", message: "'fp64' is not one of"),
    BadTarget(edit: ("power: {", "quantized: {float_activations: [hswsh]}\npower: {"), line: 7, key: "quantized.float_activations",
              message: "did you mean 'hswish'"),
    BadTarget(edit: ("power: {", "quantized: {efficiency: {depthwise: 2}}\npower: {"), line: 7, key: "quantized.efficiency.depthwise",
              message: "out of range"),
    BadTarget(edit: ("power: {", "quantized: {generic_efficiency: 0.1}\npower: {"), line: 7, key: "quantized.generic_efficiency",
              message: "needs 'layout.vector_channels'"),
    BadTarget(edit: ("power: {", "quantized: {kernel_channels: {input: 4, output: 4.5}}\npower: {"), line: 7,
              key: "quantized.kernel_channels.output", message: "whole number"),
    BadTarget(edit: ("power: {", "quantized: {kernel_channels: {inputs: 4}}\npower: {"), line: 7,
              key: "quantized.kernel_channels.inputs", message: "did you mean 'input'"),
    BadTarget(edit: ("power: {", "layout: {plain_input_efficiency: 0.5}\npower: {"), line: 7,
              key: "layout.plain_input_efficiency", message: "needs 'block_channels'"),
    BadTarget(edit: ("power: {", "layout: {block_channels: 16, plain_input_efficiency: 0}\npower: {"), line: 7,
              key: "layout.plain_input_efficiency", message: "out of range"),
    BadTarget(edit: ("power: {", "quantized: {generic_costs: {position_macs: 10}}\npower: {"), line: 7,
              key: "quantized.generic_costs", message: "needs 'quantized.kernel_channels'"),
    BadTarget(edit: ("power: {", "quantized: {kernel_channels: {input: 4}, generic_costs: {depthwise_lanes: 2.5}}\npower: {"), line: 7,
              key: "quantized.generic_costs.depthwise_lanes", message: "whole number"),
    BadTarget(edit: ("power: {", "quantized: {kernel_channels: {input: 4}, generic_costs: {position_mac: 3}}\npower: {"), line: 7,
              key: "quantized.generic_costs.position_mac", message: "did you mean 'position_macs'"),
    BadTarget(edit: ("power: {", "quantized: {kernel_channels: {input: 4}, generic_costs: {im2col_macs: -1}}\npower: {"), line: 7,
              key: "quantized.generic_costs.im2col_macs", message: "out of range"),
    BadTarget(edit: ("power: {", "quantized: {channels_last: often}\npower: {"), line: 7, key: "quantized.channels_last", message: "expected true or false"),
    BadTarget(edit: ("{bandwidth_gbs: 2}", "{bandwidth_gbs: 2, overlap: sometimes}"), line: 5, key: "memory.overlap", message: "expected true or false"),
    BadTarget(edit: ("inference_us: 10}", "inference_us: 10, quantized_layer_us: -1}"), line: 6, key: "overhead.quantized_layer_us", message: "out of range"),
    BadTarget(edit: ("inference_us: 10}", "inference_us: 10, weightless_layer_us: -1}"), line: 6, key: "overhead.weightless_layer_us", message: "out of range"),
])
func badTargetYAMLNamesFileLineAndKey(_ bad: BadTarget) throws {
    let yaml = minimalTarget.replacingOccurrences(of: bad.edit.0, with: bad.edit.1)
    #expect(yaml != minimalTarget)
    do {
        _ = try HardwareTarget.parse(yaml: yaml, file: "bad.yaml")
        Issue.record("expected an error for \(bad.key)")
    } catch {
        #expect(error.file == "bad.yaml")
        #expect(error.line == bad.line, "\(error)")
        #expect(error.key == bad.key, "\(error)")
        #expect(error.message.contains(bad.message), "\(error)")
        #expect(error.description.hasPrefix("bad.yaml:\(bad.line):"))
    }
}

@Test func yamlSyntaxErrorsNameTheLine() {
    #expect(throws: TargetError.self) { try HardwareTarget.parse(yaml: "name: x\nkind: [cpu\n", file: "t.yaml") }
    do {
        _ = try HardwareTarget.parse(yaml: "name: x\ncompute: {fp32: 1\n", file: "t.yaml")
    } catch {
        #expect(error.line != nil && error.description.hasPrefix("t.yaml:"))
    }
}

@Test func theMinimalTargetParses() throws {
    let t = try HardwareTarget.parse(yaml: minimalTarget, file: "tiny.yaml")
    #expect(t.precisions == [.fp32])
    #expect(t.memory.cacheBytes == nil)
    #expect(t.sparsity.unstructured == false)
}

// MARK: - Latency model

@Test(arguments: Paths.targetNames)
func latencyIsMonotoneInMACsForAFixedStructure(_ name: String) throws {
    let t = try target(name)
    let model = LatencyModel(target: t)
    let s = try space("fashion-mobilenet")
    let base = s.sample(count: 1, seed: 5)[0]
    // Same blocks and compression; every width dimension set to its i-th choice.
    var previous: (macs: Int, ms: Double)?
    for i in 0..<3 {
        guard case .object(var top) = base.json, let arch = base.json["arch"]?.objectPairs else { return }
        let widened = arch.map { (k, v) -> (String, JSONValue) in
            guard k.hasSuffix(".width"), let p = s.parameter(named: k) else { return (k, v) }
            return (k, JSONValue(p.choices[min(i, p.choices.count - 1)]))
        }
        let compression = JSONValue.object([("quantization", .object([("weight_bits", .int(8)), ("activation_bits", .int(8))]))])
        top = top.map { $0.0 == "arch" ? ("arch", .object(widened)) : ($0.0 == "compression" ? ("compression", compression) : $0) }
        let c = try s.decode(json: JSONValue.object(top))
        let g = NetworkGraph.build(compressed: c, in: s)
        let r = model.predict(g)
        let macs = g.cost().macs
        if let p = previous {
            #expect(macs > p.macs)
            #expect(r.milliseconds > p.ms, "\(name): \(macs) MACs -> \(r.milliseconds) ms after \(p.macs) -> \(p.ms)")
        }
        previous = (macs, r.milliseconds)
    }
}

@Test(arguments: Paths.targetNames)
func moreWorkNeverTakesLessTime(_ name: String) throws {
    // Scaling a layer's channels up can only add compute, traffic or both.
    let model = LatencyModel(target: try target(name))
    let s = try space("mobilenetv3-imagenet")
    let c = s.sample(count: 1, seed: 2)[0]
    guard let p = s.parameter(named: "width_multiplier") else { return }
    var times: [Double] = []
    for w in p.choices {
        var choices = c.choices
        choices["width_multiplier"] = w
        let json = JSONValue.object([("arch", .object(choices.filter { !CompressionKeys.all.contains($0.key) }.map { ($0.key, JSONValue($0.value)) })),
                                     ("compression", c.compression.json), ("space", .string(s.name))])
        times.append(model.predict(try s.decode(json: json), in: s).milliseconds)
    }
    #expect(times == times.sorted())
    #expect(times.first! < times.last!)
}

@Test(arguments: Paths.targetNames)
func int8IsFasterThanFp32OnlyWhereTheTargetHasInt8(_ name: String) throws {
    let t = try target(name)
    let model = LatencyModel(target: t)
    let base = try baseGraph("nas-bench-macro")
    let fp32 = model.predict(base.compressed(config()))
    let int8 = model.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    let weightOnly = model.predict(base.compressed(config(weightBits: 8)))
    if t.peakGOPS[.int8] != nil {
        #expect(int8.layers.allSatisfy { $0.precision == .int8 })
        if t.peakGOPS[.fp32] != nil { #expect(int8.milliseconds < fp32.milliseconds) }
    } else {
        #expect(int8.layers.allSatisfy { $0.precision != .int8 })
        // Without int8 the 8-bit network runs as the narrowest wider precision does.
        var wide = base.compressed(config(weightBits: 16))
        wide.activationBits = 16
        #expect(abs(int8.milliseconds - model.predict(wide).milliseconds) < 1e-12)
    }
    // 8-bit weights with 32-bit activations gain nothing in compute: they widen on load.
    if t.peakGOPS[.fp32] != nil {
        #expect(abs(weightOnly.milliseconds - fp32.milliseconds) < 1e-12)
    }
}

@Test func int8GivesNothingOnAnFp32OnlyTarget() throws {
    let model = LatencyModel(target: try HardwareTarget.parse(yaml: minimalTarget, file: "tiny.yaml"))
    let base = try baseGraph("fashion-mobilenet")
    let fp32 = model.predict(base.compressed(config()))
    let int8 = model.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    #expect(int8.milliseconds == fp32.milliseconds)
    #expect(int8.precision == .fp32)
}

@Test func edgeTPURejectsFloatModelsAndStreamsWeightsBeyondItsSRAM() throws {
    let tpu = LatencyModel(target: try target("edge-tpu"))
    let base = try baseGraph("nas-bench-macro")
    let fp32 = tpu.predict(base.compressed(config()))
    #expect(!fp32.fits)
    #expect(fp32.problems.contains { if case .precisionUnsupported = $0 { return true } else { return false } })
    #expect(fp32.problems.map(\.description).joined().contains("runs only int8"))
    let int8 = tpu.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    #expect(int8.fits, "\(int8.problems)")
    // A big ImageNet network's int8 weights exceed 8 MB: streaming adds time.
    let big = try baseGraph("mobilenetv3-imagenet").compressed(config(weightBits: 8, activationBits: 8))
    let features = tpu.features(big)
    let bigReport = tpu.predict(big)
    if bigReport.runtimeWeightBytes > 8 * 1_048_576 {
        #expect(features.fixed.contains { $0.term == .stream && $0.milliseconds > 0 })
    } else {
        #expect(!features.fixed.contains { $0.term == .stream })
    }
}

@Test(arguments: ["raspberry-pi-4", "cortex-a76-phone", "host-cpu", "edge-tpu"])
func unstructuredSparsityHelpsOnlyWithSparseKernels(_ name: String) throws {
    let t = try target(name)
    let model = LatencyModel(target: t)
    let base = try baseGraph("mobilenetv3-imagenet")
    let dense = model.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    let sparse = model.predict(base.compressed(config(weightBits: 8, activationBits: 8, pruning: .magnitude, ratio: 0.75)))
    if t.sparsity.unstructured {
        #expect(sparse.milliseconds < dense.milliseconds)
        #expect(sparse.layers.contains { $0.effectiveMACs < $0.macs })
    } else {
        #expect(sparse.milliseconds == dense.milliseconds)
        #expect(zip(sparse.layers, dense.layers).allSatisfy { $0.effectiveMACs == $1.effectiveMACs })
    }
}

@Test(arguments: Paths.targetNames)
func channelPruningActsThroughTheSmallerGraph(_ name: String) throws {
    let model = LatencyModel(target: try target(name))
    let base = try baseGraph("fashion-mobilenet", seed: 9)
    let full = model.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    let pruned = model.predict(base.compressed(config(weightBits: 8, activationBits: 8, pruning: .channel, ratio: 0.5)))
    #expect(pruned.layers.reduce(0) { $0 + $1.macs } < full.layers.reduce(0) { $0 + $1.macs })
    #expect(pruned.layers.reduce(0) { $0 + $1.computeMilliseconds } < full.layers.reduce(0) { $0 + $1.computeMilliseconds })
    if model.target.blockChannels == nil {
        #expect(pruned.milliseconds <= full.milliseconds)
    }
    // With a blocked layout, odd channel counts cost conversions: pruning can even be slower.
}

@Test func cortexM7RejectsWeightsThatDoNotFitFlash() throws {
    let m7 = LatencyModel(target: try target("cortex-m7"))
    // NAS-Bench-Macro's widest network: millions of fp32 weights, far beyond 2 MB of flash.
    let s = try space("nas-bench-macro")
    let c = try s.decode(json: #"{"arch":{"s1.b1.op":"mb_e6_k5","s1.b2.op":"mb_e6_k5","s2.b1.op":"mb_e6_k5","s2.b2.op":"mb_e6_k5","s2.b3.op":"mb_e6_k5","s3.b1.op":"mb_e6_k5","s3.b2.op":"mb_e6_k5","s3.b3.op":"mb_e6_k5"},"space":"nas-bench-macro"}"#)
    let r = m7.predict(c, in: s)
    #expect(!r.fits)
    guard case let .weightsExceedStorage(bytes, capacity)? = r.problems.first(where: { if case .weightsExceedStorage = $0 { return true } else { return false } }) else {
        Issue.record("expected a flash problem, got \(r.problems)")
        return
    }
    #expect(bytes == r.weightBytes && bytes > capacity && capacity == 2 * 1_048_576)
    #expect(r.problems.map(\.description).joined().contains("flash"))
}

@Test func cortexM7RejectsActivationsThatDoNotFitSRAM() throws {
    // Few weights, large images: a 3x3 conv of 32 channels on 224x224 keeps 1.6M fp32
    // values alive (6 MB), far beyond 1 MB of SRAM, while the weights are tiny.
    let yaml = """
        name: wide-input
        input: {channels: 3, size: 224}
        classes: 10
        network: mobilenet
        stem: {kernel: 3, stride: 1, width: 32, activation: relu}
        stages:
          - {name: s1, stride: 2, depth: 1, width: 16, block: {kernel: 3, expansion: 1}}
        head:
          - {type: pool}
          - {type: linear}
        """
    let s = try SearchSpace.parse(yaml: yaml, file: "wide-input.yaml")
    let g = NetworkGraph.build(compressed: s.sample(count: 1, seed: 1)[0], in: s)
    let r = LatencyModel(target: try target("cortex-m7")).predict(g)
    #expect(!r.fits)
    #expect(r.weightBytes < 2 * 1_048_576)
    #expect(r.problems.count == 1)
    guard case let .activationsExceedMemory(bytes, capacity)? = r.problems.first else {
        Issue.record("expected an SRAM problem, got \(r.problems)")
        return
    }
    #expect(bytes == r.peakActivationBytes && bytes > capacity)
    #expect(r.problems[0].description.contains("SRAM"))
}

@Test func cortexM7AcceptsASmallInt8Network() throws {
    let m7 = LatencyModel(target: try target("cortex-m7"))
    let g = try baseGraph("fashion-mobilenet", seed: 4).compressed(config(weightBits: 8, activationBits: 8))
    let r = m7.predict(g)
    #expect(r.fits, "\(r.problems)")
    #expect(r.precision == .int8)
    #expect(r.peakActivationBytes == g.peakActivationElements())
}

@Test(arguments: Paths.targetNames)
func reportAddsUpAndEnergyIsPowerTimesTime(_ name: String) throws {
    let t = try target(name)
    let model = LatencyModel(target: t)
    let g = try baseGraph("nas-bench-201").compressed(config(weightBits: 8, activationBits: 8))
    let r = model.predict(g)
    let sum = r.layers.reduce(r.fixedMilliseconds) { $0 + $1.milliseconds }
    #expect(abs(sum - r.milliseconds) <= 1e-9 * r.milliseconds)
    #expect(abs(r.energyMillijoules - t.power.activeWatts * r.milliseconds) <= 1e-9 * r.energyMillijoules)
    for l in r.layers {
        let work = t.memory.overlap ? max(l.computeMilliseconds, l.memoryMilliseconds) : l.computeMilliseconds + l.memoryMilliseconds
        #expect(abs(l.milliseconds - (work + l.overheadMilliseconds + l.layoutMilliseconds + l.quantizeMilliseconds)) < 1e-12)
        #expect((l.layoutConversions == 0) == (l.layoutMilliseconds == 0))
        #expect((l.floatActivations == 0) == (l.quantizeMilliseconds == 0))
        if t.memory.overlap { #expect(l.computeBound == (l.computeMilliseconds >= l.memoryMilliseconds)) }
    }
    // The features reproduce the prediction, and their linear form agrees with it.
    let f = model.features(g)
    #expect(abs(f.milliseconds() - r.milliseconds) <= 1e-9 * r.milliseconds)
    let totals = f.termTotals()
    #expect(abs(totals.values.reduce(0, +) - r.milliseconds) <= 1e-9 * r.milliseconds)
}

@Test func blockedLayoutsConvertOnlyWhereChannelsDoNotFillBlocks() throws {
    let host = LatencyModel(target: try target("host-cpu"))
    #expect(host.target.blockChannels == 16)
    // NAS-Bench-Macro's channels are all multiples of 16: only the classifier's input
    // goes back to the plain layout.
    let macro = host.predict(try baseGraph("nas-bench-macro"))
    #expect(macro.layers.reduce(0) { $0 + $1.layoutConversions } == 1)
    // Low-rank factors of odd rank are read in the plain layout: more conversions, more time.
    let base = try baseGraph("fashion-mobilenet", seed: 11)
    var lowRank = CompressionConfig()
    lowRank.rankRatio = 0.25
    let plain = host.predict(base.compressed(CompressionConfig()))
    let factored = base.compressed(lowRank)
    let r = host.predict(factored)
    #expect(r.layers.reduce(0) { $0 + $1.layoutConversions } > plain.layers.reduce(0) { $0 + $1.layoutConversions })
    // Without a blocked layout nothing is converted.
    let pi = LatencyModel(target: try target("raspberry-pi-4")).predict(factored)
    #expect(pi.layers.allSatisfy { $0.layoutConversions == 0 && $0.layoutMilliseconds == 0 })
    // Padding to whole blocks: a dense convolution with 8 output channels computes 16.
    let stem = r.layers.first { $0.name == "stem" }!
    if case .conv(let c) = factored.nodes[stem.nodes.lowerBound].op, c.outChannels % 16 != 0 {
        #expect(stem.effectiveMACs > stem.macs)
    }
}

@Test func channelsThatMissTheVectorWidthRunTheGenericKernel() throws {
    // Hidden widths 48 (a multiple of 4) and 54 (not): the same block otherwise.
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    func depthwise(stem: Int) throws -> (LayerLatency, TermTime) {
        let g = try oneBlockNetwork(stem: stem, width: 16, kernel: 5)
        let r = model.predict(g)
        let i = try #require(r.layers.firstIndex { $0.kind == .depthwise })
        return (r.layers[i], model.features(g).layers[i].compute[0])
    }
    let (fastLayer, fast) = try depthwise(stem: 16)
    let (slowLayer, slow) = try depthwise(stem: 18)
    #expect(fast.term == .compute(.depthwise, .fp32))
    #expect(slow.term == .compute(.depthwise, .fp32, generic: true))
    let ratio = (slow.milliseconds / Double(slowLayer.effectiveMACs)) / (fast.milliseconds / Double(fastLayer.effectiveMACs))
    #expect(abs(ratio - 1 / t.genericEfficiency) < 1e-6 / t.genericEfficiency)
    // The generic kernel also pays per output row and kernel tap: at width 14, stride 1,
    // its work is the MACs times (14 + generic_row_elements) / 14.
    #expect(t.genericRowElements == 20)
    #expect(abs(Double(slowLayer.effectiveMACs) / Double(slowLayer.macs) - (14 + t.genericRowElements) / 14) < 1e-4)
    #expect(fastLayer.effectiveMACs == fastLayer.macs)
    // Targets without a vector width make no such distinction.
    #expect(try target("raspberry-pi-4").vectorChannels == nil)
}

@Test func coefficientsScaleTheirTerms() throws {
    let t = try target("host-cpu")
    let g = try baseGraph("fashion-mobilenet")
    let plain = LatencyModel(target: t).predict(g)
    let doubled = LatencyModel(target: t, coefficients: Coefficients(defaultValue: 2)).predict(g)
    #expect(abs(doubled.milliseconds - 2 * plain.milliseconds) < 1e-9)
    var slowOverhead = Coefficients.identity
    for p in Precision.allCases { for k in OperationKind.allCases { slowOverhead.values[.overhead(k, p)] = 3 } }
    let r = LatencyModel(target: t, coefficients: slowOverhead).predict(g)
    let extra = 2 * plain.layers.reduce(0) { $0 + $1.overheadMilliseconds }
    #expect(abs(r.milliseconds - plain.milliseconds - extra) < 1e-9)
}

// MARK: - NNLS

/// The NNLS optimum by brute force: every subset of free variables, unconstrained least
/// squares on it, keeping the best feasible one.
func bruteForceNNLS(_ a: [[Double]], _ b: [Double]) -> Double {
    let n = a[0].count
    var best = Double.infinity
    for mask in 0..<(1 << n) {
        let cols = (0..<n).filter { mask & (1 << $0) != 0 }
        let z = NNLS.leastSquares(a, b, columns: cols)
        if z.contains(where: { $0 < -1e-12 }) { continue }
        var x = [Double](repeating: 0, count: n)
        for (k, j) in cols.enumerated() { x[j] = z[k] }
        best = min(best, residual(a, b, x))
    }
    return best
}

func residual(_ a: [[Double]], _ b: [Double], _ x: [Double]) -> Double {
    var s = 0.0
    for (row, bi) in zip(a, b) {
        let r = zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } - bi
        s += r * r
    }
    return s.squareRoot()
}

@Test(arguments: 0..<40)
func nnlsMatchesBruteForce(_ seed: Int) {
    var rng = SeededGenerator(seed: UInt64(seed) &+ 100)
    func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1 }
    let n = 1 + seed % 6
    let m = n + 1 + seed % 5
    let a = (0..<m).map { _ in (0..<n).map { _ in uniform() } }
    let b = (0..<m).map { _ in uniform() }
    let s = NNLS.solve(a, b)
    #expect(s.x.allSatisfy { $0 >= 0 })
    #expect(abs(s.residualNorm - residual(a, b, s.x)) < 1e-9)
    #expect(s.residualNorm <= bruteForceNNLS(a, b) + 1e-9)
    // Karush-Kuhn-Tucker: the gradient A'(b - Ax) is <= 0 where x = 0 and 0 where x > 0.
    for j in 0..<n {
        var g = 0.0
        for i in 0..<m { g += a[i][j] * (b[i] - zip(a[i], s.x).reduce(0) { $0 + $1.0 * $1.1 }) }
        if s.x[j] > 1e-9 { #expect(abs(g) < 1e-8) } else { #expect(g < 1e-8) }
    }
}

@Test func nnlsReturnsTheLeastSquaresSolutionWhenItIsPositive() {
    // b = A [1, 2, 3] exactly.
    let a: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 2, 3]]
    let b = [1.0, 2, 3, 6, 14]
    let s = NNLS.solve(a, b)
    for (x, e) in zip(s.x, [1.0, 2, 3]) { #expect(abs(x - e) < 1e-12) }
    #expect(s.residualNorm < 1e-12)
}

@Test func nnlsClampsANegativeComponent() {
    // Unconstrained optimum of min (x1 - 1)^2 + (x2 + 1)^2 is (1, -1); with x >= 0, (1, 0).
    let s = NNLS.solve([[1, 0], [0, 1]], [1, -1])
    #expect(s.x == [1, 0])
}

// MARK: - Calibration

/// Candidates of the two validation spaces, with their graphs.
func syntheticGraphs(count: Int, seed: UInt64) throws -> [NetworkGraph] {
    var out: [NetworkGraph] = []
    for name in ["fashion-mobilenet", "nas-bench-macro"] {
        let s = try space(name)
        out += s.sample(count: count / 2, seed: seed).map { NetworkGraph.build(compressed: $0, in: s) }
    }
    return out
}

@Test(arguments: ["raspberry-pi-4", "host-cpu"])
func calibrationRecoversKnownCoefficientsFromSyntheticMeasurements(_ name: String) throws {
    let t = try target(name)
    let model = LatencyModel(target: t)
    let graphs = try syntheticGraphs(count: 140, seed: 21)
    let features = graphs.map(model.features)
    // True coefficients: each term its own multiplier in [0.4, 2.5].
    var rng = SeededGenerator(seed: 5)
    var truth = Coefficients(defaultValue: 1)
    for term in features.reduce(into: Set<LatencyTerm>(), { $0.formUnion($1.terms) }).sorted() {
        truth.values[term] = 0.4 + 2.1 * Double(rng.next() >> 11) / Double(1 << 53)
    }
    // Measurements the model itself generates, with ±2% noise.
    let samples = features.enumerated().map { i, f in
        let noise = 1 + 0.04 * (Double(rng.next() >> 11) / Double(1 << 53) - 0.5)
        return CalibrationSample(features: f, measuredMilliseconds: f.milliseconds(with: truth) * noise, label: "synthetic \(i)")
    }
    let train = Array(samples.prefix(100)), test = Array(samples.dropFirst(100))
    let cal = try Calibrator().fit(samples: train, target: t)
    let predicted = test.map { $0.features.milliseconds(with: cal.coefficients) }
    let q = FitQuality(predicted: predicted, measured: test.map(\.measuredMilliseconds))
    #expect(q.withinTenPercent == 1, "\(q)")
    #expect(q.medianRelativeError < 0.02, "\(q)")
    #expect(q.spearman > 0.99)
    // Terms that carry a real share of the time are recovered individually, where they
    // can be told apart: with a blocked layout, layout conversions happen almost only at
    // pointwise layers, so only their sum is determined.
    if t.blockChannels != nil { return }
    var share: [LatencyTerm: Double] = [:]
    for s in train {
        for (term, ms) in s.features.termTotals(with: truth) { share[term, default: 0] += truth[term] * ms / s.measuredMilliseconds / Double(train.count) }
    }
    let big = share.filter { $0.value > 0.1 }
    #expect(!big.isEmpty)
    for (term, _) in big {
        let rel = abs(cal.coefficients[term] - truth[term]) / truth[term]
        #expect(rel < 0.15, "\(term) (share \(share[term]!)): fitted \(cal.coefficients[term]), true \(truth[term])")
    }
}

@Test func calibrationWithFewSamplesKeepsTheProfilesProportions() throws {
    // Five samples from a profile that is uniformly 1.7x too fast: the fit is a rescale.
    let t = try target("raspberry-pi-4")
    let model = LatencyModel(target: t)
    let graphs = try syntheticGraphs(count: 60, seed: 8)
    let samples = graphs.map { model.sample($0, measuredMilliseconds: 1.7 * model.features($0).milliseconds()) }
    let cal = try Calibrator().fit(samples: Array(samples.prefix(5)), target: t)
    for s in samples.dropFirst(5) {
        let p = s.features.milliseconds(with: cal.coefficients)
        #expect(abs(p / s.measuredMilliseconds - 1) < 0.02)
    }
    #expect(abs(cal.scale - 1.7) < 0.05)
}

@Test func calibrationRefusesTooFewOrBadMeasurements() throws {
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let g = try baseGraph("fashion-mobilenet")
    #expect(throws: CalibrationError.self) { try Calibrator().fit(samples: [model.sample(g, measuredMilliseconds: 1)], target: t) }
    do {
        _ = try Calibrator().fit(samples: [model.sample(g, measuredMilliseconds: 1), model.sample(g, measuredMilliseconds: -2, label: "m.csv:3")], target: t)
        Issue.record("expected an error")
    } catch {
        #expect(error.place == "m.csv:3")
        #expect(error.description.contains("positive"))
    }
}

@Test func calibrationFileRoundTripsAndBelongsToItsTarget() throws {
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let graphs = try syntheticGraphs(count: 20, seed: 3)
    let cal = try Calibrator().fit(samples: graphs.map { model.sample($0, measuredMilliseconds: 0.8 * model.features($0).milliseconds()) }, target: t)
    let text = cal.json.text(pretty: true)
    let back = try Calibration.parse(json: text, file: "host-cpu.calibration.json")
    #expect(back.coefficients.values.count == cal.coefficients.values.count)
    for (k, v) in cal.coefficients.values { #expect(abs(back.coefficients[k] - v) <= 1e-12 * max(1, v)) }
    #expect(back.scale == cal.scale && back.target == "host-cpu" && back.samples == 20)
    try back.check(against: t)
    #expect(throws: CalibrationError.self) { try back.check(against: try target("raspberry-pi-4")) }
    var changed = t
    changed.overhead.layerMicroseconds += 1
    #expect(throws: CalibrationError.self) { try back.check(against: changed) }
    let calibrated = LatencyModel(target: t, calibration: back)
    #expect(abs(calibrated.predict(graphs[0]).milliseconds - 0.8 * model.predict(graphs[0]).milliseconds) < 0.02 * model.predict(graphs[0]).milliseconds)
    #expect(throws: CalibrationError.self) { try Calibration.parse(json: #"{"format":1,"target":"x","scale":1,"lambda":1,"samples":2,"coefficients":{"warp.drive":1}}"#, file: "c.json") }
}

@Test func latencyTermNamesRoundTrip() {
    var terms: [LatencyTerm] = [.mainMemory, .cacheMemory, .stream, .inference, .layout, .layoutTraffic, .quantize, .quantizeTraffic]
    for p in Precision.allCases { for k in OperationKind.allCases { terms += [.compute(k, p), .compute(k, p, generic: true), .overhead(k, p)] } }
    for t in terms { #expect(LatencyTerm(name: t.name) == t) }
    #expect(LatencyTerm(name: "compute.conv") == nil)
    #expect(LatencyTerm(name: "memory.l9") == nil)
    #expect(LatencyTerm(name: "overhead.conv.fp32.generic") == nil)
    #expect(LatencyTerm(name: "compute.conv.fp32.generic")?.generic == true)
}

// MARK: - Statistics and CSV

@Test func spearmanAndShareWithinTenPercent() {
    #expect(FitQuality.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
    #expect(FitQuality.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
    #expect(FitQuality.ranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2])
    // ρ = 1 - 6 Σd² / (n(n²-1)) without ties: ranks (1,2,3,4,5) vs (2,1,4,3,5): Σd² = 4.
    #expect(abs(FitQuality.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - (1 - 6.0 * 4 / 120)) < 1e-12)
    let q = FitQuality(predicted: [1.05, 0.8, 2.0, 3.3], measured: [1, 1, 2, 3])
    #expect(q.withinTenPercent == 0.75)
    #expect(q.count == 4)
}

@Test func csvParsesQuotedFieldsAndNamesBadLines() throws {
    let text = "space,measured_ms,candidate\r\nfashion,0.5,\"{\"\"a\"\":1,\"\"b\"\":2}\"\nmacro,1.25,\"two\nlines\"\n"
    let t = try CSVTable.parse(text, file: "m.csv")
    #expect(t.header == ["space", "measured_ms", "candidate"])
    #expect(t.rows.count == 2)
    #expect(t.rows[0].fields[2] == #"{"a":1,"b":2}"#)
    #expect(t.rows[1].fields[2] == "two\nlines")
    #expect(t.rows[1].line == 3)
    do {
        _ = try CSVTable.parse("a,b\n1,2\n3\n", file: "m.csv")
        Issue.record("expected an error")
    } catch {
        #expect(error.place == "m.csv:3")
    }
    #expect(throws: CalibrationError.self) { try CSVTable.parse("a,b\n\"open,2\n", file: "m.csv") }
}

// MARK: - Runtime structure: overlap, float islands in quantized networks, layouts by precision

/// A one-block MobileNet-style network on 14x14 inputs with the given activation, for the
/// tests of activation costs and quantize/dequantize conversions.
/// A stem and one inverted-residual block (expansion 3: the depthwise convolution has
/// 3 x `stem` channels) on a 14x14 input.
func oneBlockNetwork(activation: String = "relu", se: Bool = false, bits: Int = 32, stem: Int = 16, width: Int = 32, kernel: Int = 3) throws -> NetworkGraph {
    let yaml = """
        name: act
        input: {channels: 3, size: 14}
        classes: 10
        network: mobilenet
        stem: {kernel: 3, stride: 1, width: \(stem), activation: relu}
        stages:
          - {name: s1, stride: 1, depth: 1, width: \(width), block: {kernel: \(kernel), expansion: 3, se: \(se), activation: \(activation)}}
        head:
          - {type: pool}
          - {type: linear}
        """
    let s = try SearchSpace.parse(yaml: yaml, file: "act.yaml")
    let g = NetworkGraph.build(s.sample(count: 1, seed: 1)[0], in: s)
    return bits == 32 ? g : g.compressed(config(weightBits: bits, activationBits: bits))
}

@Test func withoutOverlapALayerTakesComputePlusTraffic() throws {
    var t = try target("host-cpu")
    #expect(t.memory.overlap == false)
    let g = try oneBlockNetwork(activation: "relu")
    let sequential = LatencyModel(target: t).predict(g)
    t.memory.overlap = true
    let overlapped = LatencyModel(target: t).predict(g)
    for (a, b) in zip(sequential.layers, overlapped.layers) {
        #expect(abs(a.milliseconds - b.milliseconds - min(a.computeMilliseconds, a.memoryMilliseconds)) < 1e-12)
    }
    #expect(sequential.milliseconds > overlapped.milliseconds)
    // Calibration's linear form counts both parts of every layer.
    let f = LatencyModel(target: try target("host-cpu")).features(g)
    let totals = f.termTotals()
    #expect(totals[.cacheMemory, default: 0] + totals[.mainMemory, default: 0] == f.layers.reduce(0) { $0 + $1.memory.milliseconds })
    #expect(abs(totals.values.reduce(0, +) - f.milliseconds()) < 1e-12)
    // Parsed from the profile; the default is overlap.
    #expect(try HardwareTarget.parse(yaml: minimalTarget, file: "t.yaml").memory.overlap)
}

@Test func activationsCostTheirArithmetic() throws {
    let model = LatencyModel(target: try target("raspberry-pi-4"))
    let relu = model.predict(try oneBlockNetwork(activation: "relu"))
    let hswish = model.predict(try oneBlockNetwork(activation: "hswish"))
    // Same shapes and MACs; hard-swish costs four operations per element, ReLU one.
    #expect(relu.layers.map(\.macs) == hswish.layers.map(\.macs))
    #expect(hswish.milliseconds > relu.milliseconds)
    #expect(LatencyModel.activationOps(.hswish) == 4 && LatencyModel.activationOps(.relu) == 1)
}

@Test func floatActivationsInQuantizedNetworksCostAConversionPair() throws {
    let t = try target("host-cpu")
    #expect(t.floatActivations == [.hswish, .hsigmoid])
    let model = LatencyModel(target: t)
    func conversions(_ r: LatencyReport) -> Int { r.layers.reduce(0) { $0 + $1.floatActivations } }
    let hswish8 = model.predict(try oneBlockNetwork(activation: "hswish", bits: 8))
    let relu8 = model.predict(try oneBlockNetwork(activation: "relu", bits: 8))
    let hswish32 = model.predict(try oneBlockNetwork(activation: "hswish"))
    // The block's expansion and depthwise layers each end in a hard-swish.
    #expect(conversions(hswish8) == 2)
    #expect(conversions(relu8) == 0 && conversions(hswish32) == 0)
    let f = model.features(try oneBlockNetwork(activation: "hswish", bits: 8))
    let islands = f.layers.filter { !$0.quantize.isEmpty }
    #expect(islands.count == 2)
    for l in islands {
        // Hard-swish in float is a dequantize that a hard-sigmoid and a multiply share,
        // then one quantize: four operators' fixed cost, two conversions' traffic.
        let fixed = l.quantize.first { $0.term == .quantize }!
        #expect(abs(fixed.milliseconds - 4 * t.overhead.weightlessMicroseconds / 1e3) < 1e-12)
        #expect(l.quantize.contains { $0.term == .quantizeTraffic && $0.milliseconds > 0 })
        // The activation's arithmetic runs at the float rate.
        #expect(l.compute.contains { $0.term == .compute(.elementwise, .fp32) })
    }
    // The float input is quantized and the output dequantized, once each; the integer
    // region is channels-last: the input and the head's feature map are transposed.
    #expect(f.fixed.filter { $0.term == .quantize }.count == 2)
    #expect(t.quantizedChannelsLast)
    let transposes = try #require(f.fixed.first { $0.term == .layout })
    #expect(abs(transposes.milliseconds - 2 * t.overhead.weightlessMicroseconds / 1e3) < 1e-12)
    #expect(model.features(try oneBlockNetwork(activation: "hswish")).fixed.allSatisfy { $0.term != .layout })
    #expect(model.features(try oneBlockNetwork(activation: "hswish")).fixed.allSatisfy { $0.term != .quantize })
    // The squeeze-excite gate's hard-sigmoid is another island.
    #expect(conversions(model.predict(try oneBlockNetwork(activation: "relu", se: true, bits: 8))) == 1)
    // A target that does not list float activations runs quantized networks end to end.
    let pi = LatencyModel(target: try target("raspberry-pi-4")).predict(try oneBlockNetwork(activation: "hswish", bits: 8))
    #expect(conversions(pi) == 0 && pi.layers.allSatisfy { $0.quantizeMilliseconds == 0 })
}

@Test func quantizedLayersTakeTheirOwnOverheadEfficiencyAndNoBlockedLayout() throws {
    let t = try target("host-cpu")
    #expect(t.overhead.quantizedLayerMicroseconds == 4 && t.overhead.weightlessLayerMicroseconds == 1 && t.layoutPrecisions == [.fp32])
    let model = LatencyModel(target: t)
    let g8 = try oneBlockNetwork(activation: "relu", bits: 8)
    let r8 = model.predict(g8)
    let r32 = model.predict(try oneBlockNetwork(activation: "relu"))
    #expect(r8.precision == .int8)
    // Layers with weights: 4 µs quantized, 2 µs float; pooling and adds 1 µs in both.
    for r in [r8, r32] {
        for l in r.layers {
            let us = !l.kind.hasWeights ? 1.0 : r.precision == .int8 ? 4.0 : 2.0
            #expect(abs(l.overheadMilliseconds - us / 1e3) < 1e-12, "\(l.name) \(l.kind)")
        }
    }
    #expect(r8.layers.contains { !$0.kind.hasWeights } && r8.layers.contains { $0.kind.hasWeights })
    // ONNX Runtime's quantized kernels use the plain layout: no reorders, no padding.
    // (The generic integer path counts more work than its MACs: below.)
    let fast8 = model.features(g8).layers.indices.filter { model.features(g8).layers[$0].compute.allSatisfy { !$0.term.generic } }
    #expect(r8.layers.allSatisfy { $0.layoutConversions == 0 } && fast8.allSatisfy { r8.layers[$0].effectiveMACs == r8.layers[$0].macs })
    #expect(r32.layers.contains { $0.layoutConversions > 0 })
    // Depthwise int8 at its own efficiency (a quarter of the float one's share of peak).
    let dw8 = try #require(model.features(g8).layers[r8.layers.firstIndex { $0.kind == .depthwise }!].compute.first)
    let dw = try #require(r8.layers.first { $0.kind == .depthwise })
    let expected = 2 * Double(dw.effectiveMACs) / (t.peakGOPS[.int8]! * 1e9 * t.quantizedEfficiency[.depthwise]!) * 1e3
    #expect(dw8.term == .compute(.depthwise, .int8) && abs(dw8.milliseconds - expected) < 1e-12)
    #expect(t.efficiency(.depthwise, .fp32) == t.efficiency[.depthwise] && t.efficiency(.pointwise, .int8) == t.efficiency[.pointwise])
    #expect(t.efficiency(.conv, .int8) == t.quantizedEfficiency[.conv] && t.efficiency(.conv, .fp32) == t.efficiency[.conv])
    // A dense convolution of the network's input (the stem's 1 or 3 channels) runs the
    // generic kernel at int8 only: the float kernel reads the image directly.
    let stem8 = model.features(g8).layers[0].compute[0].term
    let stem32 = model.features(try oneBlockNetwork(activation: "relu")).layers[0].compute[0].term
    #expect(stem8 == .compute(.conv, .int8, generic: true) && stem32 == .compute(.conv, .fp32))
}

@Test func quantizedDepthwiseKernelsHaveTheirOwnGenericPenalty() throws {
    let t = try target("host-cpu")
    let g = try #require(t.quantizedGenericEfficiency)
    #expect(g != t.genericEfficiency)
    // Depthwise 3x3 over 54 channels (not a multiple of 4) against 48, at int8 and fp32.
    func ratio(bits: Int) throws -> Double {
        func perMAC(_ stem: Int) throws -> Double {
            let graph = try oneBlockNetwork(bits: bits, stem: stem, width: 16, kernel: 3)
            let model = LatencyModel(target: t)
            let r = model.predict(graph)
            let i = try #require(r.layers.firstIndex { $0.kind == .depthwise })
            return model.features(graph).layers[i].compute[0].milliseconds / Double(r.layers[i].effectiveMACs)
        }
        return try perMAC(18) / perMAC(16)
    }
    #expect(abs(try ratio(bits: 32) - 1 / t.genericEfficiency) < 1e-6 / t.genericEfficiency)
    #expect(abs(try ratio(bits: 8) - 1 / g) < 1e-6 / g)
}

@Test func quantizedConvolutionsOfUnsuitedShapesRunTheGenericIntegerPath() throws {
    // ONNX Runtime's fast int8 convolution wants input channels in 4s, output channels
    // in 4s and at least 16, depthwise channels in 16s (host-cpu's kernel_channels).
    let t = try target("host-cpu")
    let q = try #require(t.quantizedKernelChannels)
    #expect(q == .init(input: 4, output: 4, minOutput: 16, depthwise: 16))
    #expect(q.fast(inChannels: 16, outChannels: 96, groups: 1) && !q.fast(inChannels: 6, outChannels: 96, groups: 1))
    #expect(!q.fast(inChannels: 96, outChannels: 6, groups: 1) && !q.fast(inChannels: 96, outChannels: 8, groups: 1))
    #expect(q.fast(inChannels: 48, outChannels: 48, groups: 48) && !q.fast(inChannels: 72, outChannels: 72, groups: 72))
    // Stem width 24, expansion 3: a 72-channel depthwise convolution (a multiple of the
    // float kernels' 4, not of 16), then 1x1 convolutions factorized to ranks 3 and 2.
    let yaml = """
        name: q8
        input: {channels: 3, size: 14}
        classes: 10
        network: mobilenet
        stem: {kernel: 3, stride: 1, width: 24, activation: relu}
        stages:
          - {name: s1, stride: 1, depth: 1, width: 16, block: {kernel: 3, expansion: 3}}
        head:
          - {type: pool}
          - {type: linear}
        """
    let s = try SearchSpace.parse(yaml: yaml, file: "q8.yaml")
    let g32 = NetworkGraph.build(s.sample(count: 1, seed: 1)[0], in: s)
    var c = config(weightBits: 8, activationBits: 8)
    c.rankRatio = 0.2
    let g8 = g32.compressed(c)
    let model = LatencyModel(target: t)
    func terms(_ g: NetworkGraph, _ kind: OperationKind) -> [LatencyTerm] {
        let r = model.predict(g), f = model.features(g)
        return r.layers.indices.filter { r.layers[$0].kind == kind }.map { f.layers[$0].compute[0].term }
    }
    #expect(terms(g32, .depthwise) == [.compute(.depthwise, .fp32)])
    #expect(terms(g8, .depthwise) == [.compute(.depthwise, .int8, generic: true)])
    // Every 1x1 convolution of the factorized int8 network has a factor of 2 or 3
    // channels on one side; the float ones stay on the fast kernels.
    let pw8 = terms(g8, .pointwise)
    #expect(!pw8.isEmpty && pw8.allSatisfy { $0 == .compute(.pointwise, .int8, generic: true) })
    #expect(terms(g32.compressed(CompressionConfig()), .pointwise).allSatisfy { $0 == .compute(.pointwise, .fp32) })
    // Without kernel_channels the integer kernels follow the float rule (no 1x1 penalty).
    var plain = t
    plain.quantizedKernelChannels = nil
    let rp = LatencyModel(target: plain).predict(g8), fp = LatencyModel(target: plain).features(g8)
    #expect(rp.layers.indices.filter { rp.layers[$0].kind == .pointwise }.allSatisfy { fp.layers[$0].compute[0].term == .compute(.pointwise, .int8) })
    #expect(t.fingerprint != plain.fingerprint)
}

@Test func blockedConvolutionsSumTheirResidualAdd() throws {
    // NAS-Bench-Macro's residual blocks end in conv+bn, add, relu: on host-cpu the add
    // is accumulated into the convolution (no dispatch, only the skip tensor read).
    let g = try baseGraph("nas-bench-macro")
    let host = LatencyModel(target: try target("host-cpu"))
    let r = host.predict(g)
    let adds = r.layers.filter { if case .add = g.nodes[$0.nodes.lowerBound].op { return true } else { return false } }
    try #require(!adds.isEmpty)
    for a in adds {
        #expect(a.overheadMilliseconds == 0)
        #expect(a.bytes == g.nodes[a.nodes.lowerBound].shape.elements * 4)
    }
    // Without a blocked layout, or at int8 where host-cpu's kernels are plain, the add is an operator.
    let pi = LatencyModel(target: try target("raspberry-pi-4")).predict(g)
    #expect(pi.layers.filter { if case .add = g.nodes[$0.nodes.lowerBound].op { return true } else { return false } }.allSatisfy { $0.overheadMilliseconds > 0 })
    let g8 = g.compressed(config(weightBits: 8, activationBits: 8))
    let r8 = host.predict(g8)
    #expect(r8.layers.filter { if case .add = g8.nodes[$0.nodes.lowerBound].op { return true } else { return false } }.allSatisfy { $0.overheadMilliseconds > 0 })
}

@Test func theGenericIntegerPathPaysPerPositionTapAndLeftOverChannel() throws {
    // ONNX Runtime's generic depthwise int8 kernel steps through 8 channels at a time and
    // then one by one at every output position and tap; its generic dense path packs an
    // im2col row per position and requantizes separately (host-cpu's generic_costs).
    let t = try target("host-cpu")
    let g = try #require(t.quantizedGenericCosts)
    #expect(g.depthwiseLanes == 8 && g.positionMACs > 0 && g.im2colMACs > 0 && g.depthwiseRemainderMACs > 1 && g.depthwiseTapMACs > 0)
    let model = LatencyModel(target: t)
    var plain = t
    plain.quantizedGenericCosts = nil
    let without = LatencyModel(target: plain)
    func layer(_ m: LatencyModel, stem: Int, _ kind: OperationKind) throws -> (LayerLatency, LatencyFeatures.Layer) {
        let net = try oneBlockNetwork(bits: 8, stem: stem)
        let r = m.predict(net), i = try #require(r.layers.firstIndex { $0.kind == kind })
        return (r.layers[i], m.features(net).layers[i])
    }
    // Stem 4 and 8, expansion 3: 12 and 24 depthwise channels, 14x14 outputs, 3x3 taps.
    let (d12, f12) = try layer(model, stem: 4, .depthwise), (d24, _) = try layer(model, stem: 8, .depthwise)
    #expect(f12.compute[0].term == .compute(.depthwise, .int8, generic: true))
    let w12 = 196 * (9 * (8 + 4 * g.depthwiseRemainderMACs + g.depthwiseTapMACs) + 12 * g.depthwiseOutputMACs)
    #expect(d12.effectiveMACs == Int(w12.rounded()))
    // Per MAC, 12 channels cost more than twice what 24 do (measured: 3.3x).
    #expect(Double(d12.effectiveMACs) / Double(d12.macs) > 2 * Double(d24.effectiveMACs) / Double(d24.macs))
    // The stem reads 3 channels (generic): 196 positions, a 27-element im2col row, 8 outputs.
    let (stem, fs) = try layer(model, stem: 8, .conv)
    #expect(stem.effectiveMACs == stem.macs + Int((196 * (g.positionMACs + 27 * g.im2colMACs + 8 * g.outputMACs)).rounded()))
    // Its multiply-adds run at the GEMM's (pointwise) efficiency, not the dense kernel's.
    let peak = t.peakGOPS[.int8]! * 1e9
    let expected = 2 * Double(stem.effectiveMACs) / (peak * t.efficiency(.pointwise, .int8) * t.quantizedGenericEfficiency!) * 1e3
    #expect(abs(fs.compute[0].milliseconds - expected) < 1e-12 * max(1, expected))
    // The separate requantization is in those costs: the layer's element-wise part is
    // its ReLU alone (4 requantize operations per element more without the costs).
    let (_, p12) = try layer(without, stem: 4, .depthwise)
    let ew = f12.compute.first { $0.term == .compute(.elementwise, .int8) }!.milliseconds
    let ewPlain = p12.compute.first { $0.term == .compute(.elementwise, .int8) }!.milliseconds
    #expect(abs(ewPlain / ew - 5) < 1e-9)
    // Without the costs the generic path's work is its MACs.
    #expect(try layer(without, stem: 4, .depthwise).0.effectiveMACs == d12.macs)
    // The fast kernels are untouched: 48 depthwise channels.
    let (d48, _) = try layer(model, stem: 16, .depthwise)
    #expect(d48.effectiveMACs == d48.macs)
}

@Test func aFloatPointwiseConvolutionOfFewerInputChannelsThanABlockRunsTheSlowerPlainInputKernel() throws {
    // host-cpu: blocks of 16 channels; a 1x1 convolution reading 8 channels (stem 8) takes
    // ONNX Runtime's NCHWc kernel for a plain input at plain_input_efficiency.
    let t = try target("host-cpu")
    let plain = try #require(t.plainInputEfficiency)
    #expect(plain < 1 && t.blockChannels == 16)
    let model = LatencyModel(target: t)
    func expand(stem: Int, _ m: LatencyModel) throws -> (LayerLatency, TermTime) {
        let g = try oneBlockNetwork(stem: stem)
        let r = m.predict(g), i = try #require(r.layers.firstIndex { $0.kind == .pointwise })
        return (r.layers[i], m.features(g).layers[i].compute[0])
    }
    let (l8, c8) = try expand(stem: 8, model), (_, c16) = try expand(stem: 16, model)
    #expect(c8.term == .compute(.pointwise, .fp32, generic: true))
    #expect(c16.term == .compute(.pointwise, .fp32))
    let peak = t.peakGOPS[.fp32]! * 1e9
    let expected = 2 * Double(l8.effectiveMACs) / (peak * t.efficiency(.pointwise, .fp32) * plain) * 1e3
    #expect(abs(c8.milliseconds - expected) < 1e-12 * max(1, expected))
    // Without the key the kernel is the blocked one; int8 networks are not laid out.
    var same = t
    same.plainInputEfficiency = nil
    let (_, s8) = try expand(stem: 8, LatencyModel(target: same))
    #expect(s8.term == .compute(.pointwise, .fp32) && abs(c8.milliseconds * plain - s8.milliseconds) < 1e-12)
    let q = try oneBlockNetwork(bits: 8, stem: 8)
    let rq = model.predict(q), iq = try #require(rq.layers.firstIndex { $0.kind == .pointwise })
    #expect(model.features(q).layers[iq].compute[0].term.precision == .int8)
}

@Test func aRuntimeThatConvertsFloatNetworksRunsThemAtItsPrecision() throws {
    // The Edge TPU profile with a toolchain that quantizes float networks itself: a float
    // network fits and costs what the int8 one does.
    let yaml = try String(contentsOfFile: Paths.target("edge-tpu"), encoding: .utf8)
    let converting = try HardwareTarget.parse(yaml: yaml + "float_runs_as: int8\n", file: "npu.yaml")
    let plain = try target("edge-tpu")
    #expect(converting.floatRunsAs == .int8 && converting.fingerprint != plain.fingerprint)
    let model = LatencyModel(target: converting)
    let base = try baseGraph("nas-bench-macro")
    let fp32 = model.predict(base.compressed(config()))
    let int8 = model.predict(base.compressed(config(weightBits: 8, activationBits: 8)))
    #expect(fp32.fits, "\(fp32.problems)")
    #expect(fp32.precision == .int8 && abs(fp32.milliseconds - int8.milliseconds) <= 1e-9 * int8.milliseconds)

    // A GPU delegate that computes float networks at fp16 although fp32 is listed.
    let gpu = try HardwareTarget.parse(yaml: minimalTarget.replacingOccurrences(of: "compute: {fp32: 10}", with: "compute: {fp32: 10, fp16: 100}")
                                           + "float_runs_as: fp16\n", file: "gpu.yaml")
    let half = LatencyModel(target: gpu).predict(base.compressed(config()))
    #expect(half.precision == .fp16 && half.fits)

    // It must be one of the target's narrower precisions.
    #expect(throws: TargetError.self) { try HardwareTarget.parse(yaml: minimalTarget + "float_runs_as: fp16\n", file: "bad.yaml") }
    do {
        _ = try HardwareTarget.parse(yaml: yaml + "float_runs_as: fp16\n", file: "bad.yaml")
        Issue.record("fp16 is not among the Edge TPU's precisions")
    } catch {
        #expect(error.description.contains("bad.yaml") && error.description.contains("float_runs_as") && error.description.contains("int8"))
    }
}
