import Foundation
import Synchronization
import TopiaryCore
import TopiaryHardware
import TopiarySearch
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
    /// The calibration saved beside the target's profile when the search started (its
    /// JSON): the model's starting point, refined by the store's measurements of the target.
    public var targetCalibration: String?
    /// The strategy's settings (`--strategy-option key=value`).
    public var strategyOptions: StrategyOptions = StrategyOptions()
    /// `--retry-failed`: every trainer failure (not only a signal or a lost worker) queues the
    /// trial again while the search's `max_attempts` last.
    public var retryFailed = false
    /// Files every job of the search names (`search start --artifact NAME=SHA256`): workers
    /// fetch them from the coordinator once and give the trainer their paths.
    public var artifacts: [WireArtifact] = []
    /// `--reproducible`: trials are drawn in batches of this many, each drawn when the last
    /// has ended and been told in suggestion order, so the sequence does not depend on how
    /// many workers there are or the order they finish in. Nil: asynchronous (the default).
    public var reproducibleBatch: Int?
    public static let reproducibleBatchSize = 8
    /// `--dataset`: the training data's path on the workers (nil: the trainer's default).
    public var dataset: String?
    /// `--finalists`: how many recommended candidates are trained again at `finalFidelity`
    /// once the budget is spent.
    public var finalists = 0
    /// The final phase's fidelity object (the search's, with `--final-fidelity` over it).
    public var finalFidelity: JSONValue?
    /// A search that trains the space's supernet (`topiary supernet train`): its one trial is
    /// the largest network, sent as a `supernet` job with this many sampled networks.
    public var supernetPool: Int?
    /// `--evaluator supernet:ID`: candidates are evaluated with weights inherited from the
    /// supernet trained by search ID (its checkpoint is the jobs' `supernet` artifact).
    public var evaluator: String?

    /// The final phase's fidelity when none is given: all the data, four times the
    /// search's epochs (at least 4) and fine-tuning a quarter of that; structurally
    /// compressed finalists (channel pruning, low rank) train their compressed architecture
    /// from the start (`from_scratch`), which at full budget matches or beats cutting a trained
    /// network and needs no recovery epochs.
    public static func defaultFinalFidelity(over search: JSONValue) -> [(String, JSONValue)] {
        let epochs = max(4, 4 * (search["epochs"]?.intValue ?? Int(search["epochs"]?.doubleValue ?? 1)))
        var pairs: [(String, JSONValue)] = [("epochs", .int(epochs)), ("data_fraction", .int(1)), ("val_fraction", .int(1)), ("test_fraction", .int(1)),
                                            ("from_scratch", .int(1))]
        if search["finetune_epochs"] != nil { pairs.append(("finetune_epochs", .int(max(1, epochs / 4)))) }
        return pairs
    }

    /// Fidelity keys of a search that its final phase does not inherit (the distillation
    /// teacher's training: see `CoordinatorLoop.startSearch`).
    public static let searchOnlyFidelityKeys: Set<String> = ["teacher_epochs", "teacher_data_fraction"]

    /// The final phase's fidelity number for the store (its epochs).
    public var finalFidelityValue: Double { Self.stored(finalFidelity?["epochs"]?.doubleValue ?? fidelityValue) }

    /// A fidelity as the store keeps it: positive (0 epochs, evaluation by inheritance, is
    /// stored as the lowest fidelity, 1).
    static func stored(_ epochs: Double) -> Double { epochs > 0 ? epochs : 1 }

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
        if let targetCalibration { p.append(("target_calibration", .string(targetCalibration))) }
        p.append(("strategy_options", strategyOptions.json))
        if retryFailed { p.append(("retry_failed", .bool(true))) }
        if !artifacts.isEmpty { p.append(("artifacts", .array(artifacts.map(\.json)))) }
        if let reproducibleBatch { p.append(("reproducible_batch", .int(reproducibleBatch))) }
        if let dataset { p.append(("dataset", .string(dataset))) }
        if finalists > 0 { p.append(("finalists", .int(finalists))) }
        if let finalFidelity { p.append(("final_fidelity", finalFidelity)) }
        if let supernetPool { p.append(("supernet_pool", .int(supernetPool))) }
        if let evaluator { p.append(("evaluator", .string(evaluator))) }
        return .object(p)
    }

    public init(json: JSONValue) throws {
        trainer = json["trainer"]?.stringValue ?? "table"
        fidelity = json["fidelity"] ?? .object([])
        deadlineSeconds = json["deadline_s"]?.intValue ?? 3600
        constraints = try (json["constraints"]?.arrayValue ?? []).compactMap(\.stringValue).map(Constraint.parse)
        kind = TrialKind(rawValue: json["kind"]?.stringValue ?? "train") ?? .train
        targetYAML = json["target_yaml"]?.stringValue
        targetCalibration = json["target_calibration"]?.stringValue
        if let o = json["strategy_options"] { strategyOptions = try StrategyOptions(json: o) }
        retryFailed = json["retry_failed"]?.boolValue ?? false
        artifacts = try WireArtifact.list(Envelope(.job, .object([("artifacts", json["artifacts"] ?? .null)])))
        reproducibleBatch = json["reproducible_batch"]?.intValue
        dataset = json["dataset"]?.stringValue
        finalists = json["finalists"]?.intValue ?? 0
        finalFidelity = json["final_fidelity"]
        supernetPool = json["supernet_pool"]?.intValue
        evaluator = json["evaluator"]?.stringValue
    }

    /// The kind of job its trials are sent as.
    public var jobKind: String { supernetPool != nil ? "supernet" : kind.rawValue }

    /// The trial's fidelity number for the store: epochs if given, else 1 (see `stored`).
    public var fidelityValue: Double { Self.stored(fidelity["epochs"]?.doubleValue ?? fidelity["fidelity"]?.doubleValue ?? 1) }
}

/// A candidate drawn for a search, with what is known of it before training.
struct Drawn {
    var candidate: Candidate
    var fidelity: Double
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
    var fidelity: Double
}

/// What admission turned away before training, counted from inside the strategy's
/// constraint (which runs wherever the strategy calls it).
final class AdmissionStats: Sendable {
    private let state = Mutex<(rejected: Int, infeasible: Int, last: String?)>((0, 0, nil))
    func reject() { state.withLock { $0.rejected += 1 } }
    func infeasible(_ why: String) { state.withLock { $0.infeasible += 1; $0.last = why } }
    var snapshot: (rejected: Int, infeasible: Int, last: String?) { state.withLock { $0 } }
}

/// The checks a candidate passes before it may be trained: the target can run it, and
/// it meets the search's constraints. Also gives its figures known before training.
struct Admission: Sendable {
    let space: SearchSpace
    let model: LatencyModel?
    let constraints: [Constraint]
    let stats: AdmissionStats
    /// Cost and predicted latency per candidate, computed once: the constraint, the
    /// strategy's predictor and the enqueue all ask for them (shared by searches of the
    /// same space and latency model, `FigureCaches`).
    let cache: FigureCache

    func figures(_ c: Candidate) -> Figures {
        if let f = cache.get(c) { return f }
        let graph = NetworkGraph.build(compressed: c, in: space)
        let cost = graph.cost()
        var f = Figures(cost: cost, latencyMs: nil, problems: nil)
        if let model {
            let report = model.predict(graph, cost: cost)
            f.latencyMs = report.milliseconds
            if !report.fits { f.problems = report.problems.map(\.description).joined(separator: "; ") }
        }
        cache.put(c, f)
        return f
    }

    /// Cost and predicted latency, or nil (counted) when the candidate is not admitted.
    func check(_ c: Candidate) -> (CostReport, Double?)? {
        let f = figures(c)
        if let why = f.problems {
            stats.infeasible(why)
            return nil
        }
        if !constraints.allSatisfy({ $0.admits(f.cost, latencyMs: f.latencyMs) }) {
            stats.reject()
            return nil
        }
        return (f.cost, f.latencyMs)
    }

    /// The names of the figures `metrics` gives: known before training, so a result need
    /// not report them.
    static let figureNames: Set<String> = ["macs", "params", "size_kb", "memory_kb", "latency_ms"]

    /// The figures strategies may use as objectives (see `CostFigures`), from the cache.
    func metrics(_ c: Candidate) -> [String: Double] {
        let f = figures(c)
        var m: [String: Double] = ["macs": Double(f.cost.macs), "params": Double(f.cost.params),
                                   "size_kb": Double(f.cost.sizeBytes) / 1024, "memory_kb": Double(f.cost.peakActivationBytes) / 1024]
        if let l = f.latencyMs { m["latency_ms"] = l }
        return m
    }

    func predictedLatency(_ c: Candidate) -> Double? { figures(c).latencyMs }
}

/// What is known of a candidate before training.
struct Figures: Sendable {
    var cost: CostReport
    var latencyMs: Double?
    /// Why the target cannot run it, if it cannot.
    var problems: String?
}

/// A bounded, thread-safe memo of candidate figures (cleared when full). The figures
/// depend only on the space and the latency model: `FigureCaches` hands one memo to every
/// search of the same pair.
final class FigureCache: Sendable {
    private let table = Mutex<[Candidate: Figures]>([:])
    static let capacity = 50_000
    func get(_ c: Candidate) -> Figures? { table.withLock { $0[c] } }
    func put(_ c: Candidate, _ f: Figures) {
        table.withLock {
            if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
            $0[c] = f
        }
    }
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
    /// Trials that failed for good (attempts used up, or a final failure).
    var failed = 0
    /// Reproducible searches: ends not yet told to the strategy (told in trial order when
    /// the batch is over).
    var heldTells: [(trial: Int64, key: TrialKey, status: TrialStatus)] = []
    /// Nothing drawn is waiting, running or being enqueued.
    var isIdle: Bool { queued == 0 && running == 0 && enqueuing == 0 }
    /// Trials drawn whose enqueue the store writer has not finished (counted in `created`).
    var enqueuing = 0
    /// Enqueues the store refused in a row (for their values, not its availability); at
    /// `enqueueFailureLimit` the search is paused instead of drawing again.
    var enqueueFailures = 0
    static let enqueueFailureLimit = 3
    /// Trials of the final phase (the finalists at full fidelity): not told to the strategy,
    /// not counted against the budget.
    var finalTrials: Set<Int64> = []
    /// Whether the final phase was entered (its trials created, or nothing to train again).
    var finalPhaseStarted = false
    /// Final trials whose enqueue the store writer has not finished.
    var finalEnqueuing = 0
    /// Candidates by id, for building jobs.
    var candidates: [String: Candidate] = [:]
    /// The strategy, rebuilt from the trial history when the daemon restarts.
    var strategy: any SearchStrategy
    /// The strategy's key of each trial of the search.
    var keys: [Int64: TrialKey] = [:]
    let admission: Admission
    /// The target's latency model (calibrated when the store has measurements), if the
    /// search names a known target.
    var model: LatencyModel? { admission.model }
    var calibratedFrom = 0

    var rejected: Int { admission.stats.snapshot.rejected }
    var infeasible: Int { admission.stats.snapshot.infeasible }
    var lastInfeasibility: String? { admission.stats.snapshot.last }
    var best: (accuracy: Double, candidate: String)?
    /// The strategy's answer as control replies show it (throttled; see `RecommendationMemo`).
    let recommendation = RecommendationMemo()
    /// The objectives a training result must report (not figures known before training).
    let reportedObjectives: [String]

    var id: Int64 { record.id! }

    /// The trials that count against the budget: a failed trial is replaced by a new one
    /// (a candidate the trainer cannot evaluate, a key missing from a table) — unless half or
    /// more of the ended trials failed: a trainer that fails everything does not burn twice
    /// the budget, and the search ends with its failures said (`--follow` exits 1).
    var counted: Int { failed * 2 < finished ? created - failed : created }
    var budget: Int { record.budget ?? Int.max }
    var queued: Int { queue.count - queueHead }

    /// A search's runtime with its strategy restored from `history` (trial id order).
    init(record: SearchRecord, space: SearchSpace, settings: RunSettings, model: LatencyModel?, calibratedFrom: Int,
         history: [Trial], figures: FigureCache = FigureCache()) throws {
        self.record = record
        self.space = space
        self.settings = settings
        self.calibratedFrom = calibratedFrom
        let admission = Admission(space: space, model: model, constraints: settings.constraints, stats: AdmissionStats(), cache: figures)
        self.admission = admission
        let objectives = try record.objectives.map { text throws -> SearchObjective in try SearchObjective.parse(text) }
        reportedObjectives = settings.kind == .train ? objectives.map(\.metric).filter { !Admission.figureNames.contains($0) } : []
        let problem = SearchProblem(space: space, seed: record.seedValue, fidelity: settings.fidelityValue, objectives: objectives,
                                    constraint: { admission.check($0) != nil },
                                    predictor: { admission.metrics($0) })
        strategy = try Strategies.make(record.strategy, options: settings.strategyOptions, problem: problem, history: history)
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

    /// The next candidates the strategy suggests (each already admitted: the target can run
    /// it and it meets the constraints), with their cost and predicted latency.
    mutating func draw(_ count: Int) -> [Drawn] {
        if settings.supernetPool != nil {
            // A supernet's one trial: the largest network, whatever the strategy.
            guard created == 0 else { return [] }
            return [drawn(space.extremeNetwork(largest: true), fidelity: settings.fidelityValue)]
        }
        return strategy.suggest(count: count).map { drawn($0.candidate, fidelity: $0.fidelity) }
    }

    /// A candidate about to be queued, with its figures; remembered for building its jobs.
    mutating func drawn(_ c: Candidate, fidelity: Double) -> Drawn {
        let (json, id) = c.identity
        candidates[id] = c
        let f = admission.figures(c)
        return Drawn(candidate: c, fidelity: fidelity, id: id, canonicalJSON: json, cost: f.cost, predictedMs: f.latencyMs)
    }

    /// The first of the search's objectives that a training result must report and
    /// `metrics` lacks (figures the daemon knows before training, like `params` or
    /// `latency_ms`, need not be reported); nil when nothing is missing or the search measures.
    func missingObjective(_ metrics: [String: Double]) -> String? {
        reportedObjectives.first { metrics[$0] == nil }
    }

    /// The job's fidelity object: the search's, with `epochs` set to the trial's fidelity
    /// when the strategy varies it (ASHA).
    func fidelityJSON(_ fidelity: Double) -> JSONValue {
        guard fidelity != settings.fidelityValue else { return settings.fidelity }
        var pairs = (settings.fidelity.objectPairs ?? []).filter { $0.0 != "epochs" }
        pairs.append(("epochs", fidelity == fidelity.rounded() ? .int(Int(fidelity)) : .double(fidelity)))
        return .object(pairs)
    }

    /// The job for a queued trial.
    func job(_ t: QueuedTrial, kind: TrialKind) -> Job? {
        guard let c = candidates[t.candidateID] else { return nil }
        let key = space.benchmark != nil ? try? space.encodeBenchmarkKey(c) : nil
        let needsGraph = settings.trainer != "table"
        var seed = record.seedValue ^ UInt64(t.trial) &* 0x9E37_79B9_7F4A_7C15
        seed ^= UInt64(t.attempt)
        seed &= UInt64(Int64.max)  // non-negative on the wire, whatever a worker parses it as
        var job = Job(ref: AttemptRef(trial: t.trial, attempt: t.attempt), search: id, kind: settings.jobKind, trainer: settings.trainer,
                      candidate: c.json, graph: needsGraph ? NetworkGraph.build(compressed: c, in: space).json : nil,
                      benchmarkKey: key, fidelity: finalTrials.contains(t.trial) ? settings.finalFidelity ?? fidelityJSON(t.fidelity) : fidelityJSON(t.fidelity),
                      seed: seed,
                      deadlineMs: settings.deadlineSeconds * 1000, target: record.target)
        job.artifacts = settings.artifacts
        job.dataset = settings.dataset
        if let pool = settings.supernetPool {
            job.supernet = SupernetPool.json(space: space, count: pool, seed: record.seedValue)
        }
        // Structural compression is done for real by training the full network first.
        if needsGraph && kind == .train && (c.compression.pruning == .channel || c.compression.rankRatio < 1) {
            job.graphUncompressed = NetworkGraph.build(c, in: space).json
        }
        return job
    }
}
