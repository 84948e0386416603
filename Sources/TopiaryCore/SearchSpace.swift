/// A search space loaded from YAML: the network family with its choices, the
/// compression techniques with theirs, and the flat list of parameters both expand to.
public struct SearchSpace: Sendable {
    public var name: String
    public var summary: String
    /// The file it came from (or a label such as `<stdin>`), used in error messages.
    public var file: String
    /// The YAML text exactly as read, stored with every search.
    public var yamlText: String
    /// SHA-256 of `yamlText`.
    public var hash: String
    /// The input shape; with elastic resolution (`input.size` a dimension) at the smallest size.
    public var input: TensorShape
    public var classes: Int
    public var network: NetworkSpec
    /// Every parameter in sampling order; those with more than one choice are the dimensions.
    public var parameters: [Parameter]
    /// Which public benchmark's keys the candidates map to, if any.
    public var benchmark: BenchmarkKind?

    let parameterIndex: [String: Int]

    init(name: String, summary: String, file: String, yamlText: String, input: TensorShape, classes: Int,
         network: NetworkSpec, parameters: [Parameter], benchmark: BenchmarkKind?) {
        self.name = name
        self.summary = summary
        self.file = file
        self.yamlText = yamlText
        self.hash = SHA256.hex(yamlText)
        self.input = input
        self.classes = classes
        self.network = network
        self.parameters = parameters
        self.benchmark = benchmark
        var index: [String: Int] = [:]
        for (i, p) in parameters.enumerated() { index[p.name] = i }
        self.parameterIndex = index
    }

    /// The parameters that have a real choice (more than one value).
    public var dimensions: [Parameter] { parameters.filter { $0.choices.count > 1 } }

    public func parameter(named name: String) -> Parameter? {
        parameterIndex[name].map { parameters[$0] }
    }
}

/// Channels x height x width of a tensor (batch of one).
public struct TensorShape: Hashable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    public var elements: Int { channels * height * width }
    public var description: String { "\(channels)x\(height)x\(width)" }
}

/// Which public benchmark a space reproduces.
public enum BenchmarkKind: String, Sendable {
    case nasBenchMacro = "nas-bench-macro"
    case nasBench201 = "nas-bench-201"
}

/// One named choice of the space. A parameter with one value is fixed; with more it is
/// a dimension that sampling, mutation and crossover act on.
public struct Parameter: Sendable {
    public enum Section: String, Sendable { case arch, compression }

    public var name: String
    public var choices: [ChoiceValue]
    public var section: Section
    /// Parameters of one group are counted together; conditions refer only within a group.
    public var group: String
    /// When absent, the parameter is always active.
    public var condition: Condition?

    public var isFixed: Bool { choices.count == 1 }

    /// Index of `value` among the choices (1 and 1.0 match).
    public func index(of value: ChoiceValue) -> Int? {
        choices.firstIndex { $0.matches(value) }
    }
}

/// When a parameter takes part in a candidate.
public enum Condition: Sendable {
    /// Active when the integer parameter is at least the value (block b of a stage is
    /// active when the stage's depth is at least b).
    case atLeast(String, Int)
    /// Active when the parameter's value is not this one (a pruning ratio when the method is not `none`).
    case notEqual(String, ChoiceValue)
    /// Active when any of these integer parameters is at most the value (quantization
    /// mode when weights or activations have 8 bits or fewer).
    case anyAtMost([String], Int)

    /// The parameters this condition reads.
    public var controllers: [String] {
        switch self {
        case .atLeast(let p, _), .notEqual(let p, _): return [p]
        case .anyAtMost(let ps, _): return ps
        }
    }

    func holds(_ value: (String) -> ChoiceValue?) -> Bool {
        switch self {
        case let .atLeast(p, n): return (value(p)?.intValue ?? 0) >= n
        case let .notEqual(p, v): return !(value(p)?.matches(v) ?? false)
        case let .anyAtMost(ps, n): return ps.contains { (value($0)?.intValue ?? Int.max) <= n }
        }
    }
}

extension SearchSpace {
    /// The dimension of an elastic-resolution space (`input: {size: [224, 192, 160, 128]}`).
    public static let inputSizeDimension = "input.size"

    /// Whether the space's input resolution is a dimension.
    public var elasticResolution: Bool { parameter(named: Self.inputSizeDimension) != nil }

    /// The input a candidate's network takes: the declared input, at the candidate's size
    /// where the resolution is elastic.
    public func input(of candidate: Candidate) -> TensorShape {
        guard elasticResolution, let size = (candidate.choices[Self.inputSizeDimension] ?? parameter(named: Self.inputSizeDimension)?.choices.first)?.intValue
        else { return input }
        return TensorShape(channels: input.channels, height: size, width: size)
    }
}
