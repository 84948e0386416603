extension NetworkGraph {
    /// The uncompressed network of a candidate of `space`.
    public static func build(_ candidate: Candidate, in space: SearchSpace) -> NetworkGraph {
        var b = GraphBuilder(input: space.input(of: candidate))
        switch space.network {
        case .mobilenet(let spec): b.buildMobileNet(spec, space: space, candidate: candidate)
        case .cell(let spec): b.buildCell(spec, classes: space.classes, space: space, candidate: candidate)
        }
        return NetworkGraph(nodes: b.nodes, output: b.nodes.count - 1)
    }

    /// The compressed network a candidate describes: built, then transformed.
    public static func build(compressed candidate: Candidate, in space: SearchSpace) -> NetworkGraph {
        build(candidate, in: space).compressed(candidate.compression)
    }

    /// Shape of a node's output given its first input's shape (every op's output
    /// shape follows from that one).
    static func inferShape(_ op: Op, _ first: TensorShape) -> TensorShape {
        switch op {
        case .input: return first
        case .conv(let c):
            let s = first
            return TensorShape(channels: c.outChannels,
                               height: ConvArithmetic.output(s.height, kernel: c.kernel, stride: c.stride, padding: c.padding),
                               width: ConvArithmetic.output(s.width, kernel: c.kernel, stride: c.stride, padding: c.padding))
        case .batchNorm, .activation, .identity, .zero, .add, .multiply: return first
        case .globalAvgPool: return TensorShape(channels: first.channels, height: 1, width: 1)
        case let .avgPool(k, s, p):
            let x = first
            return TensorShape(channels: x.channels,
                               height: ConvArithmetic.output(x.height, kernel: k, stride: s, padding: p),
                               width: ConvArithmetic.output(x.width, kernel: k, stride: s, padding: p))
        case .linear(let l): return TensorShape(channels: l.outFeatures, height: 1, width: 1)
        }
    }
}

/// Rounds a channel count to a multiple of `divisor`, never going down by more than 10%
/// (the `make_divisible` rule of MobileNetV2/V3 and Once-for-All).
public func makeDivisible(_ value: Double, _ divisor: Int) -> Int {
    let d = Double(divisor)
    var v = max(divisor, Int(value + d / 2) / divisor * divisor)
    if Double(v) < 0.9 * value { v += divisor }
    return v
}

/// Rounds half to even, like Python's `round`, so that counts agree with PyTorch tools.
public func roundHalfEven(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

/// The resolved fields of one inverted-residual block.
struct BlockFields {
    /// What the block is: an inverted residual (`mbconv`), its fused form (`fused`, a dense
    /// k x k convolution in place of the 1x1 expansion and the depthwise one, as in
    /// EfficientNetV2), or no operation (`identity`).
    enum Kind: String { case mbconv, fused, identity }
    var kind = Kind.mbconv
    var identity: Bool { kind == .identity }
    var kernel = 3
    var expansion = 1.0
    var se = false
    var activation = Activation.relu

    mutating func set(_ field: BlockField, _ v: ChoiceValue) {
        switch field {
        case .type: kind = v.stringValue.flatMap(Kind.init(rawValue:)) ?? kind
        case .kernel: kernel = v.intValue ?? kernel
        case .expansion: expansion = v.doubleValue ?? expansion
        case .se: se = v.boolValue ?? se
        case .activation: activation = v.stringValue.flatMap(Activation.init(rawValue:)) ?? activation
        }
    }

    mutating func merge(_ fixed: [String: ChoiceValue]) {
        for (k, v) in fixed { if let f = BlockField(rawValue: k) { set(f, v) } }
    }
}

struct GraphBuilder {
    var nodes: [NetworkGraph.Node] = []

    init(input: TensorShape) {
        nodes.append(NetworkGraph.Node(op: .input, inputs: [], shape: input, label: LayerLabel("input", .input)))
    }

    @discardableResult
    mutating func add(_ op: NetworkGraph.Op, _ inputs: NodeInputs, _ label: LayerLabel, prunable: Bool = false, follow: Int? = nil) -> Int {
        let shape = NetworkGraph.inferShape(op, nodes[inputs[0]].shape)
        nodes.append(NetworkGraph.Node(op: op, inputs: inputs, shape: shape, label: label, weights: nil, prunable: prunable, channelsFollow: follow))
        return nodes.count - 1
    }

    var last: Int { nodes.count - 1 }

    /// conv -> batch norm -> activation, the fused unit of every family here.
    mutating func convBN(_ x: Int, out: Int, kernel: Int, stride: Int = 1, groups: Int = 1, bn: Bool = true, bias: Bool = false,
                         act: Activation, _ label: LayerLabel, prunable: Bool = false) -> Int {
        let inC = nodes[x].shape.channels
        let conv = NetworkGraph.Conv(inChannels: inC, outChannels: out, kernel: kernel, stride: stride, padding: kernel / 2,
                                     groups: groups, bias: bias)
        var y = add(.conv(conv), [x], label, prunable: prunable)
        if bn { y = add(.batchNorm, [y], label) }
        if act != .none { y = add(.activation(act), [y], label) }
        return y
    }

    // MARK: MobileNet family

    mutating func buildMobileNet(_ spec: MobileNetSpec, space: SearchSpace, candidate: Candidate) {
        func v(_ name: String) -> ChoiceValue { space.value(name, in: candidate)! }
        let wm = v(spec.widthMultiplier).doubleValue!
        let divisor = spec.channelDivisor
        func ch(_ base: Int) -> Int { makeDivisible(Double(base) * wm, divisor) }

        var x = convBN(0, out: ch(v(spec.stem.width).intValue!), kernel: spec.stem.kernel, stride: spec.stem.stride,
                       act: spec.stem.activation, LayerLabel("stem", .stem))
        for stage in spec.stages {
            let depth = v(stage.depth).intValue!
            let out = ch(v(stage.width).intValue!)
            for bi in 1...depth {
                let names = stage.blocks[bi - 1]
                var fields = BlockFields()
                if let op = names.op { fields.merge(stage.variants[v(op).stringValue!]!) }
                for (f, p) in names.fields { fields.set(f, v(p)) }
                let stride = bi == 1 ? stage.stride : 1
                x = invertedResidual(x, out: out, stride: stride, fields: fields, divisor: divisor, scope: stage.name, block: bi)
            }
        }
        for (i, layer) in spec.head.enumerated() {
            switch layer {
            case let .conv(width, act, bn, bias):
                x = convBN(x, out: ch(v(width).intValue!), kernel: 1, bn: bn, bias: bias, act: act,
                           LayerLabel("head", .conv, index: i), prunable: true)
            case .pool:
                x = add(.globalAvgPool, [x], LayerLabel("head", .pool))
            case let .linear(width, act, bias):
                let outF = width.map { ch(v($0).intValue!) } ?? space.classes
                let lin = NetworkGraph.Linear(inFeatures: nodes[x].shape.channels, outFeatures: outF, bias: bias)
                let label = width == nil ? LayerLabel("classifier", .classifier) : LayerLabel("head", .conv, index: i)
                x = add(.linear(lin), [x], label, prunable: width != nil)
                if act != .none { x = add(.activation(act), [x], label) }
            }
        }
    }

    mutating func invertedResidual(_ input: Int, out: Int, stride: Int, fields: BlockFields, divisor: Int,
                                   scope: String, block: Int) -> Int {
        let inC = nodes[input].shape.channels
        if fields.identity {
            if stride == 1 && inC == out { return input }
            return convBN(input, out: out, kernel: 1, stride: stride, act: .none, LayerLabel(scope, block: block, .shortcut))
        }
        let t = fields.expansion, k = fields.kernel, act = fields.activation, se = fields.se
        var x = input
        var hidden = inC
        if t != 1 {
            hidden = divisor == 1 ? roundHalfEven(Double(inC) * t) : makeDivisible(Double(roundHalfEven(Double(inC) * t)), divisor)
        }
        if fields.kind == .fused {
            // One dense k x k convolution: to the expanded width (then squeeze-excite and
            // the 1x1 projection), or straight to the output when there is no expansion.
            if t == 1 {
                x = convBN(x, out: out, kernel: k, stride: stride, act: act, LayerLabel(scope, block: block, .fused))
                return stride == 1 && inC == out ? add(.add, [input, x], LayerLabel(scope, block: block, .add)) : x
            }
            x = convBN(x, out: hidden, kernel: k, stride: stride, act: act, LayerLabel(scope, block: block, .fused), prunable: true)
        } else {
            if t != 1 {
                x = convBN(x, out: hidden, kernel: 1, act: act, LayerLabel(scope, block: block, .expand), prunable: true)
            }
            x = convBN(x, out: hidden, kernel: k, stride: stride, groups: hidden, act: act, LayerLabel(scope, block: block, .dw))
        }
        if se {
            let label = LayerLabel(scope, block: block, .se)
            let squeeze = makeDivisible(Double(hidden / 4), 8)
            let pooled = add(.globalAvgPool, [x], label)
            var g = add(.conv(.init(inChannels: hidden, outChannels: squeeze, kernel: 1, stride: 1, padding: 0, groups: 1, bias: true)), [pooled], label)
            g = add(.activation(.relu), [g], label)
            g = add(.conv(.init(inChannels: squeeze, outChannels: hidden, kernel: 1, stride: 1, padding: 0, groups: 1, bias: true)), [g], label, follow: x)
            g = add(.activation(.hsigmoid), [g], label)
            x = add(.multiply, [x, g], label)
        }
        x = convBN(x, out: out, kernel: 1, act: .none, LayerLabel(scope, block: block, .project))
        if stride == 1 && inC == out {
            x = add(.add, [input, x], LayerLabel(scope, block: block, .add))
        }
        return x
    }

    // MARK: Cell family (NAS-Bench-201)

    mutating func buildCell(_ spec: CellSpec, classes: Int, space: SearchSpace, candidate: Candidate) {
        var x = convBN(0, out: spec.stemWidth, kernel: 3, act: .none, LayerLabel("stem", .stem))
        let ops = spec.edges.map { CellSpec.Op(rawValue: space.value($0.parameter, in: candidate)!.stringValue!)! }
        for (si, stage) in spec.stages.enumerated() {
            let scope = "c\(si + 1)"
            if si > 0 {
                // ResNet basic block with stride 2: ReLU-conv-BN twice, avg-pool + 1x1 conv shortcut.
                let c = stage.width
                var a = add(.activation(.relu), [x], LayerLabel(scope, .reduceA))
                a = convBN(a, out: c, kernel: 3, stride: 2, act: .none, LayerLabel(scope, .reduceA), prunable: true)
                var b = add(.activation(.relu), [a], LayerLabel(scope, .reduceB))
                b = convBN(b, out: c, kernel: 3, act: .none, LayerLabel(scope, .reduceB))
                var s = add(.avgPool(kernel: 2, stride: 2, padding: 0), [x], LayerLabel(scope, .shortcut))
                s = add(.conv(.init(inChannels: nodes[x].shape.channels, outChannels: c, kernel: 1, stride: 1, padding: 0, groups: 1, bias: false)),
                        [s], LayerLabel(scope, .shortcut))
                x = add(.add, [b, s], LayerLabel(scope, .add))
            }
            for cell in 0..<stage.cells {
                var nodeOut = [x]
                for j in 1..<spec.nodes {
                    var terms: [Int] = []
                    for (e, edge) in spec.edges.enumerated() where edge.to == j {
                        let label = LayerLabel(scope, block: cell + 1, .edge, index: e)
                        let src = nodeOut[edge.from]
                        switch ops[e] {
                        case .none: terms.append(add(.zero, [src], label))
                        case .skipConnect: terms.append(src)
                        case .conv1x1, .conv3x3:
                            let r = add(.activation(.relu), [src], label)
                            terms.append(convBN(r, out: nodes[src].shape.channels, kernel: ops[e] == .conv1x1 ? 1 : 3, act: .none, label))
                        case .avgPool3x3: terms.append(add(.avgPool(kernel: 3, stride: 1, padding: 1), [src], label))
                        }
                    }
                    nodeOut.append(terms.count == 1 ? terms[0] : add(.add, NodeInputs(terms), LayerLabel(scope, block: cell + 1, .node, index: j)))
                }
                x = nodeOut[spec.nodes - 1]
            }
        }
        x = add(.batchNorm, [x], LayerLabel("head", .lastact))
        x = add(.activation(.relu), [x], LayerLabel("head", .lastact))
        x = add(.globalAvgPool, [x], LayerLabel("head", .pool))
        add(.linear(.init(inFeatures: nodes[x].shape.channels, outFeatures: classes, bias: true)), [x], LayerLabel("classifier", .classifier))
    }
}
