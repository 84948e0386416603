extension NetworkGraph {
    /// Checks the graph's invariants and returns every problem found (empty when sound):
    /// inputs come before their consumers, each op's channels agree with its inputs,
    /// every shape is positive, and the output is a vector.
    public func problems() -> [String] {
        var out: [String] = []
        for (i, n) in nodes.enumerated() {
            let name = "node \(i) (\(n.label))"
            if n.inputs.contains(where: { $0 >= i || $0 < 0 }) { out.append("\(name): an input does not come before it") ; continue }
            if n.shape.channels < 1 || n.shape.height < 1 || n.shape.width < 1 { out.append("\(name): empty shape \(n.shape)") }
            let ins = n.inputs.map { nodes[$0].shape }
            switch n.op {
            case .input:
                if i != 0 || !n.inputs.isEmpty { out.append("\(name): input must be node 0 with no inputs") }
            case .conv(let c):
                if ins.count != 1 { out.append("\(name): conv takes one input"); continue }
                if c.inChannels != ins[0].channels { out.append("\(name): conv expects \(c.inChannels) channels, gets \(ins[0].channels)") }
                if c.inChannels % c.groups != 0 || c.outChannels % c.groups != 0 { out.append("\(name): groups \(c.groups) do not divide the channels") }
            case .linear(let l):
                if ins.count != 1 { out.append("\(name): linear takes one input"); continue }
                if ins[0].height != 1 || ins[0].width != 1 { out.append("\(name): linear needs a pooled input, gets \(ins[0])") }
                if l.inFeatures != ins[0].channels { out.append("\(name): linear expects \(l.inFeatures) features, gets \(ins[0].channels)") }
            case .add:
                if ins.count < 2 { out.append("\(name): add needs two or more inputs") }
                if Set(ins).count > 1 { out.append("\(name): add of different shapes \(ins)") }
            case .multiply:
                if ins.count != 2 || ins[0].channels != ins[1].channels || ins[1].height != 1 {
                    out.append("\(name): multiply needs a tensor and a per-channel gate, gets \(ins)")
                }
            default:
                if ins.count != 1 { out.append("\(name): takes one input, gets \(ins.count)") }
            }
            if !ins.isEmpty && n.shape != Self.inferShape(n.op, ins[0]) { out.append("\(name): stale shape \(n.shape)") }
        }
        let o = nodes[output].shape
        if o.height != 1 || o.width != 1 { out.append("output is \(o), not a vector") }
        return out
    }
}
