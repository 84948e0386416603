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
    public var name: String
    /// Operations fused in the layer, e.g. `conv3x3/s2+bn+relu`.
    public var ops: String
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
    /// Indices of the graph nodes in this layer.
    public var nodes: [Int]
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
        var current: LayerCost?
        var currentLabel: LayerLabel?
        for (i, node) in nodes.enumerated() {
            let macs = node.macs
            let zeros = node.weights?.zeros ?? 0
            let w = node.weightCount
            let sparse = w > 0 ? Int((Double(macs) * Double(w - zeros) / Double(w)).rounded()) : 0
            report.macs += macs
            report.sparseMACs += sparse
            report.params += node.params
            report.nonzeroParams += node.params - zeros
            let bytes = storedBytes(node)
            report.sizeBytes += bytes
            if case .input = node.op { continue }

            var elementwise = 0
            var opName: String
            switch node.op {
            case .conv(let c):
                opName = c.isDepthwise ? "dwconv\(c.kernel)x\(c.kernel)" : "conv\(c.kernel)x\(c.kernel)"
                if c.stride > 1 { opName += "/s\(c.stride)" }
            case .linear: opName = "linear"
            case .batchNorm: opName = "bn"; elementwise = node.shape.elements
            case .activation(let a): opName = a.rawValue; elementwise = node.shape.elements
            case .add: opName = "add"; elementwise = node.shape.elements * max(1, node.inputs.count - 1)
            case .multiply: opName = "mul"; elementwise = node.shape.elements
            case .globalAvgPool: opName = "gap"; elementwise = nodes[node.inputs[0]].shape.elements
            case let .avgPool(k, s, _): opName = "avgpool\(k)x\(k)" + (s > 1 ? "/s\(s)" : ""); elementwise = node.shape.elements * k * k
            case .identity: opName = "identity"
            case .zero: opName = "zero"; elementwise = node.shape.elements
            case .input: opName = "input"
            }
            // A layer starts at each weight op and at each op with a new label; BN and
            // activations join the op before them.
            let joins: Bool = {
                guard let cur = current, currentLabel == node.label else { return false }
                switch node.op {
                case .batchNorm, .activation: return cur.nodes.last == node.inputs.first
                default: return false
                }
            }()
            let io = node.inputs.reduce(node.shape.elements) { $0 + nodes[$1].shape.elements } * actBytes
            if joins {
                current!.ops += "+" + opName
                current!.output = node.shape
                current!.params += node.params
                current!.sizeBytes += bytes
                current!.elementwiseOps += elementwise
                current!.nodes.append(i)
            } else {
                if let cur = current { report.layers.append(cur) }
                current = LayerCost(name: node.label.description, ops: opName, category: node.category, output: node.shape,
                                    macs: macs, sparseMACs: sparse, params: node.params, sizeBytes: bytes,
                                    activationBytes: io + bytes, elementwiseOps: elementwise, nodes: [i])
                currentLabel = node.label
            }
        }
        if let cur = current { report.layers.append(cur) }
        report.peakActivationBytes = peakActivationElements() * actBytes
        return report
    }

    /// Peak number of activation elements alive at once (see `CostReport.peakActivationBytes`).
    public func peakActivationElements() -> Int {
        var lastUse = [Int](repeating: 0, count: nodes.count)
        for (i, n) in nodes.enumerated() {
            lastUse[i] = i
            for j in n.inputs { lastUse[j] = max(lastUse[j], i) }
        }
        lastUse[output] = nodes.count
        var buffer = [Int](repeating: -1, count: nodes.count)   // node -> buffer (node index that allocated it)
        var bufferEnd = [Int](repeating: 0, count: nodes.count)
        var bufferSize = [Int](repeating: 0, count: nodes.count)
        var live = 0
        var peak = 0
        var alive: [Int] = []
        for (i, n) in nodes.enumerated() {
            var inPlace = false
            switch n.op {
            case .batchNorm, .activation, .identity:
                if let x = n.inputs.first, lastUse[x] == i, x != 0 { inPlace = true }
            default: break
            }
            if inPlace {
                let b = buffer[n.inputs[0]]
                buffer[i] = b
                bufferEnd[b] = max(bufferEnd[b], lastUse[i])
            } else {
                buffer[i] = i
                bufferEnd[i] = lastUse[i]
                bufferSize[i] = n.shape.elements
                live += n.shape.elements
                alive.append(i)
            }
            peak = max(peak, live)
            // Free every buffer whose last reader has run.
            var k = 0
            while k < alive.count {
                let b = alive[k]
                if bufferEnd[b] <= i {
                    live -= bufferSize[b]
                    alive.swapAt(k, alive.count - 1)
                    alive.removeLast()
                } else {
                    k += 1
                }
            }
        }
        return peak
    }
}
