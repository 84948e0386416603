import Foundation
import TopiaryArtifacts
import TopiaryCore

/// `search.start`: everything a search needs, sent whole so that the daemon needs no file
/// of the client's. Defaults and the checks that need no search space are here, used by
/// the CLI before it sends and by the daemon when it receives.
public struct StartSearchRequest: Codable, Sendable, Equatable {
    public static let defaultTarget = "host-cpu"
    /// `auto`: the daemon picks by objectives and budget (`Strategies.auto`).
    public static let defaultStrategy = "auto"
    public static let defaultDeadlineSeconds = 3_600
    public static let defaultMaxAttempts = 3
    public static let defaultObjectives = ["accuracy:max"]
    public static let budgets = 1...10_000_000
    public static let maxAttemptsRange = 1...100
    public static let kinds = ["train", "measure", "supernet"]

    /// The search space's YAML text, and the file it came from (for error messages).
    public var spaceYAML: String
    public var spaceFile: String = "<space>"
    public var target: String = Self.defaultTarget
    /// The target's profile (YAML text): the daemon predicts latency with it.
    public var targetYAML: String?
    /// The calibration saved beside the profile (JSON text), if any.
    public var targetCalibration: String?
    /// `train`, `measure` (time candidates on workers tagged with the target) or `supernet`
    /// (train the space's supernet: one trial, the largest network; `topiary supernet train`).
    public var kind = "train"
    public var strategy = Self.defaultStrategy
    /// The strategy's settings, `key` -> value as text (`--strategy-option key=value`).
    public var strategyOptions: [String: String] = [:]
    public var budget: Int
    /// `NAME:max|min`; none means `accuracy:max`.
    public var objectives: [String] = []
    /// `NAME<=VALUE` or `NAME>=VALUE`, checked before training.
    public var constraints: [String] = []
    public var seed: UInt64 = 0
    /// The trainer workers must offer; nil: `table` for benchmark spaces, else `pytorch`.
    public var trainer: String?
    /// Sent to the trainer as the job's `fidelity` object, e.g. `epochs` = 3.
    public var fidelity: [String: FidelityValue] = [:]
    public var deadlineSeconds = Self.defaultDeadlineSeconds
    public var maxAttempts = Self.defaultMaxAttempts
    /// Retry every failure (not only lost workers and signals) while attempts last.
    public var retryFailed = false
    /// `NAME=SHA256`: files in the coordinator's artifacts directory every job gets.
    public var artifacts: [String] = []
    /// The same trial sequence whatever the workers (batches told in suggestion order).
    public var reproducible = false
    /// The training data every job uses (`search start --dataset`): an absolute path, as
    /// the workers see it, to a folder of class folders or a NumPy `.npz`; nil for the
    /// trainer's default (Fashion-MNIST).
    public var dataset: String?
    /// How many of the search's recommended candidates are trained again, at
    /// `finalFidelity`, once the budget is spent (the final phase); 0 for none.
    public var finalists = 0
    /// The final phase's fidelity settings, over the search's (`--final-fidelity epochs=8`);
    /// empty: `RunSettings.defaultFinalFidelity`.
    public var finalFidelity: [String: FidelityValue] = [:]
    public static let finalistsRange = 0...20
    /// A supernet search's sampled networks (nil: `SupernetPool.defaultSize`).
    public var supernetPool: Int?
    /// How candidates are evaluated: nil (trained as the fidelity says), or `supernet` /
    /// `supernet:ID` (weights inherited from the space's latest supernet, or search ID's).
    public var evaluator: String?

    public init(spaceYAML: String, budget: Int) {
        self.spaceYAML = spaceYAML
        self.budget = budget
    }

    enum CodingKeys: String, CodingKey {
        case spaceYAML = "space_yaml", spaceFile = "space_file", target, targetYAML = "target_yaml"
        case targetCalibration = "target_calibration", kind, strategy, strategyOptions = "strategy_options", budget
        case objectives, constraints, seed, trainer, fidelity, deadlineSeconds = "deadline_s", maxAttempts = "max_attempts"
        case retryFailed = "retry_failed", artifacts, reproducible, dataset, finalists
        case finalFidelity = "final_fidelity", supernetPool = "supernet_pool", evaluator
    }

    /// Absent fields take their defaults; present ones must have the right type.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spaceYAML = try c.decode(String.self, forKey: .spaceYAML)
        budget = try c.decode(Int.self, forKey: .budget)
        spaceFile = try c.decodeIfPresent(String.self, forKey: .spaceFile) ?? spaceFile
        target = try c.decodeIfPresent(String.self, forKey: .target) ?? target
        targetYAML = try c.decodeIfPresent(String.self, forKey: .targetYAML)
        targetCalibration = try c.decodeIfPresent(String.self, forKey: .targetCalibration)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? kind
        strategy = try c.decodeIfPresent(String.self, forKey: .strategy) ?? strategy
        strategyOptions = try c.decodeIfPresent([String: String].self, forKey: .strategyOptions) ?? [:]
        objectives = try c.decodeIfPresent([String].self, forKey: .objectives) ?? []
        constraints = try c.decodeIfPresent([String].self, forKey: .constraints) ?? []
        if let value = try? c.decodeIfPresent(UInt64.self, forKey: .seed) {
            seed = value
        } else if c.contains(.seed), try c.decodeNil(forKey: .seed) == false {
            throw ControlError("'seed' must be an integer from 0 to \(UInt64.max)")
        }
        trainer = try c.decodeIfPresent(String.self, forKey: .trainer)
        fidelity = try c.decodeIfPresent([String: FidelityValue].self, forKey: .fidelity) ?? [:]
        deadlineSeconds = try c.decodeIfPresent(Int.self, forKey: .deadlineSeconds) ?? deadlineSeconds
        maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? maxAttempts
        retryFailed = try c.decodeIfPresent(Bool.self, forKey: .retryFailed) ?? false
        artifacts = try c.decodeIfPresent([String].self, forKey: .artifacts) ?? []
        reproducible = try c.decodeIfPresent(Bool.self, forKey: .reproducible) ?? false
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset)
        finalists = try c.decodeIfPresent(Int.self, forKey: .finalists) ?? 0
        finalFidelity = try c.decodeIfPresent([String: FidelityValue].self, forKey: .finalFidelity) ?? [:]
        supernetPool = try c.decodeIfPresent(Int.self, forKey: .supernetPool)
        evaluator = try c.decodeIfPresent(String.self, forKey: .evaluator)
    }

    /// The supernet search an `evaluator` names: nil for `supernet` (the space's latest).
    /// Throws when the evaluator is not `supernet` or `supernet:ID`.
    public static func supernetID(evaluator: String) throws(ControlError) -> Int64? {
        if evaluator == "supernet" { return nil }
        let p = evaluator.split(separator: ":", maxSplits: 1)
        guard p.count == 2, p[0] == "supernet", let id = Int64(p[1]), id > 0 else {
            throw ControlError("evaluator '\(evaluator)': expected supernet or supernet:ID (a search of `topiary supernet list`)")
        }
        return id
    }

    /// The objectives to search for (the default when none is given).
    public var effectiveObjectives: [String] { objectives.isEmpty ? Self.defaultObjectives : objectives }

    /// The checks that need no search space, strategy or target: numbers in range, forms of
    /// objectives and constraints. Throws the first problem, naming the field.
    public func check() throws(ControlError) {
        guard Self.budgets.contains(budget) else { throw ControlError("'budget' must be an integer from 1 to \(Self.budgets.upperBound)") }
        guard deadlineSeconds >= 1 else { throw ControlError("'deadline_s' must be at least 1 second") }
        guard Self.maxAttemptsRange.contains(maxAttempts) else { throw ControlError("'max_attempts' must be 1...100") }
        guard Self.kinds.contains(kind) else { throw ControlError("'kind' must be train, measure or supernet, not '\(kind)'") }
        if kind == "supernet" {
            guard budget == 1 else { throw ControlError("a supernet search has one trial: 'budget' must be 1") }
            guard finalists == 0, evaluator == nil else { throw ControlError("a supernet search trains the supernet only: no 'finalists' or 'evaluator'") }
        }
        if let supernetPool {
            guard kind == "supernet" else { throw ControlError("'supernet_pool' is for a supernet search (kind supernet)") }
            guard SupernetPool.sizes.contains(supernetPool) else {
                throw ControlError("'supernet_pool' must be \(SupernetPool.sizes.lowerBound) to \(SupernetPool.sizes.upperBound)")
            }
        }
        if let evaluator {
            _ = try Self.supernetID(evaluator: evaluator)
            guard kind == "train" else { throw ControlError("'evaluator' is for a train search") }
        }
        for o in objectives {
            let p = o.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 2, !p[0].isEmpty, ["max", "min"].contains(p[1]) else {
                throw ControlError("objective '\(o)': expected NAME:max or NAME:min")
            }
        }
        for c in constraints where !c.contains("<=") && !c.contains(">=") {
            throw ControlError("constraint '\(c)': expected NAME<=VALUE, e.g. params<=100000 or latency_ms<=5")
        }
        if let dataset, !dataset.hasPrefix("/") || dataset.contains("\0") {
            throw ControlError("'dataset' must be an absolute path (as the workers see it), got '\(dataset)'")
        }
        guard Self.finalistsRange.contains(finalists) else { throw ControlError("'finalists' must be 0 to \(Self.finalistsRange.upperBound)") }
        if finalists > 0 && kind == "measure" { throw ControlError("'finalists' are trained again: a measure search has none") }
        if !finalFidelity.isEmpty && finalists == 0 { throw ControlError("'final_fidelity' needs 'finalists' (how many to train again)") }
        if targetCalibration != nil && targetYAML == nil { throw ControlError("'target_calibration' needs 'target_yaml'") }
        for a in artifacts {
            let p = a.split(separator: "=", maxSplits: 1).map(String.init)
            guard p.count == 2, WireArtifact.isPlainName(p[0]), ArtifactHasher.isDigest(p[1]) else {
                throw ControlError("artifact '\(a)': expected NAME=SHA256 (a plain file name and 64 lower-case hex digits; `topiary artifacts add FILE` prints it)")
            }
        }
    }
}

/// A fidelity setting's value: an integer, a number or text (`epochs=3`, `fraction=0.2`, `data=fashion`).
public enum FidelityValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)

    /// The value as JSON (sent to trainers in the job's `fidelity`).
    public var json: JSONValue {
        switch self {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        }
    }

    /// Reads a command-line value: an integer if it is one, else a number, else text.
    public init(parsing text: String) {
        if let i = Int(text) { self = .int(i) } else if let d = Double(text), d.isFinite { self = .double(d) } else { self = .string(text) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "a fidelity value is a number or text"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        }
    }
}
