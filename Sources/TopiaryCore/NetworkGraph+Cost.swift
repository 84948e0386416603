/// What a (compressed) network costs, in total and per layer.
public struct CostReport: Sendable {
    /// Multiply-accumulates of convolutions and linear layers, dense.
    public var macs: Int
    /// MACs left when zero weights are skipped (equal to `macs` without sparsity).
    public var sparseMACs: Int
    public var params: Int
    /// Parameters that are not pruned to zero.
    public var nonzeroParams: Int
    /// Bytes of the stored model: weights at their bit width (sparse bitmap and
    /// codebooks included), quantization scales, biases and batch norm at 32 bits.
    public var sizeBytes: Int
    /// Largest total of activation tensors alive at once, in execution order, with
    /// batch norm and activations done in place where their input is not needed again.
    public var peakActivationBytes: Int
    public var layers: [LayerCost]
}

/// The cost of one layer: a weight op with the batch norm and activation fused into it,
/// or a pooling, add or multiply.
public struct LayerCost: Sendable {
    public var label: LayerLabel
    public var name: String { label.description }
    public var category: NetworkGraph.Category
    public var output: TensorShape
    public var macs: Int
    public var sparseMACs: Int
    public var params: Int
    public var sizeBytes: Int
    /// Bytes read and written: input and output activations plus weights.
    public var activationBytes: Int
    /// Element-wise work (activations, adds, batch norm that is not folded), in elements.
    public var elementwiseOps: Int
    /// Indices of the graph nodes in this layer (consecutive in execution order).
    public var nodes: Range<Int>
}

extension NetworkGraph {
    /// Bits needed to store one layer's weights in the given format.
    static func weightBits(count n: Int, outChannels: Int, format f: WeightFormat) -> Int {
        let indexBits = f.clusters > 0 ? max(1, Int.bitWidth - (f.clusters - 1).leadingZeroBitCount) : f.bits
        let codebook = f.clusters > 0 ? f.clusters * f.bits : 0
        let values = f.zeros > 0 ? n + (n - f.zeros) * indexBits : n * indexBits
        let scales = f.bits <= 8 ? (f.perChannel ? outChannels : 1) * 64 : 0
        return values + codebook + scales
    }

    /// Bytes one node adds to the stored model.
    func storedBytes(_ node: Node) -> Int {
        var bits = 0
        switch node.op {
        case .conv(let c):
            bits = Self.weightBits(count: c.weightCount, outChannels: c.outChannels, format: node.weights ?? WeightFormat())
            if c.bias { bits += 32 * c.outChannels }
        case .linear(let l):
            bits = Self.weightBits(count: l.inFeatures * l.outFeatures, outChannels: l.outFeatures, format: node.weights ?? WeightFormat())
            if l.bias { bits += 32 * l.outFeatures }
        case .batchNorm:
            bits = 64 * node.shape.channels
        default: break
        }
        return (bits + 7) / 8
    }

    /// Totals and the per-layer breakdown.
    public func cost() -> CostReport {
        let actBytes = max(1, activationBits / 8)
        var report = CostReport(macs: 0, sparseMACs: 0, params: 0, nonzeroParams: 0, sizeBytes: 0, peakActivationBytes: 0, layers: [])
        report.layers.reserveCapacity(nodes.count / 2)
        var current: LayerCost?
        // Nodes are read in place (a copy of each would retain its label and inputs).
        nodes.withUnsafeBufferPointer { g in
            for i in g.indices {
                let macs = g[i].macs
                let zeros = g[i].weights?.zeros ?? 0
                let w = g[i].weightCount
                let sparse = w > 0 ? Int((Double(macs) * Double(w - zeros) / Double(w)).rounded()) : 0
                let params = g[i].params
                report.macs += macs
                report.sparseMACs += sparse
                report.params += params
                report.nonzeroParams += params - zeros
                let bytes = storedBytes(g[i])
                report.sizeBytes += bytes
                if case .input = g[i].op { continue }

                let first = g[i].inputs[0]
                let elementwise = g[i].elementwiseOps(inputElements: g[first].shape.elements)
                // A layer starts at each weight op and at each op with a new label; BN and
                // activations join the op before them.
                var joins = false
                if current != nil && current!.label == g[i].label {
                    switch g[i].op {
                    case .batchNorm, .activation: joins = current!.nodes.upperBound - 1 == first
                    default: break
                    }
                }
                var io = g[i].shape.elements
                for j in g[i].inputs { io += g[j].shape.elements }
                io *= actBytes
                if joins {
                    current!.output = g[i].shape
                    current!.params += params
                    current!.sizeBytes += bytes
                    current!.elementwiseOps += elementwise
                    current!.nodes = current!.nodes.lowerBound..<(i + 1)
                } else {
                    if let cur = current { report.layers.append(cur) }
                    current = LayerCost(label: g[i].label, category: g[i].category, output: g[i].shape,
                                        macs: macs, sparseMACs: sparse, params: params, sizeBytes: bytes,
                                        activationBytes: io + bytes, elementwiseOps: elementwise, nodes: i..<(i + 1))
                }
            }
        }
        if let cur = current { report.layers.append(cur) }
        report.peakActivationBytes = peakActivationElements() * actBytes
        return report
    }

    /// Peak number of activation elements alive at once (see `CostReport.peakActivationBytes`).
    public func peakActivationElements() -> Int {
        let n = nodes.count
        // One scratch allocation: last use per node, buffer per node, buffer end, buffer size.
        var scratch = [Int](repeating: 0, count: 4 * n)
        return scratch.withUnsafeMutableBufferPointer { s in
            nodes.withUnsafeBufferPointer { g in
                let lastUse = UnsafeMutableBufferPointer(rebasing: s[0..<n])
                let buffer = UnsafeMutableBufferPointer(rebasing: s[n..<(2 * n)])
                let bufferEnd = UnsafeMutableBufferPointer(rebasing: s[(2 * n)..<(3 * n)])
                let bufferSize = UnsafeMutableBufferPointer(rebasing: s[(3 * n)..<(4 * n)])
                for i in 0..<n {
                    lastUse[i] = i
                    for j in g[i].inputs { lastUse[j] = Swift.max(lastUse[j], i) }
                }
                lastUse[output] = n
                var live = 0, peak = 0
                var firstAlive = 0  // buffers are freed in order of their end, so scan from here
                for i in 0..<n {
                    var inPlace = false
                    switch g[i].op {
                    case .batchNorm, .activation, .identity:
                        let x = g[i].inputs[0]
                        inPlace = lastUse[x] == i && x != 0
                    default: break
                    }
                    if inPlace {
                        let b = buffer[g[i].inputs[0]]
                        buffer[i] = b
                        bufferEnd[b] = Swift.max(bufferEnd[b], lastUse[i])
                        bufferSize[i] = 0
                    } else {
                        buffer[i] = i
                        bufferEnd[i] = lastUse[i]
                        bufferSize[i] = g[i].shape.elements
                        live += bufferSize[i]
                    }
                    peak = Swift.max(peak, live)
                    // Free every buffer whose last reader has run.
                    var k = firstAlive
                    while k <= i {
                        if bufferSize[k] > 0 && buffer[k] == k && bufferEnd[k] <= i {
                            live -= bufferSize[k]
                            bufferSize[k] = 0
                        }
                        if k == firstAlive && bufferSize[k] == 0 { firstAlive += 1 }
                        k += 1
                    }
                }
                return peak
            }
        }
    }
}

extension NetworkGraph {
    /// The operations fused in a layer, e.g. `conv3x3/s2+bn+relu`.
    public func opsDescription(_ layer: LayerCost) -> String {
        nodes[layer.nodes].map(\.opName).joined(separator: "+")
    }
}

extension NetworkGraph.Node {
    /// A short name of the operation, e.g. `dwconv5x5/s2`, `bn`, `hswish`.
    public var opName: String {
        switch op {
        case .conv(let c):
            let base = c.isDepthwise ? "dwconv\(c.kernel)x\(c.kernel)" : "conv\(c.kernel)x\(c.kernel)"
            return c.stride > 1 ? base + "/s\(c.stride)" : base
        case .linear: return "linear"
        case .batchNorm: return "bn"
        case .activation(let a): return a.rawValue
        case .add: return "add"
        case .multiply: return "mul"
        case .globalAvgPool: return "gap"
        case let .avgPool(k, s, _): return "avgpool\(k)x\(k)" + (s > 1 ? "/s\(s)" : "")
        case .identity: return "identity"
        case .zero: return "zero"
        case .input: return "input"
        }
    }

    /// Element-wise work in elements touched (activations, adds, batch norm, pooling).
    func elementwiseOps(inputElements: Int) -> Int {
        switch op {
        case .batchNorm, .activation, .multiply, .zero: return shape.elements
        case .add: return shape.elements * Swift.max(1, inputs.count - 1)
        case .globalAvgPool: return inputElements
        case let .avgPool(k, _, _): return shape.elements * k * k
        default: return 0
        }
    }
}
