import Synchronization

/// One point of a search space: the architecture choices and the compression settings.
///
/// `choices` holds a value for every active dimension (parameters with more than one
/// choice whose condition holds), architecture and compression alike; fixed parameters
/// are implied by the space. The canonical JSON (keys sorted, only active fields) is the
/// candidate's identity: `id` is a hash of it.
public struct Candidate: Hashable, Sendable {
    public let space: String
    public let choices: [String: ChoiceValue]
    public let compression: CompressionConfig
    /// The canonical JSON and id, computed on first use and shared by copies (a search
    /// asks for a candidate's id many times: freshness, history, predictions, the store).
    private let memo = IdentityMemo()

    init(space: String, choices: [String: ChoiceValue], compression: CompressionConfig) {
        self.space = space
        self.choices = choices
        self.compression = compression
    }

    public static func == (a: Candidate, b: Candidate) -> Bool {
        a.space == b.space && a.choices == b.choices && a.compression == b.compression
    }

    /// Hashes the contents once per candidate (copies share it): a drawn candidate is
    /// looked up in several tables (freshness, figures, history).
    public func hash(into h: inout Hasher) {
        if let known = memo.hash.withLock({ $0 }) { h.combine(known); return }
        var own = Hasher()
        own.combine(space)
        own.combine(choices)
        own.combine(compression)
        let made = own.finalize()
        memo.hash.withLock { $0 = made }
        h.combine(made)
    }

    /// Canonical JSON text: `{"arch":{...},"compression":{...},"space":"..."}`, keys sorted.
    /// Written directly (this runs for every candidate a search draws); equal to `json.canonical`.
    public var canonicalJSON: String {
        var out = "{\"arch\":{"
        out.reserveCapacity(64 + choices.count * 32)
        var first = true
        for (k, v) in choices.sorted(by: { $0.key < $1.key }) where !CompressionKeys.all.contains(k) {
            if !first { out += "," }
            first = false
            out += JSONText.quote(k)
            out += ":"
            out += v.json
        }
        out += "},\"compression\":"
        out += compression.canonicalText
        out += ",\"space\":"
        out += JSONText.quote(space)
        out += "}"
        return out
    }

    /// The canonical JSON as a value, for embedding in larger documents.
    public var json: JSONValue {
        let arch = choices.filter { !CompressionKeys.all.contains($0.key) }.sorted { $0.key < $1.key }
        return .object([
            ("arch", .object(arch.map { ($0.key, JSONValue($0.value)) })),
            ("compression", compression.json),
            ("space", .string(space)),
        ])
    }

    /// The first 16 hex digits of the SHA-256 of the canonical JSON.
    public var id: String { identity.id }

    /// The canonical JSON and the id made from it, computed once per candidate.
    public var identity: (json: String, id: String) {
        if let known = memo.value.withLock({ $0 }) { return known }
        let text = canonicalJSON
        let made = (json: text, id: String(SHA256.hex(text).prefix(16)))
        memo.value.withLock { $0 = made }
        return made
    }
}

/// A candidate's identity once computed (a class, so that copies of the candidate share it).
final class IdentityMemo: Sendable {
    let value = Mutex<(json: String, id: String)?>(nil)
    /// The hash of the contents (within this process: `Hasher` is seeded per process).
    let hash = Mutex<Int?>(nil)
}

extension SearchSpace {
    /// The value a parameter takes in a candidate: its choice, or the fixed value.
    public func value(_ name: String, in candidate: Candidate) -> ChoiceValue? {
        if let v = candidate.choices[name] { return v }
        guard let p = parameter(named: name), p.isFixed else { return nil }
        return p.choices[0]
    }

    /// Builds a candidate from an assignment of dimensions, which must already be
    /// complete and consistent (see `complete`).
    func makeCandidate(_ assignment: [String: ChoiceValue]) -> Candidate {
        let lookup: (String) -> ChoiceValue? = { name in
            assignment[name] ?? self.parameter(named: name).flatMap { $0.isFixed ? $0.choices[0] : nil }
        }
        var c = CompressionConfig()
        typealias K = CompressionKeys
        c.pruning = CompressionConfig.PruningMethod(rawValue: lookup(K.pruningMethod)?.stringValue ?? "none") ?? .none
        if c.pruning != .none { c.pruningRatio = lookup(K.pruningRatio)?.doubleValue ?? 0 }
        c.weightBits = lookup(K.weightBits)?.intValue ?? 32
        c.activationBits = lookup(K.activationBits)?.intValue ?? 32
        if c.isQuantized {
            c.quantMode = CompressionConfig.QuantMode(rawValue: lookup(K.quantMode)?.stringValue ?? "ptq") ?? .ptq
        }
        if c.weightBits <= 8 {
            c.granularity = CompressionConfig.Granularity(rawValue: lookup(K.quantGranularity)?.stringValue ?? "per_channel") ?? .perChannel
        }
        c.distillation = lookup(K.distillEnabled)?.boolValue ?? false
        if c.distillation {
            c.temperature = lookup(K.distillTemperature)?.doubleValue ?? 4
            c.alpha = lookup(K.distillAlpha)?.doubleValue ?? 0.5
        }
        c.rankRatio = lookup(K.rankRatio)?.doubleValue ?? 1
        c.clusters = lookup(K.clusters)?.intValue ?? 0
        return Candidate(space: name, choices: assignment, compression: c)
    }

    /// A candidate from chosen values of some dimensions: the active ones missing are drawn
    /// uniformly, the inactive ones dropped (for strategies that model each dimension).
    public func candidate(from partial: [String: ChoiceValue], using rng: inout SeededGenerator) -> Candidate {
        makeCandidate(complete(partial, using: &rng))
    }

    /// Whether a parameter takes part, given the values chosen so far.
    func isActive(_ p: Parameter, _ assignment: [String: ChoiceValue]) -> Bool {
        guard let cond = p.condition else { return true }
        return cond.holds { name in
            assignment[name] ?? self.parameter(named: name).flatMap { $0.isFixed ? $0.choices[0] : nil }
        }
    }

    /// Fills in missing active dimensions by sampling and drops inactive ones, in
    /// parameter order (controllers come before what they control).
    func complete(_ partial: [String: ChoiceValue], using rng: inout SeededGenerator) -> [String: ChoiceValue] {
        var out: [String: ChoiceValue] = [:]
        out.reserveCapacity(parameters.count)
        for p in parameters where !p.isFixed {
            guard isActive(p, out) else { continue }
            if let v = partial[p.name] {
                out[p.name] = v
            } else {
                out[p.name] = p.choices[rng.index(below: p.choices.count)]
            }
        }
        return out
    }

    /// A candidate drawn uniformly per dimension (each active dimension independently).
    public func sample(using rng: inout SeededGenerator) -> Candidate {
        makeCandidate(complete([:], using: &rng))
    }

    /// `count` candidates from `seed`; the same seed gives the same list.
    public func sample(count: Int, seed: UInt64) -> [Candidate] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in sample(using: &rng) }
    }

    /// A neighbour: one active dimension changed to another of its values (and any
    /// dimensions that change brings into play sampled fresh).
    public func mutate(_ c: Candidate, using rng: inout SeededGenerator) -> Candidate {
        let active = parameters.filter { !$0.isFixed && c.choices[$0.name] != nil }
        guard !active.isEmpty else { return c }
        let p = active[rng.index(below: active.count)]
        let current = p.index(of: c.choices[p.name]!) ?? 0
        var next = rng.index(below: p.choices.count - 1)
        if next >= current { next += 1 }
        var assignment = c.choices
        assignment[p.name] = p.choices[next]
        return makeCandidate(complete(assignment, using: &rng))
    }

    /// Uniform crossover: each dimension from one parent or the other.
    public func crossover(_ a: Candidate, _ b: Candidate, using rng: inout SeededGenerator) -> Candidate {
        var assignment: [String: ChoiceValue] = [:]
        for p in parameters where !p.isFixed {
            let pick = rng.index(below: 2) == 0 ? (a.choices[p.name] ?? b.choices[p.name]) : (b.choices[p.name] ?? a.choices[p.name])
            if let pick { assignment[p.name] = pick }
        }
        return makeCandidate(complete(assignment, using: &rng))
    }

    /// Whether a candidate lies in this space: every active dimension set to one of its
    /// choices and nothing else set.
    public func contains(_ c: Candidate) -> Bool {
        guard c.space == name else { return false }
        var seen = 0
        for p in parameters where !p.isFixed {
            let active = isActive(p, c.choices)
            let v = c.choices[p.name]
            if active != (v != nil) { return false }
            if let v {
                guard p.index(of: v) != nil else { return false }
                seen += 1
            }
        }
        return seen == c.choices.count
    }
}
