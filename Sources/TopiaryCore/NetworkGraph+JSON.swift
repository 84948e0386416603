extension NetworkGraph {
    /// The graph as JSON, the form workers build real networks from (PyTorch, ONNX), so
    /// that what is trained or timed is exactly what was costed. See docs/PROTOCOL.md.
    ///
    /// `{"format":1,"input":[C,H,W],"output":N,"activation_bits":B,"nodes":[…]}`; each node has
    /// `id`, `op`, `inputs`, `shape` ([C,H,W] of its output), `label`, and per op:
    /// conv `in,out,kernel,stride,padding,groups,bias`; linear `in,out,bias`;
    /// activation `fn` (relu, relu6, hswish, hsigmoid, sigmoid, swish); avg_pool
    /// `kernel,stride,padding` (padding not counted in the average); weight ops also
    /// `weights` {bits, zeros, clusters, per_channel} and `prunable`.
    public var json: JSONValue {
        var out: [JSONValue] = []
        out.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() {
            var p: [(String, JSONValue)] = [("id", .int(i))]
            switch n.op {
            case .input: p.append(("op", .string("input")))
            case .conv(let c):
                p += [("op", .string("conv")), ("in", .int(c.inChannels)), ("out", .int(c.outChannels)), ("kernel", .int(c.kernel)),
                      ("stride", .int(c.stride)), ("padding", .int(c.padding)), ("groups", .int(c.groups)), ("bias", .bool(c.bias))]
            case .linear(let l):
                p += [("op", .string("linear")), ("in", .int(l.inFeatures)), ("out", .int(l.outFeatures)), ("bias", .bool(l.bias))]
            case .batchNorm: p.append(("op", .string("batchnorm")))
            case .activation(let a): p += [("op", .string("activation")), ("fn", .string(a.rawValue))]
            case .add: p.append(("op", .string("add")))
            case .multiply: p.append(("op", .string("multiply")))
            case .globalAvgPool: p.append(("op", .string("global_avg_pool")))
            case let .avgPool(k, s, pad):
                p += [("op", .string("avg_pool")), ("kernel", .int(k)), ("stride", .int(s)), ("padding", .int(pad))]
            case .identity: p.append(("op", .string("identity")))
            case .zero: p.append(("op", .string("zero")))
            }
            p.append(("inputs", .array(n.inputs.map { .int($0) })))
            p.append(("shape", .array([.int(n.shape.channels), .int(n.shape.height), .int(n.shape.width)])))
            p.append(("label", .string(n.label.description)))
            if let w = n.weights {
                p.append(("weights", .object([("bits", .int(w.bits)), ("zeros", .int(w.zeros)), ("clusters", .int(w.clusters)),
                                              ("per_channel", .bool(w.perChannel))])))
            }
            if n.prunable { p.append(("prunable", .bool(true))) }
            out.append(.object(p))
        }
        let input = nodes[0].shape
        return .object([
            ("format", .int(1)),
            ("input", .array([.int(input.channels), .int(input.height), .int(input.width)])),
            ("output", .int(output)),
            ("activation_bits", .int(activationBits)),
            ("nodes", .array(out)),
        ])
    }
}
