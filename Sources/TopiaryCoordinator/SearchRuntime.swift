import Foundation
import TopiaryCore
import TopiaryHardware
import TopiaryStore
import TopiaryWire

/// Settings of a search that the coordinator needs to run it, kept in the search's
/// `strategy_settings` JSON so that a restarted daemon finds them again.
public struct RunSettings: Sendable {
    public var trainer: String
    /// Sent to the trainer as the job's `fidelity` object, e.g. {"epochs": 3}.
    public var fidelity: JSONValue
    public var deadlineSeconds: Int
    public var constraints: [Constraint]
    /// `train`, or `measure` (time candidates on the target: only workers tagged with it).
    public var kind: TrialKind
    /// The hardware target's profile, kept with the search so a restarted daemon has it.
    public var targetYAML: String?

    public init(trainer: String, fidelity: JSONValue, deadlineSeconds: Int, constraints: [Constraint],
                kind: TrialKind = .train, targetYAML: String? = nil) {
        self.trainer = trainer
        self.fidelity = fidelity
        self.deadlineSeconds = deadlineSeconds
        self.constraints = constraints
        self.kind = kind
        self.targetYAML = targetYAML
    }

    public var json: JSONValue {
        var p: [(String, JSONValue)] = [("trainer", .string(trainer)), ("fidelity", fidelity), ("deadline_s", .int(deadlineSeconds)),
                                        ("constraints", .array(constraints.map { .string($0.description) })), ("kind", .string(kind.rawValue))]
        if let targetYAML { p.append(("target_yaml", .string(targetYAML))) }
        return .object(p)
    }

    public init(json: JSONValue) throws {
        trainer = json["trainer"]?.stringValue ?? "table"
        fidelity = json["fidelity"] ?? .object([])
        deadlineSeconds = json["deadline_s"]?.intValue ?? 3600
        constraints = try (json["constraints"]?.arrayValue ?? []).compactMap(\.stringValue).map(Constraint.parse)
        kind = TrialKind(rawValue: json["kind"]?.stringValue ?? "train") ?? .train
        targetYAML = json["target_yaml"]?.stringValue
    }

    /// The trial's fidelity number for the store: epochs if given, else 1.
    public var fidelityValue: Double { fidelity["epochs"]?.doubleValue ?? fidelity["fidelity"]?.doubleValue ?? 1 }
}

/// A candidate drawn for a search, with what is known of it before training.
struct Drawn {
    var candidate: Candidate
    var id: String
    var canonicalJSON: String
    var cost: CostReport
    var predictedMs: Double?

    /// The store's row for the candidate, from what was already computed.
    var record: CandidateRecord {
        let c = candidate.compression
        return CandidateRecord(id: id, spaceName: candidate.space, canonicalJSON: canonicalJSON, macs: cost.macs, params: cost.params,
                               sizeBytes: cost.sizeBytes, peakActivationBytes: cost.peakActivationBytes, weightBits: c.weightBits,
                               activationBits: c.activationBits, pruningMethod: c.pruning.rawValue,
                               pruningRatio: c.pruning == .none ? 0 : c.pruningRatio, compressionSummary: c.summary)
    }
}

/// A queued trial waiting in memory for a free slot.
struct QueuedTrial {
    var trial: Int64
    var attempt: Int
    var candidateID: String
}

/// Everything the coordinator keeps about one active (or paused) search.
struct SearchRuntime {
    var record: SearchRecord
    let space: SearchSpace
    let settings: RunSettings
    var queue: [QueuedTrial] = []
    var queueHead = 0
    /// Trials created so far (any state).
    var created = 0
    var running = 0
    var finished = 0
    /// Candidate ids already given a trial in this search: never evaluated twice.
    var seen: Set<String> = []
    /// Candidates by id, for building jobs.
    var candidates: [String: Candidate] = [:]
    var rng: SeededGenerator
    /// Draws rejected by constraints, for `search show`.
    var rejected = 0
    /// Draws the target cannot run (memory, precision), and the last reason.
    var infeasible = 0
    var lastInfeasibility: String?
    /// The target's latency model (calibrated when the store has measurements), if the
    /// search names a known target.
    var model: LatencyModel?
    var calibratedFrom = 0
    var best: (accuracy: Double, candidate: String)?

    var id: Int64 { record.id! }
    var budget: Int { record.budget ?? Int.max }
    var queued: Int { queue.count - queueHead }

    init(record: SearchRecord, space: SearchSpace, settings: RunSettings) {
        self.record = record
        self.space = space
        self.settings = settings
        self.rng = SeededGenerator(seed: record.seedValue)
    }

    mutating func popQueued() -> QueuedTrial? {
        guard queueHead < queue.count else { return nil }
        let t = queue[queueHead]
        queueHead += 1
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return t
    }

    mutating func pushQueued(_ t: QueuedTrial) { queue.append(t) }

    /// Puts a trial back at the head of the queue (its start failed).
    mutating func pushFront(_ t: QueuedTrial) {
        if queueHead > 0 {
            queueHead -= 1
            queue[queueHead] = t
        } else {
            queue.insert(t, at: 0)
        }
    }

    /// Draws the next candidates for the search (random sampling here; strategies proper
    /// plug in behind the same call), skipping those already tried and those that break a
    /// constraint. Returns at most `count`; the draw sequence depends only on the seed, so a
    /// restarted daemon that replays `created` accepted draws continues the same sequence.
    mutating func draw(_ count: Int, maxAttempts: Int = 10_000) -> [Drawn] {
        var out: [Drawn] = []
        var tries = 0
        while out.count < count && tries < maxAttempts {
            tries += 1
            let c = space.sample(using: &rng)
            let (json, id) = c.identity
            if seen.contains(id) { continue }
            let graph = NetworkGraph.build(compressed: c, in: space)
            let cost = graph.cost()
            var latency: Double?
            if let model {
                let report = model.predict(graph)
                if !report.fits {
                    infeasible += 1
                    lastInfeasibility = report.problems.map(\.description).joined(separator: "; ")
                    continue
                }
                latency = report.milliseconds
            }
            if !settings.constraints.allSatisfy({ $0.admits(cost, latencyMs: latency) }) {
                rejected += 1
                continue
            }
            seen.insert(id)
            candidates[id] = c
            out.append(Drawn(candidate: c, id: id, canonicalJSON: json, cost: cost, predictedMs: latency))
        }
        return out
    }

    /// The job for a queued trial.
    func job(_ t: QueuedTrial, kind: TrialKind) -> Job? {
        guard let c = candidates[t.candidateID] else { return nil }
        let key = space.benchmark != nil ? try? space.encodeBenchmarkKey(c) : nil
        let needsGraph = settings.trainer != "table"
        var seed = record.seedValue ^ UInt64(t.trial) &* 0x9E37_79B9_7F4A_7C15
        seed ^= UInt64(t.attempt)
        return Job(ref: AttemptRef(trial: t.trial, attempt: t.attempt), search: id, kind: kind.rawValue, trainer: settings.trainer,
                   candidate: c.json, graph: needsGraph ? NetworkGraph.build(compressed: c, in: space).json : nil,
                   benchmarkKey: key, fidelity: settings.fidelity, seed: seed,
                   deadlineMs: settings.deadlineSeconds * 1000, target: record.target)
    }
}
