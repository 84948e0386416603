import TopiaryCore

/// One kernel of a network as a runtime runs it: a fused layer of the cost report (a
/// convolution with its batch norm and activation, a pooling, an add, a squeeze-excite
/// gate, …) at the input shape and precision it has in the network, and the small graph
/// that runs it alone. Kernels with the same `signature` cost the same, so a sweep
/// (`KernelSweep`) measures each signature once and a `KernelProfile` predicts a network
/// as the sum of its kernels.
public struct Kernel: Sendable {
    /// Every operation with its sizes, the input shape and the precision, e.g.
    /// `conv(16>32,k3,s2,p1,g1)+bn+relu|16x32x32|fp32`.
    public var signature: String
    /// The operations without sizes, e.g. `conv3x3/s2+bn+relu|fp32`: kernels of one
    /// family share a predictor.
    public var family: String
    public var kind: OperationKind
    /// `fp32` or `int8`: the precision of the whole network (a CPU runtime runs a
    /// network's adds and pools at the precision of its weights and activations).
    public var precision: String
    public var macs: Double
    public var inputElements: Double
    public var outputElements: Double
    public var weights: Double
    /// The kernel alone: an input of the layer's input shape, then the layer's nodes.
    public var graph: NetworkGraph

    /// The numbers a family's predictor regresses on.
    public var features: [Double] { [macs, inputElements + outputElements, weights] }
}

public enum KernelExtractor {
    /// The precision a CPU runtime runs the graph at, as the measuring workers decide it
    /// (`precision_for`): int8 when activations and every layer's weights are 8-bit or
    /// narrower, else fp32.
    public static func precision(of graph: NetworkGraph) -> String {
        guard graph.activationBits <= 8 else { return "fp32" }
        let bits = graph.nodes.compactMap { $0.weightCount > 0 ? ($0.weights?.bits ?? 32) : nil }
        return !bits.isEmpty && bits.max()! <= 8 ? "int8" : "fp32"
    }

    /// The kernel of every layer of the cost report, in order; nil where the layer costs
    /// nothing (the input, identities, zeros) or its inputs cannot be fed from one tensor.
    public static func kernels(of graph: NetworkGraph, cost: CostReport, precision: String? = nil) -> [Kernel?] {
        let precision = precision ?? Self.precision(of: graph)
        return cost.layers.map { layer in
            guard let kind = OperationKind(layer.category) else { return nil }
            return kernel(graph, layer, kind: kind, precision: precision)
        }
    }

    static func kernel(_ graph: NetworkGraph, _ layer: LayerCost, kind: OperationKind, precision: String) -> Kernel? {
        let range = layer.nodes
        // The tensors the layer reads from outside itself: the first is the kernel's input;
        // a squeeze-excite gate (a per-channel tensor) is made from it by a global pool.
        var external: [Int] = []
        for i in range { for j in graph.nodes[i].inputs where !range.contains(j) && !external.contains(j) { external.append(j) } }
        guard let first = external.first else { return nil }
        let inputShape = graph.nodes[first].shape
        var nodes: [NetworkGraph.Node] = [NetworkGraph.Node(op: .input, inputs: [], shape: inputShape, label: graph.nodes[0].label)]
        var map: [Int: Int] = [first: 0]
        for e in external.dropFirst() {
            let shape = graph.nodes[e].shape
            if shape == inputShape { map[e] = 0; continue }
            guard shape.channels == inputShape.channels, shape.height == 1, shape.width == 1 else { return nil }
            nodes.append(NetworkGraph.Node(op: .globalAvgPool, inputs: [0], shape: shape, label: graph.nodes[first].label))
            map[e] = nodes.count - 1
        }
        for i in range {
            var n = graph.nodes[i]
            n.inputs = NodeInputs(n.inputs.map { map[$0]! })
            n.channelsFollow = nil
            nodes.append(n)
            map[i] = nodes.count - 1
        }
        let g = NetworkGraph.assembled(nodes: nodes, output: nodes.count - 1, activationBits: graph.activationBits)
        var parts: [String] = [], names: [String] = []
        var weights = 0
        for i in range {
            let n = graph.nodes[i]
            names.append(n.opName)
            weights += n.weightCount
            switch n.op {
            case .conv(let c): parts.append("conv(\(c.inChannels)>\(c.outChannels),k\(c.kernel),s\(c.stride),p\(c.padding),g\(c.groups)\(c.bias ? ",b" : ""))")
            case .linear(let l): parts.append("linear(\(l.inFeatures)>\(l.outFeatures)\(l.bias ? ",b" : ""))")
            case .add: parts.append("add\(n.inputs.count)")
            default: parts.append(n.opName)
            }
        }
        let bits = range.compactMap { graph.nodes[$0].weights.map { "w\($0.bits)" } }.first ?? ""
        let gate = external.count > 1 && map[external[1]] != 0 ? "gate+" : ""
        let signature = gate + parts.joined(separator: "+") + "|\(inputShape)|\(precision)" + (bits.isEmpty ? "" : "|\(bits)")
        return Kernel(signature: signature, family: names.joined(separator: "+") + "|\(precision)", kind: kind, precision: precision,
                      macs: Double(layer.macs), inputElements: Double(inputShape.elements), outputElements: Double(layer.output.elements),
                      weights: Double(weights), graph: g)
    }
}
