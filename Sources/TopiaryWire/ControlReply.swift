import Foundation

/// The daemon's replies to control requests, typed like the requests: `{"ok": true, …}`
/// with the reply's fields beside `ok`, or `{"ok": false, "error": "…"}`.
public enum ControlReply {
    /// The reply's JSON text for a request that succeeded.
    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain values cannot fail.
        return String(decoding: try! encoder.encode(Success(value: value)), as: UTF8.self)
    }

    /// The reply's JSON text for a refused request.
    public static func failure(_ message: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(Failure(ok: false, error: message)), as: UTF8.self)
    }

    /// Reads a reply: the value, or the daemon's refusal as a `ControlError`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(ControlError) -> T {
        let data = Data(bytes)
        do {
            let status = try JSONDecoder().decode(Failure.self, from: data)
            guard status.ok else { throw ControlError(status.error ?? "the daemon refused the request") }
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as ControlError {
            throw e
        } catch let e as DecodingError {
            throw ControlError("the daemon's reply does not read: \(ControlError(e).description)")
        } catch {
            throw ControlError("the daemon's reply does not read: \(error)")
        }
    }

    private struct Success<T: Encodable>: Encodable {
        var value: T
        enum Keys: String, CodingKey { case ok }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(true, forKey: .ok)
            try value.encode(to: encoder)
        }
    }

    private struct Failure: Codable {
        var ok: Bool
        var error: String?
    }
}

/// `ping`.
public struct PingReply: Codable, Sendable, Equatable {
    public var version: Int
    public var controlVersion: Int
    public var workers: Int
    public var searches: Int
    public init(version: Int, controlVersion: Int, workers: Int, searches: Int) {
        self.version = version; self.controlVersion = controlVersion; self.workers = workers; self.searches = searches
    }
    enum CodingKeys: String, CodingKey { case version, controlVersion = "control_version", workers, searches }
}

/// `search.start`.
public struct StartedReply: Codable, Sendable, Equatable {
    public var search: Int64
    /// The strategy the search runs (what `auto` chose), and why it was chosen, when chosen.
    public var strategy: String?
    public var chosenBecause: String?
    /// Something about the search's settings the user should know (it started anyway).
    public var warning: String?
    public init(search: Int64, strategy: String? = nil, chosenBecause: String? = nil, warning: String? = nil) {
        self.search = search; self.strategy = strategy; self.chosenBecause = chosenBecause; self.warning = warning
    }
    enum CodingKeys: String, CodingKey { case search, strategy, chosenBecause = "chosen_because", warning }
}

/// `search.pause`, `search.resume`, `search.cancel`.
public struct SteerReply: Codable, Sendable, Equatable {
    public var search: Int64
    public var state: String
    /// Running trials stopped (cancel).
    public var stopped: Int?
    public init(search: Int64, state: String, stopped: Int? = nil) { self.search = search; self.state = state; self.stopped = stopped }
}

/// One search, as `search.list` and `search.show` describe it.
public struct SearchSummary: Codable, Sendable, Equatable {
    public struct Best: Codable, Sendable, Equatable {
        public var accuracy: Double
        public var candidate: String
        public init(accuracy: Double, candidate: String) { self.accuracy = accuracy; self.candidate = candidate }
    }

    /// One of the best candidates (`search.show`).
    public struct Top: Codable, Sendable, Equatable {
        public var candidate: String
        public var accuracy: Double?
        public var params: Int
        public var sizeBytes: Int
        public var macs: Int
        /// From the search's final phase (trained again at full fidelity); nil in older replies.
        public var final: Bool?
        public init(candidate: String, accuracy: Double?, params: Int, sizeBytes: Int, macs: Int, final: Bool? = nil) {
            self.candidate = candidate; self.accuracy = accuracy; self.params = params; self.sizeBytes = sizeBytes; self.macs = macs
            self.final = final
        }
        enum CodingKeys: String, CodingKey { case candidate, accuracy, params, sizeBytes = "size_bytes", macs, final }
    }

    public var search: Int64
    public var space: String
    public var target: String
    public var strategy: String
    public var state: String
    public var budget: Int?
    public var seed: UInt64
    /// Trials by state (`queued`, `running`, `completed`, `failed`, `pruned`, `cancelled`).
    public var counts: [String: Int]
    /// ISO 8601.
    public var createdAt: String
    /// What admission turned away before training (while the daemon runs the search, or
    /// since it ended in this daemon's run).
    public var rejectedByConstraints: Int?
    public var infeasibleOnTarget: Int?
    public var lastInfeasibility: String?
    /// `none`, `profile`, or `calibrated on N measurements`.
    public var latencyModel: String?
    public var best: Best?
    /// Why no connected worker can take its queued trials, when none can.
    public var waiting: String?
    /// The candidate the strategy recommends (it may differ from the best observed result:
    /// strategies discount a lucky evaluation).
    public var recommended: String?
    /// The error of the last failed trial.
    public var lastFailure: String?
    /// `search.show` only.
    public var top: [Top]?
    /// Candidates the final phase trains again (`--finalists`), and its trials by state
    /// (also counted in `counts`); nil without a final phase.
    public var finalists: Int?
    public var finalCounts: [String: Int]?
    /// How candidates are evaluated: `supernet:ID` (weights inherited), `trains the supernet`
    /// for a supernet search; nil: trained as the fidelity says.
    public var evaluator: String?

    public init(search: Int64, space: String, target: String, strategy: String, state: String, budget: Int?, seed: UInt64,
                counts: [String: Int], createdAt: String) {
        self.search = search; self.space = space; self.target = target; self.strategy = strategy; self.state = state
        self.budget = budget; self.seed = seed; self.counts = counts; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case search, space, target, strategy, state, budget, seed, counts, createdAt = "created_at"
        case rejectedByConstraints = "rejected_by_constraints", infeasibleOnTarget = "infeasible_on_target"
        case lastInfeasibility = "last_infeasibility", latencyModel = "latency_model", best, top, waiting
        case lastFailure = "last_failure", recommended, finalists
        case finalCounts = "final_counts", evaluator
    }

    /// Trials that ended (completed, failed, pruned or cancelled), final ones included.
    public var ended: Int { Self.ended(counts) }
    /// Final-phase trials that ended.
    public var finalEnded: Int { finalCounts.map(Self.ended) ?? 0 }

    static func ended(_ counts: [String: Int]) -> Int { ["completed", "failed", "pruned", "cancelled"].reduce(0) { $0 + (counts[$1] ?? 0) } }
}

/// `search.list`.
public struct SearchListReply: Codable, Sendable, Equatable {
    public var searches: [SearchSummary]
    public init(searches: [SearchSummary]) { self.searches = searches }
}

/// One connected worker (`workers`).
public struct WorkerInfo: Codable, Sendable, Equatable {
    public var worker: String
    public var host: String
    public var slots: Int
    public var running: Int
    public var done: Int
    /// The attempts it holds, `TRIAL#ATTEMPT`.
    public var jobs: [String]
    public var tags: [String]
    public var trainers: [String]
    public var lastHeartbeatMs: Int
    public var connectedS: Int
    /// The allow-list name of its CURVE key (or the key), `plain` without CURVE.
    public var key: String
    public init(worker: String, host: String, slots: Int, running: Int, done: Int, jobs: [String], tags: [String], trainers: [String],
                lastHeartbeatMs: Int, connectedS: Int, key: String) {
        self.worker = worker; self.host = host; self.slots = slots; self.running = running; self.done = done; self.jobs = jobs
        self.tags = tags; self.trainers = trainers; self.lastHeartbeatMs = lastHeartbeatMs; self.connectedS = connectedS; self.key = key
    }
    enum CodingKeys: String, CodingKey {
        case worker, host, slots, running, done, jobs, tags, trainers, lastHeartbeatMs = "last_heartbeat_ms", connectedS = "connected_s", key
    }
}

/// `workers`.
public struct WorkerListReply: Codable, Sendable, Equatable {
    public var workers: [WorkerInfo]
    public init(workers: [WorkerInfo]) { self.workers = workers }
}
