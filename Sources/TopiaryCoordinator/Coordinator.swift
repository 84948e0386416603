import Foundation
import Logging
import Synchronization
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// Settings of the daemon (`topiary serve`).
public struct CoordinatorConfig: Sendable {
    public var bind: String
    public var control: String
    public var heartbeatMs = Wire.defaultHeartbeatMs
    public var liveness = Wire.defaultLiveness
    /// On shutdown, wait this long for running trials to finish before leaving them to
    /// be reclaimed after a restart (0: leave at once).
    public var drainSeconds = 0.0
    /// Queued trials kept ready per search, beyond the free slots.
    public var lookahead = 8
    /// Most workers served at once; more are refused.
    public var maxWorkers = 1_000
    /// Most jobs in flight on one worker, whatever slots it announces.
    public var maxSlotsPerWorker = 64
    /// HELLOs accepted per second across all peers (burst: twice as many); beyond, the
    /// peer is told to retry later (BYE), which a real worker does with backoff.
    public var helloRate = 20.0
    /// Progress reports kept per attempt; more are dropped.
    public var maxReportsPerAttempt = 10_000
    /// CURVE: the coordinator's key pair and the worker keys it admits (checked by a ZAP
    /// handler). Nil: plain TCP, which `run()` refuses on a non-loopback bind unless
    /// `allowPlainNetwork`.
    public var curve: (keys: CurveKeyPair, allow: AllowList)?
    public var allowPlainNetwork = false

    public init(bind: String, control: String) {
        self.bind = bind
        self.control = control
    }
}

/// The coordinator daemon: keeps every active search going, hands trials to workers over
/// ZeroMQ, and records what comes back in the store.
///
/// One thread (the caller of `run()`) owns both sockets and all scheduling state; the
/// store is the only shared resource. Writes from one turn of the loop are batched.
public final class Coordinator: Sendable {
    let config: CoordinatorConfig
    let store: Store
    let logger: Logger
    private let stopFlag = Atomic<Bool>(false)
    private let boundEndpoints = Mutex<(String, String)?>(nil)

    public init(config: CoordinatorConfig, store: Store, logger: Logger) {
        self.config = config
        self.store = store
        self.logger = logger
    }

    /// Asks the loop to finish (graceful shutdown).
    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// The worker and control endpoints actually bound, once `run()` has bound them.
    public var endpoints: (workers: String, control: String)? { boundEndpoints.withLock { $0.map { ($0.0, $0.1) } } }

    public func run() throws {
        var loop = try CoordinatorLoop(config: config, store: store, logger: logger)
        boundEndpoints.withLock { $0 = (loop.workerSocket.lastEndpoint, loop.controlSocket.lastEndpoint) }
        try loop.run(shouldStop: { self.stopFlag.load(ordering: .relaxed) })
    }
}

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
    var running: [AttemptRef: Int64] = [:]   // attempt -> search
    var done = 0
    /// The CURVE public key it authenticated with (nil without CURVE).
    var key: String?
    /// Progress reports received per attempt (bounded by `maxReportsPerAttempt`).
    var reports: [AttemptRef: Int] = [:]

    var free: Int { slots - running.count }
}

struct CoordinatorLoop {
    let config: CoordinatorConfig
    let store: Store
    let logger: Logger
    let context = ZMQContext()
    let workerSocket: ZMQSocket
    let controlSocket: ZMQSocket
    /// Answers libzmq's authentication requests when CURVE is on.
    let zap: ZAPHandler?
    var allow: AllowList?
    var allowStamp = ""
    var lastAllowCheck = Date()
    var helloTokens: Double
    /// HELLOs per authenticated key in the current 10 s window: one key cannot use up
    /// the shared HELLO rate (keys are few: the allow-list bounds this table).
    var hellosByKey: [String: (start: Date, count: Int)] = [:]
    var lastHelloRefill = Date()
    var logLimiter = LogLimiter()
    var workers: [String: WorkerState] = [:]
    var byIdentity: [[UInt8]: String] = [:]
    var searches: [Int64: SearchRuntime] = [:]
    /// Trials left running by a previous daemon, waiting for their workers to reconnect.
    var orphans: [Int64: (attempt: Int, search: Int64)] = [:]
    var orphanDeadline = Date.distantFuture
    var stopping = false
    var stopDeadline = Date.distantFuture
    // Batched writes of one loop turn. Results and failures stay here, unacknowledged,
    // until the store has them: while the database is unavailable (disk full, locked, …)
    // they are retried every `storeRetryInterval` and the workers keep their copies.
    var pendingResults: [(TrialResult, worker: String, search: Int64?)] = []
    var pendingFailures: [(ref: AttemptRef, worker: String, search: Int64?, error: String, retryable: Bool)] = []
    /// When the store last failed as unavailable, no writes are tried before this time.
    var storeRetryAt = Date.distantPast
    var storeDown = false
    /// Seconds before the next try while the store is unavailable: 1, doubling to 10.
    var storeRetryInterval: TimeInterval = 1
    var pendingProgress: [TrialProgress] = []
    /// Requeues (a lost worker's trials) the store could not take; retried like results.
    var pendingRequeues: [(ref: AttemptRef, reason: String)] = []
    var lastSeenFlush = Date()
    var dispatched = 0
    /// What searches that ended while this daemon ran rejected before training.
    var endedStats: [Int64: (rejected: Int, infeasible: Int, lastInfeasibility: String?)] = [:]

    init(config: CoordinatorConfig, store: Store, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        helloTokens = 2 * config.helloRate
        if config.curve == nil && !config.allowPlainNetwork && !isLocalEndpoint(config.bind) {
            throw CoordinatorError("\(config.bind) is reachable from other machines: give the coordinator a key pair and an allow-list "
                                   + "of worker keys (--key, --allow; see `topiary keys generate`), or pass --insecure for plain TCP")
        }
        if !config.allowPlainNetwork && !isLocalEndpoint(config.control) {
            throw CoordinatorError("the control endpoint \(config.control) would let anyone who reaches it start and cancel searches: "
                                   + "bind it to 127.0.0.1 or an ipc:// path, or pass --insecure")
        }
        if let curve = config.curve {
            zap = try ZAPHandler(context: context)  // before the CURVE socket binds
            allow = curve.allow
            allowStamp = AllowList.stamp(curve.allow.path)
        } else {
            zap = nil
        }
        workerSocket = try ZMQSocket(context, .router)
        try workerSocket.setRouterMandatory()
        try workerSocket.setMaxMessageSize(Wire.maxWorkerMessageBytes)
        try workerSocket.setReceiveHighWaterMark(1_000)
        if let curve = config.curve { try workerSocket.makeCurveServer(secretKey: curve.keys.secretKey) }
        try workerSocket.bind(config.bind)
        controlSocket = try ZMQSocket(context, .router)
        try controlSocket.setMaxMessageSize(Wire.maxWorkerMessageBytes)
        try controlSocket.bind(config.control)
        try recover()
    }

    var heartbeat: TimeInterval { Double(config.heartbeatMs) / 1000 }
    var deadAfter: TimeInterval { heartbeat * Double(config.liveness) }

    // MARK: Start-up

    /// Resumes every active or paused search from the store. Trials left running by the
    /// previous daemon wait one liveness period for their workers to reclaim them, then
    /// go back to the queue.
    mutating func recover() throws {
        for record in try store.searches() where record.state == .active || record.state == .paused {
            try load(record)
        }
        var count = 0
        for s in searches.values {
            for t in try store.trials(search: s.id, state: .running) {
                orphans[t.trialID] = (t.attempt, s.id)
                count += 1
            }
        }
        count -= stopMissedDecisions()
        if count > 0 { orphanDeadline = Date().addingTimeInterval(deadAfter + heartbeat) }
        logger.info("coordinator started", metadata: [
            "workers": "\(workerSocket.lastEndpoint)", "control": "\(controlSocket.lastEndpoint)",
            "security": "\(config.curve.map { "CURVE, \(allow?.count ?? 0) worker keys allowed (\($0.allow.path))" } ?? "none (plain TCP)")",
            "searches": "\(searches.count)", "orphaned_trials": "\(count)",
        ])
    }

    /// Early stops the strategies would have made while the daemon was down (ASHA in stop
    /// mode: a trial whose reports already fell behind): those orphans are pruned now, and
    /// a worker that comes back still running one is told to cancel it. Returns how many.
    mutating func stopMissedDecisions() -> Int {
        var stopped = 0
        for id in searches.keys.sorted() {
            guard let s = searches[id] else { continue }
            let wanted = Set(s.strategy.trialsToStop())
            guard !wanted.isEmpty else { continue }
            for (trial, key) in s.keys where wanted.contains(key) {
                guard let o = orphans[trial], o.search == id else { continue }
                do {
                    guard try store.prune(trial: trial, attempt: o.attempt, reason: "stopped early by the strategy (decided on restart)") == .recorded else { continue }
                    orphans[trial] = nil
                    searches[id]?.running -= 1
                    searches[id]?.finished += 1
                    tell(id, trial: trial, .stopped)
                    stopped += 1
                } catch {
                    logger.warning("could not stop a trial early", metadata: ["trial": "\(trial)", "error": "\(error)"])
                }
            }
        }
        if stopped > 0 { logger.notice("trials stopped early on restart", metadata: ["count": "\(stopped)"]) }
        return stopped
    }

    /// Builds a search's runtime from the store: its strategy restored from the trial
    /// history (so it continues as if never interrupted), its queue reloaded.
    mutating func load(_ record: SearchRecord) throws {
        let space = try SearchSpace.parse(yaml: record.spaceYAML, file: "search \(record.id!) space")
        let settings = try RunSettings(json: (try? JSONText.parse(record.strategySettings)) ?? .object([]))
        var model: LatencyModel?
        var samples = 0
        if let yaml = settings.targetYAML {
            let target = try HardwareTarget.parse(yaml: yaml, file: "target \(record.target)")
            let saved = settings.targetCalibration.flatMap { try? Calibration.parse(json: $0, file: "search \(record.id!) calibration") }
            let (calibration, n) = calibrate(target, prior: saved)
            model = LatencyModel(target: target, calibration: calibration)
            samples = n
        }
        let trials = try store.trials(search: record.id!)
        var candidates: [String: Candidate] = [:]
        var history: [Trial] = []
        for t in trials {
            if candidates[t.candidateID] == nil, let c = try store.candidate(t.candidateID) {
                candidates[t.candidateID] = try space.decode(json: c.canonicalJSON)
            }
            guard let c = candidates[t.candidateID] else { continue }
            let status: TrialStatus
            switch t.state {
            case .queued, .running: status = .pending
            case .completed: status = .completed(Self.numbers(t.metrics))
            case .failed: status = .failed
            case .pruned, .cancelled: status = .stopped
            }
            let reports = try store.progress(trial: t.trialID).map { ProgressReport(step: Double($0.step), metrics: Self.numbers($0.metrics)) }
            history.append(Trial(candidate: c, fidelity: t.fidelity, status: status, reports: reports))
        }
        var rt = try SearchRuntime(record: record, space: space, settings: settings, model: model, calibratedFrom: samples, history: history)
        rt.candidates = candidates
        rt.created = trials.count
        for t in trials {
            rt.keys[t.trialID] = TrialKey(candidateID: t.candidateID, fidelity: t.fidelity)
            switch t.state {
            case .queued: rt.pushQueued(QueuedTrial(trial: t.trialID, attempt: t.attempt, candidateID: t.candidateID, fidelity: t.fidelity))
            case .running: rt.running += 1
            default:
                rt.finished += 1
                if let a = t.accuracy, a > (rt.best?.accuracy ?? -Double.infinity) { rt.best = (a, t.candidateID) }
            }
        }
        searches[rt.id] = rt
        logger.info("search resumed", metadata: ["search": "\(rt.id)", "strategy": "\(record.strategy)", "trials": "\(trials.count)", "queued": "\(rt.queued)"])
    }

    /// The numeric fields of a stored metrics object.
    static func numbers(_ text: String?) -> [String: Double] {
        guard let text, let pairs = (try? JSONText.parse(text))?.objectPairs else { return [:] }
        var out: [String: Double] = [:]
        for (k, v) in pairs { if let d = v.doubleValue { out[k] = d } }
        return out
    }

    /// Tells a search's strategy how one of its trials ended.
    mutating func tell(_ search: Int64, trial: Int64, _ status: TrialStatus) {
        guard let key = searches[search]?.keys[trial] else { return }
        do { try searches[search]!.strategy.tell(key, status) } catch {
            logger.warning("the strategy refused a report", metadata: ["search": "\(search)", "trial": "\(trial)", "error": "\(error)"])
        }
    }

    /// Fits the target's latency model to the latencies workers measured on it, when
    /// there are enough (5 or more); else the profile's published figures stand alone.
    /// The target's model calibration: fitted to the store's measurements of the target
    /// (starting from `prior`, the calibration saved with the search, when there is one),
    /// else `prior` itself. Returns the calibration and the number of measurements used.
    func calibrate(_ target: HardwareTarget, prior: Calibration? = nil) -> (Calibration?, Int) {
        do {
            let measured = try store.measurements(target: target.name, source: .measured)
            guard measured.count >= 5 else { return (prior, 0) }
            var spaces: [String: SearchSpace] = [:]
            let plain = LatencyModel(target: target)
            var samples: [CalibrationSample] = []
            for m in measured {
                guard let rec = try store.candidate(m.candidateID) else { continue }
                if spaces[rec.spaceName] == nil, let yaml = try store.spaceYAML(named: rec.spaceName) {
                    spaces[rec.spaceName] = try? SearchSpace.parse(yaml: yaml, file: rec.spaceName)
                }
                guard let space = spaces[rec.spaceName], let c = try? space.decode(json: rec.canonicalJSON) else { continue }
                samples.append(plain.sample(NetworkGraph.build(compressed: c, in: space), measuredMilliseconds: m.latencyMs, label: m.candidateID))
            }
            guard samples.count >= 5 else { return (prior, 0) }
            let cal = try Calibrator().fit(samples: samples, target: target, prior: prior?.coefficients)
            logger.notice("latency model calibrated", metadata: ["target": "\(target.name)", "samples": "\(samples.count)",
                                                                  "within_10pct": "\(cal.quality.withinTenPercent)"])
            return (cal, samples.count)
        } catch {
            logger.warning("could not calibrate the latency model; using the saved calibration or the profile alone", metadata: ["target": "\(target.name)", "error": "\(error)"])
            return (prior, 0)
        }
    }

    // MARK: The loop

    mutating func run(shouldStop: () -> Bool) throws {
        var poller = ZMQPoller()
        poller.add(workerSocket)
        poller.add(controlSocket)
        if let zap { poller.add(zap.socket) }
        while true {
            if shouldStop() && !stopping { beginStop() }
            if stopping && (Date() >= stopDeadline || workers.values.allSatisfy { $0.running.isEmpty }) { break }
            let ready = try poller.poll(timeoutMs: 50)
            if zap != nil && ready[2] { try answerAuthentication() }
            if ready[0] {
                var n = 0
                while n < 10_000, let (frames, key) = try workerSocket.receiveAuthenticated(dontWait: true) {
                    handleWorkerMessage(frames, key: key)
                    n += 1
                }
            }
            if ready[1] {
                while let frames = try controlSocket.receive(dontWait: true) { handleControl(frames) }
            }
            flush()
            housekeeping()
            if !stopping && Date() >= storeRetryAt {
                topUp()
                dispatch()
            }
        }
        for w in workers.values { send(w.identity, .bye("coordinator shutting down")) }
        storeRetryAt = .distantPast
        flush()
        if !pendingResults.isEmpty || !pendingFailures.isEmpty {
            logger.warning("leaving reports the database could not take; their workers resend them to the next daemon",
                           metadata: ["results": "\(pendingResults.count)", "failures": "\(pendingFailures.count)"])
        }
        logger.info("coordinator stopped", metadata: ["running_trials": "\(workers.values.reduce(0) { $0 + $1.running.count })"])
    }

    mutating func beginStop() {
        stopping = true
        stopDeadline = Date().addingTimeInterval(config.drainSeconds)
        logger.notice("shutting down: no more dispatching", metadata: ["drain_s": "\(config.drainSeconds)"])
    }

    // MARK: Sending

    @discardableResult
    mutating func send(_ identity: [UInt8], _ e: Envelope) -> Bool {
        do {
            try workerSocket.send([identity] + e.frames, dontWait: true)
            if let name = byIdentity[identity] { workers[name]?.lastSent = Date() }
            return true
        } catch {
            logger.debug("send failed", metadata: ["command": "\(e.command.rawValue)", "error": "\(error)"])
            return false
        }
    }

    // MARK: Worker messages

    mutating func handleWorkerMessage(_ frames: [[UInt8]], key: String? = nil) {
        guard frames.count >= 2 else { return }
        let identity = frames[0]
        let e: Envelope
        do { e = try Envelope.decode(Array(frames.dropFirst())) } catch {
            warnLimited("malformed", "dropped a malformed message", ["peer": "\(printable(identity))", "reason": "\(error)"])
            return
        }
        if e.command == .hello { handleHello(identity, e, key: key); return }
        guard let name = byIdentity[identity], workers[name] != nil else {
            // Unknown peer (e.g. we restarted): ask it to introduce itself again.
            if logLimiter.allow("unknown-peer") {
                logger.info("message from an unknown peer; asking it to reconnect", metadata: ["peer": "\(printable(identity))", "command": "\(e.command.rawValue)"])
            }
            send(identity, .bye("unknown worker; send HELLO"))
            return
        }
        guard workers[name]!.key == key else {
            warnLimited("key-mismatch", "dropped a message whose key is not its worker's", ["worker": "\(name)", "key": "\(key ?? "none")"])
            return
        }
        workers[name]!.lastHeard = Date()
        do {
            switch e.command {
            case .heartbeat: break
            case .progress:
                let ref = try attemptRef(e)
                guard let sid = workers[name]!.running[ref] else { return }
                let seen = workers[name]!.reports[ref, default: 0] + 1
                workers[name]!.reports[ref] = seen
                if workers[name]!.reports.count > 4 * max(workers[name]!.slots, 16) {
                    let live = workers[name]!.running
                    workers[name]!.reports = workers[name]!.reports.filter { live[$0.key] != nil }
                }
                guard seen <= config.maxReportsPerAttempt else {
                    if seen == config.maxReportsPerAttempt + 1 {
                        logger.warning("too many progress reports; dropping the rest", metadata: ["worker": "\(name)", "trial": "\(ref.trial)",
                                                                                                  "limit": "\(config.maxReportsPerAttempt)"])
                    }
                    return
                }
                let f = Fields(e)
                let step = try f.int("step", default: 0)
                let metrics = try f.metrics("metrics")
                pendingProgress.append(TrialProgress(trial: ref.trial, attempt: ref.attempt, step: step, metrics: e.body["metrics"] ?? .object([])))
                if let key = searches[sid]?.keys[ref.trial],
                   (try? searches[sid]!.strategy.report(key, ProgressReport(step: Double(step), metrics: metrics))) == true {
                    stopEarly(name, ref, search: sid)
                }
            case .result:
                let ref = try attemptRef(e)
                let metrics = try Fields(e).metrics("metrics")
                guard ownsOrOrphan(name, ref) else {
                    warnLimited("not-held", "result for a trial this worker does not hold", ["worker": "\(name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)"])
                    send(identity, .ack(ref))
                    return
                }
                var info = metrics.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.double($0.value)) }
                if let extra = e.body["info"], extra != .null { info.append(("info", extra)) }
                pendingResults.append((TrialResult(trial: ref.trial, attempt: ref.attempt, metrics: .object(info)), name, workers[name]?.running[ref]))
            case .failed:
                let ref = try attemptRef(e)
                let f = Fields(e)
                let error = try f.string("error")
                guard ownsOrOrphan(name, ref) else { send(identity, .ack(ref)); return }
                let retryable = try f.bool("retryable", default: false)
                let logPath = try f.optionalString("log")
                // Recorded (and acknowledged) in this turn's flush, or later if the store is unavailable.
                pendingFailures.append((ref, name, workers[name]?.running[ref], error + (logPath.map { " (log: \($0))" } ?? ""), retryable))
            case .bye:
                logger.info("worker leaving", metadata: ["worker": "\(name)", "reason": "\(e.body["reason"]?.stringValue ?? "")"])
                dropWorker(name, reason: "worker said goodbye")
            default:
                warnLimited("unexpected", "dropped an unexpected command", ["worker": "\(name)", "command": "\(e.command.rawValue)"])
            }
        } catch {
            warnLimited("bad-message", "dropped a bad message", ["worker": "\(name)", "reason": "\(error)"])
        }
    }

    /// A warning that a flood of bad input cannot turn into a flood of log lines: at most
    /// a few per kind every 10 s, then one line counting what was left out.
    mutating func warnLimited(_ kind: String, _ message: String, _ metadata: Logger.Metadata) {
        let (ok, suppressed) = logLimiter.check(kind)
        if suppressed > 0 { logger.warning("\(suppressed) more like this were not logged", metadata: ["kind": "\(kind)"]) }
        if ok { logger.warning("\(message)", metadata: metadata) }
    }

    /// Whether the worker may report on this attempt: it holds it, or it is a trial left
    /// running by the previous daemon.
    mutating func ownsOrOrphan(_ name: String, _ ref: AttemptRef) -> Bool {
        if workers[name]?.running[ref] != nil { return true }
        if let o = orphans[ref.trial], o.attempt == ref.attempt {
            orphans[ref.trial] = nil
            workers[name]?.running[ref] = o.search
            return true
        }
        return false
    }

    mutating func handleHello(_ identity: [UInt8], _ e: Envelope, key: String?) {
        let now = Date()
        if let key {
            var w = hellosByKey[key] ?? (now, 0)
            if now.timeIntervalSince(w.start) > 10 { w = (now, 0) }
            w.count += 1
            hellosByKey[key] = w
            guard w.count <= 5 else {
                warnLimited("hello-key-rate", "one key sends too many HELLOs; asking it to retry later", ["key": "\(allow?.name(of: key) ?? key)"])
                send(identity, .bye("more than 5 HELLOs in 10 s from this key; retry later"))
                return
            }
        }
        helloTokens = min(2 * config.helloRate, helloTokens + now.timeIntervalSince(lastHelloRefill) * config.helloRate)
        lastHelloRefill = now
        guard helloTokens >= 1 else {
            warnLimited("hello-rate", "too many HELLOs; asking the peer to retry later", ["peer": "\(printable(identity))", "rate_per_s": "\(config.helloRate)"])
            send(identity, .bye("too many workers joining at once; retry later"))
            return
        }
        helloTokens -= 1
        let hello: Hello
        do { hello = try Hello(e) } catch {
            warnLimited("bad-hello", "rejected a bad HELLO", ["peer": "\(printable(identity))", "reason": "\(error)"])
            send(identity, .reject("bad HELLO: \(error)"))
            return
        }
        if let old = workers[hello.worker], old.key != key {
            warnLimited("name-taken", "refused a HELLO: the worker name belongs to another key",
                        ["worker": "\(hello.worker)", "key": "\(key ?? "none")", "holder": "\(old.key ?? "none")"])
            send(identity, .reject("the worker name '\(hello.worker)' is in use by another key; give this worker its own --name"))
            return
        }
        guard hello.version == Wire.version else {
            send(identity, .reject("protocol version \(hello.version) is not supported; the coordinator speaks \(Wire.version)"))
            return
        }
        var held: [AttemptRef: Int64] = [:]
        if let old = workers[hello.worker] {
            // The same worker reconnected (new socket): keep what it still runs, requeue the rest.
            byIdentity[old.identity] = nil
            let still = Set(hello.running)
            for (ref, search) in old.running {
                if still.contains(ref) { held[ref] = search } else { requeue(ref, reason: "worker \(hello.worker) reconnected without it") }
            }
        } else if workers.count >= config.maxWorkers {
            // Not a refusal: a place may free up, so the worker retries with backoff.
            warnLimited("full", "worker turned away: the coordinator is full", ["worker": "\(hello.worker)", "max_workers": "\(config.maxWorkers)"])
            send(identity, .bye("the coordinator serves at most \(config.maxWorkers) workers; retry later"))
            return
        }
        for ref in hello.running where held[ref] == nil {
            if let o = orphans[ref.trial], o.attempt == ref.attempt {
                orphans[ref.trial] = nil
                held[ref] = o.search
            } else {
                send(identity, .cancel(ref, reason: "the coordinator no longer expects this attempt"))
            }
        }
        let slots = min(hello.slots, config.maxSlotsPerWorker)
        if slots < hello.slots {
            logger.notice("worker asked for more slots than allowed", metadata: ["worker": "\(hello.worker)", "asked": "\(hello.slots)", "granted": "\(slots)"])
        }
        workers[hello.worker] = WorkerState(name: hello.worker, identity: identity, host: hello.host, slots: slots,
                                            tags: Set(hello.tags), trainers: Set(hello.trainers), lastHeard: now, lastSent: now,
                                            connectedAt: now, running: held, key: key)
        byIdentity[identity] = hello.worker
        send(identity, .welcome(worker: hello.worker, heartbeatMs: config.heartbeatMs, liveness: config.liveness, slots: slots,
                                maxMessageBytes: Int(Wire.maxWorkerMessageBytes)))
        do { _ = try store.registerWorker(id: hello.worker, host: hello.host, slots: hello.slots, tags: hello.tags) } catch {
            logger.error("could not record the worker", metadata: ["worker": "\(hello.worker)", "error": "\(error)"])
        }
        logger.info("worker joined", metadata: ["worker": "\(hello.worker)", "host": "\(hello.host)", "slots": "\(slots)",
                                                "key": "\(key.map { allow?.name(of: $0) ?? $0 } ?? "none")",
                                                "tags": "\(hello.tags.joined(separator: ","))", "trainers": "\(hello.trainers.joined(separator: ","))",
                                                "reclaimed": "\(held.count)"])
    }

    /// The strategy judged a running trial not worth finishing (ASHA): prune it and stop it.
    mutating func stopEarly(_ worker: String, _ ref: AttemptRef, search: Int64) {
        flush()  // its progress first, so the pruned trial keeps its reports
        do {
            if try store.prune(trial: ref.trial, attempt: ref.attempt, reason: "stopped early by the strategy") == .recorded {
                workers[worker]?.running[ref] = nil
                searches[search]?.running -= 1
                searches[search]?.finished += 1
                tell(search, trial: ref.trial, .stopped)
                if let identity = workers[worker]?.identity { send(identity, .cancel(ref, reason: "stopped early by the strategy")) }
                logger.info("trial stopped early", metadata: ["search": "\(search)", "trial": "\(ref.trial)", "worker": "\(worker)"])
            }
        } catch {
            logger.warning("could not stop a trial early", metadata: ["trial": "\(ref.trial)", "error": "\(error)"])
        }
    }

    mutating func dropWorker(_ name: String, reason: String) {
        guard let w = workers.removeValue(forKey: name) else { return }
        byIdentity[w.identity] = nil
        for ref in w.running.keys { requeue(ref, reason: "\(reason) (worker \(name))") }
    }

    /// Puts an attempt back in its search's queue (attempt + 1), or fails it when its
    /// attempts are used up.
    mutating func requeue(_ ref: AttemptRef, reason: String) {
        do {
            let outcome = try store.requeue(trial: ref.trial, attempt: ref.attempt, reason: reason)
            try afterRequeue(ref, outcome)
        } catch {
            if storeUnavailable(error) { pendingRequeues.append((ref, reason)); return }
            logger.error("could not requeue a trial", metadata: ["trial": "\(ref.trial)", "attempt": "\(ref.attempt)", "error": "\(error)"])
        }
    }

    mutating func afterRequeue(_ ref: AttemptRef, _ outcome: ReportOutcome) throws {
        // Take the runtime out while changing it: a second reference would copy its tables.
        guard let t = try store.trial(ref.trial), var s = searches.removeValue(forKey: t.searchID) else { return }
        switch outcome {
        case .requeued(let attempt):
            s.running -= 1
            s.pushQueued(QueuedTrial(trial: ref.trial, attempt: attempt, candidateID: t.candidateID, fidelity: t.fidelity))
            logger.info("trial requeued", metadata: ["search": "\(s.id)", "trial": "\(ref.trial)", "attempt": "\(attempt)"])
        case .recorded:
            s.running -= 1
            s.finished += 1
            if let key = s.keys[ref.trial] { try? s.strategy.tell(key, .failed) }
            logger.warning("trial failed: attempts used up", metadata: ["search": "\(s.id)", "trial": "\(ref.trial)"])
        default: break
        }
        searches[s.id] = s
    }

    /// Records a FAILED report: queued again when it is retryable — or the search retries
    /// every failure (`--retry-failed`) — and attempts remain; else failed. Returns false when
    /// the store is unavailable: nothing changed, the caller keeps the report and retries.
    @discardableResult
    mutating func recordFailure(_ worker: String, _ ref: AttemptRef, search: Int64? = nil, error: String, retryable: Bool) -> Bool {
        let sid = search ?? workers[worker]?.running[ref]
        let retry = retryable || (sid.flatMap { searches[$0]?.settings.retryFailed } ?? false)
        do {
            let outcome = try store.recordFailure(trial: ref.trial, attempt: ref.attempt, error: error, retryable: retry)
            workers[worker]?.running[ref] = nil
            logger.warning("trial failed", metadata: ["worker": "\(worker)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)",
                                                      "retryable": "\(retry)", "outcome": "\(outcome)", "error": "\(error.prefix(300))"])
            if case .requeued = outcome { try afterRequeue(ref, outcome) } else if outcome == .recorded, let t = try store.trial(ref.trial) {
                searches[t.searchID]?.running -= 1
                searches[t.searchID]?.finished += 1
                tell(t.searchID, trial: ref.trial, .failed)
            }
        } catch {
            if storeUnavailable(error) { return false }
            workers[worker]?.running[ref] = nil
            logger.error("could not record a failure", metadata: ["trial": "\(ref.trial)", "error": "\(error)"])
        }
        return true
    }

    /// Notes a store error. For `StoreError.unavailable` (disk full, read-only, locked, I/O):
    /// holds writes back for `storeRetryInterval`, logs the outage once, and returns true so
    /// the caller keeps what it could not write. Other errors return false.
    mutating func storeUnavailable(_ error: Error) -> Bool {
        guard let e = error as? StoreError, e.isUnavailable else { return false }
        storeRetryAt = Date().addingTimeInterval(storeRetryInterval)
        storeRetryInterval = min(storeRetryInterval * 2, 10)
        if !storeDown {
            storeDown = true
            logger.error("cannot write the database; holding results unacknowledged and retrying (after 1 s, backing off to 10 s)", metadata: [
                "error": "\(e)", "held_results": "\(pendingResults.count)", "held_failures": "\(pendingFailures.count)",
            ])
        }
        return true
    }

    /// Notes that a write succeeded after an outage.
    mutating func storeWritable() {
        guard storeDown else { return }
        storeDown = false
        storeRetryInterval = 1
        logger.notice("the database is writable again", metadata: ["path": "\(store.path)"])
    }

    // MARK: Batched writes

    mutating func flush() {
        guard Date() >= storeRetryAt else { return }
        flushResults()
        flushFailures()
        if !pendingRequeues.isEmpty && Date() >= storeRetryAt {
            let held = pendingRequeues
            pendingRequeues.removeAll()
            for (i, r) in held.enumerated() {
                requeue(r.ref, reason: r.reason)
                if storeDown && Date() < storeRetryAt {  // down again: keep the rest for later
                    pendingRequeues += held[(i + 1)...]
                    break
                }
            }
        }
        if !pendingProgress.isEmpty && Date() >= storeRetryAt {
            do { _ = try store.recordProgress(pendingProgress) } catch {
                if !storeUnavailable(error) { logger.warning("could not record progress", metadata: ["error": "\(error)"]) }
            }
            pendingProgress.removeAll(keepingCapacity: true)
        }
    }

    /// Stores the held results in one transaction and ACKs them. When the store is
    /// unavailable they stay held, unacknowledged; a batch with a bad report is stored one
    /// by one so that one bad report cannot block the rest.
    mutating func flushResults() {
        guard !pendingResults.isEmpty else { return }
        let batch = pendingResults
        pendingResults.removeAll(keepingCapacity: true)
        do {
            let outcomes = try store.recordResults(batch.map(\.0))
            storeWritable()
            for (held, outcome) in zip(batch, outcomes) { resultStored(held, outcome) }
        } catch {
            if storeUnavailable(error) { pendingResults = batch + pendingResults; return }
            logger.error("a batch of results failed; recording them one by one", metadata: ["error": "\(error)"])
            for (i, held) in batch.enumerated() {
                let ref = AttemptRef(trial: held.0.trial, attempt: held.0.attempt)
                do {
                    resultStored(held, try store.recordResult(held.0))
                } catch {
                    if storeUnavailable(error)
                        || !recordFailure(held.worker, ref, search: held.search, error: "the result could not be stored: \(error)", retryable: false) {
                        pendingResults = Array(batch[i...]) + pendingResults
                        return
                    }
                    if let identity = workers[held.worker]?.identity { send(identity, .ack(ref)) }
                }
            }
        }
    }

    /// A result is in the store (recorded, or ignored as a duplicate or stale): ACK it and
    /// tell its search.
    mutating func resultStored(_ held: (TrialResult, worker: String, search: Int64?), _ outcome: ReportOutcome) {
        let (r, worker, heldSearch) = held
        let ref = AttemptRef(trial: r.trial, attempt: r.attempt)
        let search = workers[worker]?.running.removeValue(forKey: ref) ?? heldSearch
        workers[worker]?.done += 1
        if let identity = workers[worker]?.identity { send(identity, .ack(ref)) }
        if outcome == .recorded, let sid = search {
            searches[sid]?.running -= 1
            searches[sid]?.finished += 1
            var m: [String: Double] = [:]
            for (k, v) in r.metrics.objectPairs ?? [] { if let d = v.doubleValue { m[k] = d } }
            tell(sid, trial: r.trial, .completed(m))
            if let a = r.metrics["accuracy"]?.doubleValue, let s = searches[sid],
               a > (s.best?.accuracy ?? -Double.infinity), let t = try? store.trial(r.trial) {
                searches[sid]?.best = (a, t.candidateID)
            }
        } else if outcome != .recorded {
            logger.info("report ignored", metadata: ["worker": "\(worker)", "trial": "\(r.trial)", "attempt": "\(r.attempt)", "outcome": "\(outcome)"])
        }
    }

    /// Records the held FAILED reports and ACKs each once stored; stops at the first that
    /// the store cannot take and keeps it and the rest.
    mutating func flushFailures() {
        guard !pendingFailures.isEmpty, Date() >= storeRetryAt else { return }
        let batch = pendingFailures
        pendingFailures.removeAll()
        for (i, f) in batch.enumerated() {
            guard recordFailure(f.worker, f.ref, search: f.search, error: f.error, retryable: f.retryable) else {
                pendingFailures = Array(batch[i...]) + pendingFailures
                return
            }
            storeWritable()
            if let identity = workers[f.worker]?.identity { send(identity, .ack(f.ref)) }
        }
    }

    // MARK: Liveness

    mutating func housekeeping() {
        let now = Date()
        for (name, w) in workers {
            if now.timeIntervalSince(w.lastHeard) > deadAfter {
                logger.warning("worker lost: no heartbeat", metadata: ["worker": "\(name)", "silent_s": "\(Int(now.timeIntervalSince(w.lastHeard)))",
                                                                       "running": "\(w.running.count)"])
                dropWorker(name, reason: "no heartbeat for \(Int(deadAfter)) s")
            } else if now.timeIntervalSince(w.lastSent) >= heartbeat {
                send(w.identity, .heartbeat())
            }
        }
        if !orphans.isEmpty && now >= orphanDeadline {
            let left = orphans
            orphans.removeAll()
            for (trial, o) in left { requeue(AttemptRef(trial: trial, attempt: o.attempt), reason: "not reclaimed after the coordinator restarted") }
        }
        for (kind, n) in logLimiter.expired(now: now) {
            logger.warning("\(n) more like this were not logged", metadata: ["kind": "\(kind)"])
        }
        if allow != nil && now.timeIntervalSince(lastAllowCheck) > 2 {
            lastAllowCheck = now
            reloadAllowList()
        }
        if now.timeIntervalSince(lastSeenFlush) > 10 {
            lastSeenFlush = now
            try? store.workersSeen(Array(workers.keys))
        }
        if now >= storeRetryAt { completeFinishedSearches() }
    }

    mutating func completeFinishedSearches() {
        for (id, s) in searches where s.record.state == .active && s.created >= s.budget && s.queued == 0 && s.running == 0
            && !orphans.values.contains(where: { $0.search == id }) {
            do {
                _ = try store.completeSearch(id)
                searches[id] = nil
                endedStats[id] = (s.rejected, s.infeasible, s.lastInfeasibility)
                try? store.logEvent(kind: "search.rejections", message: "before training: \(s.rejected) candidates broke a constraint, "
                                    + "\(s.infeasible) could not run on \(s.record.target)" + (s.lastInfeasibility.map { " (last: \($0))" } ?? ""), search: id)
                logger.notice("search completed", metadata: ["search": "\(id)", "trials": "\(s.created)",
                                                             "best_accuracy": "\(s.best.map { String($0.accuracy) } ?? "-")"])
            } catch {
                logger.error("could not complete a search", metadata: ["search": "\(id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Scheduling

    /// Keeps enough trials queued for the free slots, within each search's budget.
    mutating func topUp() {
        let freeSlots = workers.values.reduce(0) { $0 + max(0, $1.free) }
        for id in searches.keys.sorted() {
            // Only numbers are read first: a copy of the runtime kept alive while it is
            // changed would make every table in it copy itself (once per turn, O(history)).
            guard searches[id]?.record.state == .active, let budget = searches[id]?.budget, let created = searches[id]?.created,
                  let queued = searches[id]?.queued else { continue }
            let want = min(budget - created, 2 * freeSlots + config.lookahead - queued)
            guard want > 0, var s = searches.removeValue(forKey: id) else { continue }
            let drawn = s.draw(want)
            if drawn.isEmpty {
                if s.created < s.budget && s.queued == 0 && s.running == 0 {
                    logger.warning("no admissible candidates left to draw", metadata: ["search": "\(id)", "created": "\(s.created)", "rejected": "\(s.rejected)",
                                                                                        "infeasible": "\(s.infeasible)", "last_reason": "\(s.lastInfeasibility ?? "-")"])
                    s.record.budget = s.created
                }
                searches[id] = s
                continue
            }
            do {
                let requests = drawn.map { TrialRequest(candidate: $0.record, fidelity: $0.fidelity, kind: s.settings.kind) }
                let trials = try store.enqueue(search: id, requests)
                for t in trials {
                    s.keys[t.trialID] = TrialKey(candidateID: t.candidateID, fidelity: t.fidelity)
                    s.pushQueued(QueuedTrial(trial: t.trialID, attempt: t.attempt, candidateID: t.candidateID, fidelity: t.fidelity))
                }
                s.created += trials.count
                let by = "model:\(s.record.target)" + (s.calibratedFrom > 0 ? "+calibrated(\(s.calibratedFrom))" : "")
                let predicted = drawn.compactMap { d in
                    d.predictedMs.map { MeasurementRecord(candidateID: d.id, target: s.record.target, source: .predicted, latencyMs: $0,
                                                          recordedBy: by, recordedAt: Date()) }
                }
                if !predicted.isEmpty { try store.recordMeasurements(predicted) }
                storeWritable()
            } catch {
                if !storeUnavailable(error) { logger.error("could not enqueue trials", metadata: ["search": "\(id)", "error": "\(error)"]) }
            }
            searches[id] = s
        }
    }

    /// Fills free worker slots from the queues of active searches, fairly: each slot goes
    /// to the search with the fewest running trials among those the worker can serve.
    /// All the trials of one turn are started in one store transaction.
    mutating func dispatch() {
        var picks: [(worker: String, search: Int64, trial: QueuedTrial)] = []
        var free = workers.mapValues(\.free)
        var progress = true
        while progress {
            progress = false
            for name in workers.keys.sorted() {
                guard let w = workers[name], free[name]! > 0 else { continue }
                var pick: (running: Int, id: Int64)?
                for (id, s) in searches where s.record.state == .active && s.queued > 0 && w.trainers.contains(s.settings.trainer)
                    && (s.settings.kind != .measure || w.tags.contains(s.record.target)) {
                    if pick == nil || (s.running, id) < pick! { pick = (s.running, id) }
                }
                guard let pick, let q = searches[pick.id]!.popQueued() else { continue }
                searches[pick.id]!.running += 1  // counts toward fairness within this turn
                free[name]! -= 1
                picks.append((name, pick.id, q))
                progress = true
            }
        }
        guard !picks.isEmpty else { return }
        let errors: [StoreError?]
        do {
            errors = try store.markRunning(picks.map { TrialStart(trial: $0.trial.trial, attempt: $0.trial.attempt, worker: $0.worker) })
            storeWritable()
        } catch {
            if !storeUnavailable(error) { logger.error("could not start trials; they stay queued", metadata: ["count": "\(picks.count)", "error": "\(error)"]) }
            for p in picks.reversed() {
                searches[p.search]?.running -= 1
                searches[p.search]?.pushFront(p.trial)
            }
            return
        }
        for (p, error) in zip(picks, errors) {
            if let error {
                searches[p.search]?.running -= 1
                logger.warning("could not start a trial", metadata: ["search": "\(p.search)", "trial": "\(p.trial.trial)", "error": "\(error)"])
                continue
            }
            guard let s = searches[p.search], let job = s.job(p.trial, kind: s.settings.kind), let w = workers[p.worker] else {
                logger.error("queued trial has no candidate", metadata: ["search": "\(p.search)", "trial": "\(p.trial.trial)"])
                continue
            }
            workers[p.worker]!.running[job.ref] = p.search
            send(w.identity, job.envelope)
            dispatched += 1
        }
    }
}

func printable(_ bytes: [UInt8]) -> String {
    let s = String(decoding: bytes.prefix(64), as: UTF8.self)
    return s.allSatisfy({ $0.isASCII && !$0.isNewline }) ? s : bytes.prefix(16).map { String($0, radix: 16) }.joined()
}
