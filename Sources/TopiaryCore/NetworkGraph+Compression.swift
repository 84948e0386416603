extension NetworkGraph {
    /// The graph after a candidate's compression: structured pruning shrinks channels,
    /// low-rank factorization splits layers in two, and quantization, magnitude
    /// sparsity and weight sharing annotate the weights.
    ///
    /// Order, as the reference trainer applies it: channel pruning, then factorization
    /// of the pruned layers, then the weight formats.
    public func compressed(_ c: CompressionConfig) -> NetworkGraph {
        var g = self
        g.activationBits = c.activationBits
        if c.pruning == .channel && c.pruningRatio > 0 { g = g.channelPruned(c.pruningRatio) }
        if c.rankRatio < 1 { g = g.factorized(c.rankRatio) }
        for i in g.nodes.indices where g.nodes[i].weightCount > 0 {
            let n = g.nodes[i].weightCount
            g.nodes[i].weights = WeightFormat(
                bits: c.weightBits,
                zeros: c.pruning == .magnitude ? min(n, roundHalfEven(c.pruningRatio * Double(n))) : 0,
                clusters: c.clusters,
                perChannel: c.granularity == .perChannel)
        }
        return g
    }

    /// Channels a structured pruning of `ratio` keeps out of `channels` (at least one).
    public static func keptChannels(_ channels: Int, ratio: Double) -> Int {
        max(1, channels - roundHalfEven(ratio * Double(channels)))
    }

    /// Removes `ratio` of the output channels of every prunable conv (the expanded
    /// channels of inverted-residual blocks, the inner conv of reduction blocks, the
    /// head's hidden layers) and propagates the new widths through the graph.
    public func channelPruned(_ ratio: Double) -> NetworkGraph {
        var g = self
        for i in g.nodes.indices where g.nodes[i].prunable {
            switch g.nodes[i].op {
            case .conv(var conv):
                conv.outChannels = Self.keptChannels(conv.outChannels, ratio: ratio)
                g.nodes[i].op = .conv(conv)
            case .linear(var lin):
                lin.outFeatures = Self.keptChannels(lin.outFeatures, ratio: ratio)
                g.nodes[i].op = .linear(lin)
            default: break
            }
        }
        g.propagateShapes()
        return g
    }

    /// Recomputes every shape in order after channel counts changed: convs take their
    /// input's channels, depthwise convs keep one filter per channel, and squeeze-excite
    /// gates follow the tensor they scale.
    mutating func propagateShapes() {
        for i in nodes.indices {
            guard let first = nodes[i].inputs.first.map({ nodes[$0].shape }) else { continue }
            switch nodes[i].op {
            case .conv(var conv):
                let inC = first.channels
                if conv.isDepthwise {
                    conv.groups = inC
                    conv.outChannels = inC
                }
                conv.inChannels = inC
                if let f = nodes[i].channelsFollow { conv.outChannels = nodes[f].shape.channels }
                nodes[i].op = .conv(conv)
            case .linear(var lin):
                lin.inFeatures = first.channels
                nodes[i].op = .linear(lin)
            default: break
            }
            nodes[i].shape = Self.inferShape(nodes[i].op, first)
        }
    }

    /// Rank a factorization keeps so that the two factors hold `ratio` of the layer's
    /// weights: k = floor(ratio * in * out / (in + out)), at least 1.
    public static func factorRank(inputs: Int, outputs: Int, ratio: Double) -> Int {
        max(1, Int((ratio * Double(inputs * outputs) / Double(inputs + outputs)).rounded(.down)))
    }

    /// Replaces every 1x1 convolution (groups 1) and linear layer whose rank-k factors
    /// are smaller than it by two layers: in -> k (no bias) and k -> out.
    public func factorized(_ ratio: Double) -> NetworkGraph {
        var out: [Node] = []
        out.reserveCapacity(nodes.count + nodes.count / 4)
        var remap = [Int](repeating: 0, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            var n = node
            if out.count != i { for k in n.inputs.indices { n.inputs[k] = remap[n.inputs[k]] } }
            n.channelsFollow = node.channelsFollow.map { remap[$0] }
            switch node.op {
            case .conv(let c) where c.isPointwise:
                let k = Self.factorRank(inputs: c.inChannels, outputs: c.outChannels, ratio: ratio)
                if k < min(c.inChannels, c.outChannels) {
                    var a = n
                    a.op = .conv(Conv(inChannels: c.inChannels, outChannels: k, kernel: 1, stride: c.stride, padding: 0, groups: 1, bias: false))
                    a.shape.channels = k
                    a.prunable = false
                    a.channelsFollow = nil
                    out.append(a)
                    n.op = .conv(Conv(inChannels: k, outChannels: c.outChannels, kernel: 1, stride: 1, padding: 0, groups: 1, bias: c.bias))
                    n.inputs = [out.count - 1]
                }
            case .linear(let l):
                let k = Self.factorRank(inputs: l.inFeatures, outputs: l.outFeatures, ratio: ratio)
                if k < min(l.inFeatures, l.outFeatures) {
                    var a = n
                    a.op = .linear(Linear(inFeatures: l.inFeatures, outFeatures: k, bias: false))
                    a.shape.channels = k
                    a.prunable = false
                    out.append(a)
                    n.op = .linear(Linear(inFeatures: k, outFeatures: l.outFeatures, bias: l.bias))
                    n.inputs = [out.count - 1]
                }
            default: break
            }
            out.append(n)
            remap[i] = out.count - 1
        }
        return NetworkGraph(nodes: out, output: remap[output], activationBits: activationBits)
    }
}
