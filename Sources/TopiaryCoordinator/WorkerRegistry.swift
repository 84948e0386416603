import Foundation
import TopiaryWire

/// What the coordinator knows of one connected worker.
struct WorkerState {
    var name: String
    var identity: [UInt8]
    var host: String
    var slots: Int
    var tags: Set<String>
    var trainers: Set<String>
    var lastHeard: Date
    var lastSent: Date
    var connectedAt: Date
    /// Attempts it holds (started, or reserved while their start is being written) -> search.
    var running: [AttemptRef: Int64] = [:]
    var done = 0
    /// The CURVE public key it authenticated with (nil without CURVE).
    var key: String?
    /// Progress reports received per attempt (bounded by `maxReportsPerAttempt`).
    var reports: [AttemptRef: Int] = [:]

    var free: Int { slots - running.count }
}

/// The connected workers: who they are (name, socket identity, key), what they hold, when
/// they were last heard, and the limits on joining (HELLO rates, how many, how many slots).
/// Knows nothing of sockets or the store: the loop sends what the registry decides.
struct WorkerRegistry {
    let maxWorkers: Int
    let maxSlotsPerWorker: Int
    let helloRate: Double
    private(set) var workers: [String: WorkerState] = [:]
    private var byIdentity: [[UInt8]: String] = [:]
    private var helloTokens: Double
    private var lastHelloRefill: Date
    /// HELLOs per authenticated key in the current 10 s window: one key cannot use up the
    /// shared HELLO rate (keys are few: the allow-list bounds this table).
    private var hellosByKey: [String: (start: Date, count: Int)] = [:]
    static let hellosPerKeyWindow: TimeInterval = 10
    static let hellosPerKey = 5

    init(maxWorkers: Int, maxSlotsPerWorker: Int, helloRate: Double, now: Date = Date()) {
        self.maxWorkers = maxWorkers
        self.maxSlotsPerWorker = maxSlotsPerWorker
        self.helloRate = helloRate
        helloTokens = 2 * helloRate
        lastHelloRefill = now
    }

    var count: Int { workers.count }
    var names: Dictionary<String, WorkerState>.Keys { workers.keys }
    var all: Dictionary<String, WorkerState>.Values { workers.values }

    subscript(name: String) -> WorkerState? {
        get { workers[name] }
        _modify { yield &workers[name] }
    }

    /// The worker behind a socket identity, if it said HELLO on that socket.
    func name(of identity: [UInt8]) -> String? { byIdentity[identity] }

    // MARK: Joining

    enum HelloGate: Equatable {
        case pass
        /// One key sent more than `hellosPerKey` HELLOs in the window.
        case tooManyFromKey
        /// The shared rate (burst: twice the rate) is used up.
        case tooManyJoining
    }

    /// Whether a HELLO may be looked at now, by its key's window and the shared token bucket.
    mutating func gateHello(key: String?, now: Date) -> HelloGate {
        if let key {
            var w = hellosByKey[key] ?? (now, 0)
            if now.timeIntervalSince(w.start) > Self.hellosPerKeyWindow { w = (now, 0) }
            w.count += 1
            hellosByKey[key] = w
            if w.count > Self.hellosPerKey { return .tooManyFromKey }
        }
        helloTokens = min(2 * helloRate, helloTokens + now.timeIntervalSince(lastHelloRefill) * helloRate)
        lastHelloRefill = now
        guard helloTokens >= 1 else { return .tooManyJoining }
        helloTokens -= 1
        return .pass
    }

    /// Why a well-formed HELLO is refused for good (REJECT), if it is.
    func refusal(_ hello: Hello, key: String?) -> String? {
        if let old = workers[hello.worker], old.key != key {
            return "the worker name '\(hello.worker)' is in use by another key; give this worker its own --name"
        }
        guard hello.version == Wire.version else {
            return "protocol version \(hello.version) is not supported; the coordinator speaks \(Wire.version)"
        }
        return nil
    }

    /// Whether a new worker (not a reconnecting one) must wait for a place.
    func isFull(for name: String) -> Bool { workers[name] == nil && workers.count >= maxWorkers }

    /// The slots a worker asking for `asked` is granted.
    func grantedSlots(_ asked: Int) -> Int { min(asked, maxSlotsPerWorker) }

    /// Registers a worker that said HELLO (replacing its earlier connection, if any) holding
    /// `held`; returns its state.
    @discardableResult
    mutating func join(_ hello: Hello, identity: [UInt8], key: String?, held: [AttemptRef: Int64], now: Date) -> WorkerState {
        if let old = workers[hello.worker] { byIdentity[old.identity] = nil }
        let w = WorkerState(name: hello.worker, identity: identity, host: hello.host, slots: grantedSlots(hello.slots),
                            tags: Set(hello.tags), trainers: Set(hello.trainers), lastHeard: now, lastSent: now,
                            connectedAt: now, running: held, key: key)
        workers[hello.worker] = w
        byIdentity[identity] = hello.worker
        return w
    }

    /// Removes a worker; returns what it was (its running attempts need requeuing).
    mutating func remove(_ name: String) -> WorkerState? {
        guard let w = workers.removeValue(forKey: name) else { return nil }
        byIdentity[w.identity] = nil
        return w
    }

    // MARK: Liveness

    /// Workers silent for longer than `deadAfter`.
    func silent(now: Date, deadAfter: TimeInterval) -> [String] {
        workers.values.filter { now.timeIntervalSince($0.lastHeard) > deadAfter }.map(\.name).sorted()
    }

    /// Workers that were sent nothing for `interval`: they are due a heartbeat.
    func dueHeartbeat(now: Date, interval: TimeInterval) -> [WorkerState] {
        workers.values.filter { now.timeIntervalSince($0.lastSent) >= interval }
    }

    mutating func heard(_ name: String, at now: Date) { workers[name]?.lastHeard = now }

    mutating func sent(to identity: [UInt8], at now: Date) {
        if let name = byIdentity[identity] { workers[name]?.lastSent = now }
    }

    // MARK: Capacity

    var freeSlots: Int { workers.values.reduce(0) { $0 + max(0, $1.free) } }

    var runningCount: Int { workers.values.reduce(0) { $0 + $1.running.count } }

    /// The workers as the scheduler sees them.
    var slots: [Scheduler.WorkerSlots] {
        workers.values.map { Scheduler.WorkerSlots(name: $0.name, free: $0.free, trainers: $0.trainers, tags: $0.tags) }
    }

    // MARK: Progress reports

    enum ReportCount: Equatable { case within, firstOverLimit, overLimit }

    /// Counts a progress report of `ref` from `name`, at most `limit` per attempt. The
    /// table forgets attempts the worker no longer holds once it grows past its slots.
    mutating func countReport(_ name: String, _ ref: AttemptRef, limit: Int) -> ReportCount {
        guard workers[name] != nil else { return .overLimit }
        // Changed in place: a copy of the worker would copy its tables on every report.
        let seen = workers[name]!.reports[ref, default: 0] + 1
        workers[name]!.reports[ref] = seen
        if workers[name]!.reports.count > 4 * max(workers[name]!.slots, 16) {
            let live = workers[name]!.running
            workers[name]!.reports = workers[name]!.reports.filter { live[$0.key] != nil }
        }
        if seen <= limit { return .within }
        return seen == limit + 1 ? .firstOverLimit : .overLimit
    }
}
