import TopiaryCore

/// Predicts latency, energy, memory and feasibility of networks on one target, before
/// anything is trained. Pure: no I/O, no clocks.
///
/// Per fused layer (a convolution with its batch norm and activation, as the cost
/// report groups them): the larger of compute time — operations over the peak of the
/// precision it runs at times the operation kind's efficiency — and memory time — bytes
/// in and out over the bandwidth of the cache (when the layer's working set fits) or
/// main memory — plus a fixed per-layer overhead; then a fixed per-inference cost and
/// the time to stream weights that do not fit an accelerator's on-chip memory.
/// Quantization speeds a layer up only when the target has a narrower precision that
/// holds its weights and activations; magnitude sparsity only when it has sparse
/// kernels; channel pruning and low-rank factorization act through the smaller graph.
/// `coefficients` (from `Calibrator`) scale each term; 1 is the profile as written.
public struct LatencyModel: Sendable, Equatable {
    public var target: HardwareTarget
    public var coefficients: Coefficients
    /// Where a calibration chose a straight line (or a blend) over the per-layer model,
    /// the total follows it and the layers keep their shares of it.
    public var calibration: Calibration?
    /// A kernel sweep of the device (`topiary target profile`): networks' kernel sums,
    /// for a calibration that chose the `kernel-sum` form (and for choosing it).
    public var kernels: KernelProfile?

    public init(target: HardwareTarget, coefficients: Coefficients = .identity) {
        self.target = target
        self.coefficients = coefficients
    }

    /// The model with a calibration's coefficients and chosen form (see
    /// `Calibration.check(against:)`).
    public init(target: HardwareTarget, calibration: Calibration?) {
        self.init(target: target, coefficients: calibration?.coefficients ?? .identity)
        self.calibration = calibration
    }

    /// The prediction for a candidate of a space (built and compressed first).
    public func predict(_ candidate: Candidate, in space: SearchSpace) -> LatencyReport {
        predict(NetworkGraph.build(compressed: candidate, in: space))
    }

    /// The prediction for a (compressed) network graph.
    public func predict(_ graph: NetworkGraph) -> LatencyReport { predict(graph, cost: graph.cost()) }

    /// The prediction for a graph whose cost report the caller already has.
    public func predict(_ graph: NetworkGraph, cost: CostReport) -> LatencyReport {
        let a = analyze(graph, cost: cost)
        let c = coefficients
        var layers: [LayerLatency] = []
        layers.reserveCapacity(a.layers.count)
        for (l, f) in zip(a.layers, a.features.layers) {
            // Each part once (the daemon predicts every candidate it draws); the sums are
            // those of `f.milliseconds(c)` and `f.isComputeBound(c)`, in the same order.
            var out = l
            let compute = f.computeMilliseconds(c), memory = f.memoryMilliseconds(c)
            out.computeMilliseconds = compute
            out.memoryMilliseconds = memory
            out.overheadMilliseconds = c[f.overhead.term] * f.overhead.milliseconds
            out.layoutMilliseconds = f.layoutMilliseconds(c)
            out.quantizeMilliseconds = f.quantizeMilliseconds(c)
            out.computeBound = !f.overlap || compute >= memory
            out.overlapped = f.overlap
            out.milliseconds = (f.overlap ? max(compute, memory) : compute + memory) + out.overheadMilliseconds
                + out.layoutMilliseconds + out.quantizeMilliseconds
            layers.append(out)
        }
        var fixed = a.features.fixed.reduce(0) { $0 + c[$1.term] * $1.milliseconds }
        var total = layers.reduce(fixed) { $0 + $1.milliseconds }
        if let cal = calibration, cal.form != .perLayer, total > 0 {
            let calibrated = cal.milliseconds(perLayer: total, summary: a.features.summary)
            let r = calibrated / total
            for i in layers.indices {
                layers[i].computeMilliseconds *= r
                layers[i].memoryMilliseconds *= r
                layers[i].overheadMilliseconds *= r
                layers[i].layoutMilliseconds *= r
                layers[i].quantizeMilliseconds *= r
                layers[i].milliseconds *= r
            }
            fixed *= r
            total = calibrated
        }
        return LatencyReport(target: target.name, milliseconds: total, fixedMilliseconds: fixed, layers: layers,
                             energyMillijoules: target.power.activeWatts * total, weightBytes: a.weightBytes,
                             runtimeWeightBytes: a.runtimeWeightBytes, peakActivationBytes: a.peakActivationBytes,
                             precision: a.precision, problems: a.problems)
    }

    /// The network's cost split into the model's terms, for calibration.
    public func features(_ graph: NetworkGraph) -> LatencyFeatures { analyze(graph).features }

    /// The feasibility checks alone.
    public func problems(_ graph: NetworkGraph) -> [Infeasibility] { analyze(graph).problems }

    struct Analysis {
        var features: LatencyFeatures
        var layers: [LayerLatency]
        var weightBytes: Int
        var runtimeWeightBytes: Int
        var peakActivationBytes: Int
        var precision: Precision
        var problems: [Infeasibility]
    }

    func analyze(_ graph: NetworkGraph, cost: CostReport? = nil) -> Analysis {
        let cost = cost ?? graph.cost()
        let t = target
        let widest = t.precisions.last!
        var problems: [Infeasibility] = []
        var features: [LatencyFeatures.Layer] = []
        var layers: [LayerLatency] = []
        features.reserveCapacity(cost.layers.count)
        layers.reserveCapacity(cost.layers.count)
        var runtimeWeightBits = 0
        var used = t.precisions.first!
        let cacheBytes = t.memory.cacheBytes ?? 0
        // Layers without weights (pooling, adds, activations) run at the precision of the
        // network's weights: an 8-bit activation between float layers stays float.
        var networkWeightBits = 0
        for n in graph.nodes where n.weightCount > 0 { networkWeightBits = max(networkWeightBits, n.weights?.bits ?? 32) }
        if networkWeightBits == 0 { networkWeightBits = graph.activationBits }
        let layout = t.blockChannels.map { layoutConversions(graph, block: $0) }
        let conversions = layout?.conversions ?? [:]
        // Residual adds that a blocked-layout convolution accumulates into its output
        // (ONNX Runtime's NCHWc convolution with a Sum input, oneDNN's sum post-op).
        let fusedAdds = layout.map { summedAdds(graph, layers: cost.layers, blocked: $0.blocked) } ?? [:]
        for layer in cost.layers {
            guard let kind = OperationKind(layer.category) else { continue }
            let first = graph.nodes[layer.nodes.lowerBound]
            let weights = first.weightCount
            let weightBits = kind.hasWeights ? (first.weights?.bits ?? 32) : networkWeightBits
            let precision: Precision
            if let p = t.executionPrecision(weightBits: weightBits, activationBits: graph.activationBits) {
                precision = p
            } else {
                precision = widest
                if !problems.contains(where: { if case .precisionUnsupported = $0 { return true } else { return false } }) {
                    problems.append(.precisionUnsupported(layer: layer.name, neededBits: max(weightBits, graph.activationBits), supported: t.precisions))
                }
            }
            used = max(used, precision)
            let peak = t.peakGOPS[precision]! * 1e9

            // Work: MACs (fewer with sparse kernels) and element-wise operations that are
            // not folded away (batch norm right after a convolution is folded into it).
            var macs = Double(layer.macs)
            // In a blocked layout a convolution computes whole blocks of output channels.
            let laidOut = t.usesLayout(precision)
            if let b = t.blockChannels, laidOut, layout?.blocked[layer.nodes.lowerBound] == true, case .conv(let conv) = first.op,
               conv.groups == 1, conv.outChannels % b != 0 {
                macs *= Double((conv.outChannels + b - 1) / b * b) / Double(conv.outChannels)
            }
            let zeros = first.weights?.zeros ?? 0
            let sparse = t.sparsity.unstructured && kind.hasWeights && kind != .depthwise && zeros > 0
            if sparse { macs -= t.sparsity.efficiency * Double(layer.macs - layer.sparseMACs) }
            var elementwise = layer.elementwiseOps
            if kind.hasWeights {
                for i in layer.nodes where i > layer.nodes.lowerBound {
                    if case .batchNorm = graph.nodes[i].op, graph.nodes[i].inputs[0] == i - 1, graph.nodes[i - 1].weightCount > 0 {
                        elementwise -= graph.nodes[i].shape.elements
                    }
                }
            }
            // Activation functions cost their arithmetic per element (a ReLU one operation,
            // a hard-swish four, a sigmoid an exponential); in a quantized layer those
            // without an integer kernel run in float (below).
            var floatOps = 0
            for i in layer.nodes {
                guard case .activation(let fn) = graph.nodes[i].op else { continue }
                let ops = Self.activationOps(fn) * graph.nodes[i].shape.elements
                elementwise -= graph.nodes[i].shape.elements
                if precision.isInteger, t.floatActivations?.contains(fn) == true { floatOps += ops } else { elementwise += ops }
            }
            // Channels that do not fit the vector width send a convolution to a generic kernel.
            // A float dense convolution reads the network's own input directly (a stem of 1
            // or 3 channels); an integer one has no such path.
            var generic = false
            if precision.isInteger, let q = t.quantizedKernelChannels, case .conv(let conv) = first.op {
                generic = !q.fast(inChannels: conv.inChannels, outChannels: conv.outChannels, groups: conv.groups)
            } else if let v = t.vectorChannels, case .conv(let conv) = first.op, conv.kernel > 1 {
                generic = conv.groups > 1 ? conv.inChannels % v != 0
                    : (conv.inChannels % v != 0 && (first.inputs[0] != 0 || precision.isInteger))
            }
            // A generic float depthwise kernel pays per output row and kernel tap (its
            // im2col): the row reads `stride` x width inputs plus a fixed cost.
            if generic, !precision.isInteger, t.genericRowElements > 0, case .conv(let conv) = first.op, conv.groups > 1 {
                let w = Double(max(1, first.shape.width))
                macs *= (w * Double(conv.stride) + t.genericRowElements) / w
            }
            // The generic integer path's per-position costs (im2col rows, its separate
            // requantization, depthwise steps); its dense convolutions are GEMMs at the
            // pointwise efficiency.
            var baseEfficiency = t.efficiency(kind, precision)
            var requantized = false
            if generic, precision.isInteger, let g = t.quantizedGenericCosts, case .conv(let conv) = first.op {
                macs = g.work(macs: macs, conv: conv, outHeight: first.shape.height, outWidth: first.shape.width)
                if conv.groups == 1 { baseEfficiency = t.efficiency(.pointwise, precision) }
                requantized = true
            }
            // Otherwise a quantized layer with weights accumulates in 32 bits and
            // requantizes its output as it writes it: scale, round, add the zero point, clamp.
            if precision.isInteger && kind.hasWeights && !requantized { elementwise += Self.requantizeOps * first.shape.elements }
            var genericEfficiency = precision.isInteger ? t.quantizedGenericEfficiency ?? t.genericEfficiency : t.genericEfficiency
            // A float 1x1 convolution whose input channels fill no block reads the plain
            // layout directly (ONNX Runtime's NCHWc kernel for an NCHW input, made for a
            // network's first layer): another, slower kernel.
            if !generic, !precision.isInteger, laidOut, let b = t.blockChannels, let plain = t.plainInputEfficiency, case .conv(let conv) = first.op,
               conv.groups == 1, conv.kernel == 1, conv.inChannels < b {
                generic = true
                genericEfficiency = plain
            }
            let efficiency = baseEfficiency * (generic ? genericEfficiency : 1)
            var compute: [TermTime] = []
            if kind.hasWeights {
                compute.append(TermTime(.compute(kind, precision, generic: generic), 2 * macs / (peak * efficiency) * 1e3))
                if elementwise > 0 {
                    compute.append(TermTime(.compute(.elementwise, precision), Double(elementwise) / (peak * t.efficiency(.elementwise, precision)) * 1e3))
                }
            } else {
                compute.append(TermTime(.compute(kind, precision), Double(elementwise) / (peak * t.efficiency(kind, precision)) * 1e3))
            }
            if floatOps > 0 {
                let fp = t.peakGOPS[.fp32] ?? t.peakGOPS[widest]!
                compute.append(TermTime(.compute(.elementwise, .fp32), Double(floatOps) / (fp * 1e9 * t.efficiency[.elementwise]!) * 1e3))
            }

            // Traffic: activations entering the layer and its output at the precision it
            // runs at, and the weights (as a bitmap plus non-zero values with sparse kernels).
            // A summed add only reads its other input, inside the convolution.
            let summed = laidOut ? fusedAdds[layer.nodes.lowerBound] : nil
            var inElements = 0
            for i in layer.nodes {
                for j in graph.nodes[i].inputs where !layer.nodes.contains(j) { inElements += graph.nodes[j].shape.elements }
            }
            let actBytes = summed.map { graph.nodes[$0].shape.elements * precision.bits / 8 }
                ?? (inElements + layer.output.elements) * precision.bits / 8
            let wBits = sparse ? weights + (weights - zeros) * precision.bits : weights * precision.bits
            runtimeWeightBits += weights * precision.bits
            let bytes = actBytes + (wBits + 7) / 8
            let inCache = t.memory.cacheBandwidthGBs != nil && bytes <= cacheBytes
            let bandwidth = inCache ? t.memory.cacheBandwidthGBs! : t.memory.bandwidthGBs
            let memory = TermTime(inCache ? .cacheMemory : .mainMemory, Double(bytes) / (bandwidth * 1e9) * 1e3)
            let overhead = TermTime(.overhead(kind, precision), summed != nil ? 0 : t.overhead.layerMicroseconds(precision, weights: kind.hasWeights) / 1e3)
            // Conversions of this layer's inputs between the plain and blocked layouts: a
            // fixed cost each, like a layer, and a read and a write of the tensor.
            var layout: [TermTime] = []
            var converted = 0
            for i in layer.nodes where laidOut {
                guard let elements = conversions[i] else { continue }
                converted += elements.count
                layout += layoutTimes(conversions: elements.count, bytes: 2 * elements.reduce(0, +) * precision.bits / 8)
            }
            // In a quantized layer, activations without an integer kernel run in float: one
            // dequantize of the input that the activation's float operators share (ONNX
            // Runtime 1.32's profile of a hard-swish: DequantizeLinear, HardSigmoid, Mul,
            // QuantizeLinear), the float operators, and a quantize of the result; each a
            // dispatched operator, the two conversions each a read and a write of the tensor.
            var quantize: [TermTime] = []
            var floating = 0
            if let float = t.floatActivations, precision.isInteger {
                for i in layer.nodes {
                    guard case .activation(let fn) = graph.nodes[i].op, float.contains(fn) else { continue }
                    floating += 1
                    quantize += conversionTimes(elements: graph.nodes[i].shape.elements, bits: precision.bits,
                                                conversions: 2, operators: Self.floatOperators(fn) + 2)
                }
            }
            features.append(.init(compute: compute, memory: memory, overhead: overhead, layout: layout, quantize: quantize,
                                  overlap: t.memory.overlap))
            layers.append(LayerLatency(name: layer.name, kind: kind, precision: precision, macs: layer.macs, effectiveMACs: Int(macs.rounded()),
                                       bytes: bytes, computeMilliseconds: 0, memoryMilliseconds: 0, overheadMilliseconds: 0,
                                       layoutConversions: converted, layoutMilliseconds: 0, floatActivations: floating,
                                       milliseconds: 0, computeBound: true, nodes: layer.nodes))
        }
        var fixed = [TermTime(.inference, t.overhead.inferenceMicroseconds / 1e3)]
        // A quantized network on such a runtime takes a float input and gives a float output.
        if t.floatActivations != nil, used.isInteger {
            fixed += conversionTimes(elements: graph.nodes[0].shape.elements, bits: used.bits, conversions: 1, operators: 1)
            fixed += conversionTimes(elements: graph.nodes[graph.output].shape.elements, bits: used.bits, conversions: 1, operators: 1)
        }
        // Integer kernels that work channels-last transpose the network's input and the
        // last feature map before the head's pooling: two layout conversions.
        if t.quantizedChannelsLast, used.isInteger {
            let last = graph.nodes.last { if case .globalAvgPool = $0.op { return true } else { return false } }
            let exit = last.map { graph.nodes[$0.inputs[0]].shape.elements } ?? graph.nodes[graph.output].shape.elements
            fixed += layoutTimes(conversions: 2, bytes: 2 * (graph.nodes[0].shape.elements + exit) * used.bits / 8)
        }
        let runtimeWeightBytes = (runtimeWeightBits + 7) / 8
        if let cache = t.memory.weightCacheBytes, let stream = t.memory.weightStreamGBs, runtimeWeightBytes > cache {
            fixed.append(TermTime(.stream, Double(runtimeWeightBytes - cache) / (stream * 1e9) * 1e3))
        }

        // Memory: activations are held at the widest precision any layer runs at.
        let peakAct = graph.peakActivationElements() * used.bits / 8
        if let flash = t.memory.weightStorageBytes, cost.sizeBytes > flash {
            problems.append(.weightsExceedStorage(bytes: cost.sizeBytes, capacity: flash))
        }
        if let sram = t.memory.activationBytes, peakAct > sram {
            problems.append(.activationsExceedMemory(bytes: peakAct, capacity: sram))
        }
        if let cap = t.memory.capacityBytes, runtimeWeightBytes + peakAct > cap {
            problems.append(.workingSetExceedsMemory(bytes: runtimeWeightBytes + peakAct, capacity: cap))
        }
        var summary = NetworkSummary(layers: layers)
        summary.kernelMilliseconds = kernels?.milliseconds(graph, cost: cost)
        return Analysis(features: LatencyFeatures(layers: features, fixed: fixed, summary: summary), layers: layers, weightBytes: cost.sizeBytes,
                        runtimeWeightBytes: runtimeWeightBytes, peakActivationBytes: peakAct, precision: used, problems: problems)
    }
}

extension LatencyModel {
    /// Arithmetic operations per element of an activation function: max for ReLU, min
    /// and max for ReLU6, multiply-add, min and max for hard-sigmoid and one multiply more
    /// for hard-swish; an exponential (a polynomial of about a dozen operations), an add
    /// and a division for sigmoid, one multiply more for swish.
    static func activationOps(_ fn: Activation) -> Int {
        switch fn {
        case .none: return 0
        case .relu: return 1
        case .relu6: return 2
        case .hsigmoid: return 3
        case .hswish: return 4
        case .sigmoid: return 14
        case .swish: return 15
        }
    }

    /// Operations per output element to requantize a quantized layer's 32-bit accumulators.
    static let requantizeOps = 4

    /// Adds that a blocked-layout convolution performs as it writes its output: for each
    /// such add node, its other input (the one read inside the convolution). An add of
    /// two inputs qualifies when one of them is the output of a convolution layer (with
    /// its folded batch norm) that nothing else reads, and both are in the blocked layout.
    func summedAdds(_ graph: NetworkGraph, layers: [LayerCost], blocked: [Bool]) -> [Int: Int] {
        var readers = [Int](repeating: 0, count: graph.nodes.count)
        for n in graph.nodes { for j in n.inputs { readers[j] += 1 } }
        readers[graph.output] += 1
        var convOutput = Set<Int>()
        for l in layers {
            guard case .conv = graph.nodes[l.nodes.lowerBound].op else { continue }
            let last = l.nodes.upperBound - 1
            if case .activation = graph.nodes[last].op { continue }
            convOutput.insert(last)
        }
        var out: [Int: Int] = [:]
        for (i, n) in graph.nodes.enumerated() {
            guard case .add = n.op, n.inputs.count == 2, n.inputs.allSatisfy({ blocked[$0] }) else { continue }
            if let j = n.inputs.first(where: { convOutput.contains($0) && readers[$0] == 1 }) {
                out[i] = n.inputs.first { $0 != j } ?? j
            }
        }
        return out
    }

    /// Float operators an activation function is built of where a runtime has no single
    /// kernel for it: hard-swish is x times hard-sigmoid(x), swish x times sigmoid(x).
    static func floatOperators(_ fn: Activation) -> Int {
        fn == .hswish || fn == .swish ? 2 : 1
    }

    /// `operators` dispatched operators' fixed cost, and the traffic of `conversions`
    /// conversions of a tensor of `elements` between `bits`-bit integers and 32-bit
    /// floats: each reads it at one width and writes it at the other.
    func conversionTimes(elements: Int, bits: Int, conversions: Int, operators: Int) -> [TermTime] {
        let bytes = conversions * elements * (bits + 32) / 8
        return [TermTime(.quantize, Double(operators) * target.overhead.weightlessMicroseconds / 1e3),
                TermTime(.quantizeTraffic, trafficMilliseconds(bytes))]
    }

    /// Layout conversions (between the plain and the blocked layout, or transposes): a
    /// dispatched operator each, and their traffic.
    func layoutTimes(conversions: Int, bytes: Int) -> [TermTime] {
        [TermTime(.layout, Double(conversions) * target.overhead.weightlessMicroseconds / 1e3), TermTime(.layoutTraffic, trafficMilliseconds(bytes))]
    }

    /// Milliseconds to move `bytes`, from the cache when they fit it.
    func trafficMilliseconds(_ bytes: Int) -> Double {
        let m = target.memory
        let bw = m.cacheBandwidthGBs.flatMap { bytes <= (m.cacheBytes ?? 0) ? $0 : nil } ?? m.bandwidthGBs
        return Double(bytes) / (bw * 1e9) * 1e3
    }

    /// Where tensors change layout on a target with a blocked layout of `block` channels:
    /// for each node, the element counts of the inputs it needs converted, and whether
    /// each node's output is in the blocked layout.
    ///
    /// The rules of ONNX Runtime's NCHWc and oneDNN's blocked formats: a dense convolution
    /// always writes the blocked layout (padding its output channels) and reads it when
    /// its input channels fill whole blocks, else it reads the plain layout; a depthwise
    /// or grouped convolution is blocked only when its channels fill whole blocks; batch
    /// norm, activations and pooling keep their input's layout; an add takes its first
    /// input's; the squeeze-excite multiply (a broadcast) and linear layers need the plain
    /// layout, and so does the network's output. Each tensor is converted at most once
    /// to each layout.
    func layoutConversions(_ graph: NetworkGraph, block: Int) -> (conversions: [Int: [Int]], blocked: [Bool]) {
        let n = graph.nodes.count
        var blocked = [Bool](repeating: false, count: n)
        var hasPlain = [Bool](repeating: true, count: n)
        var hasBlocked = [Bool](repeating: false, count: n)
        var out: [Int: [Int]] = [:]
        func need(_ j: Int, blocked want: Bool, at i: Int) {
            if want ? hasBlocked[j] : hasPlain[j] { return }
            if want { hasBlocked[j] = true } else { hasPlain[j] = true }
            out[i, default: []].append(graph.nodes[j].shape.elements)
        }
        for i in 0..<n {
            let node = graph.nodes[i]
            var b = false
            switch node.op {
            case .input:
                b = false
            case .conv(let c):
                if c.groups == 1 {
                    need(node.inputs[0], blocked: c.inChannels % block == 0, at: i)
                    b = true
                } else {
                    b = c.inChannels % block == 0 && c.outChannels % block == 0
                    need(node.inputs[0], blocked: b, at: i)
                }
            case .batchNorm, .activation, .identity, .zero, .globalAvgPool, .avgPool:
                b = blocked[node.inputs[0]]
            case .add:
                b = blocked[node.inputs[0]]
                for j in node.inputs { need(j, blocked: b, at: i) }
            case .multiply, .linear:
                for j in node.inputs { need(j, blocked: false, at: i) }
                b = false
            }
            blocked[i] = b
            hasBlocked[i] = b
            hasPlain[i] = !b
        }
        need(graph.output, blocked: false, at: graph.output)
        return (out, blocked)
    }

    /// A calibration sample: the graph's terms under this model and the measured time.
    public func sample(_ graph: NetworkGraph, measuredMilliseconds: Double, label: String = "") -> CalibrationSample {
        CalibrationSample(features: features(graph), measuredMilliseconds: measuredMilliseconds, label: label)
    }
}
