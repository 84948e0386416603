import Foundation
import Logging
import TopiaryArtifacts
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// The coordinator's loop: it owns the sockets and moves messages between the parts —
/// worker messages into the registry and the searches, writes to the store writer, its
/// completions back to workers (ACK, JOB) and strategies (tell), and the scheduler's
/// decisions out as jobs. It never waits for SQLite while it runs.
struct CoordinatorLoop {
    let config: CoordinatorConfig
    let store: Store
    let logger: Logger
    let context = ZMQContext()
    let workerSocket: ZMQSocket
    let controlSocket: ZMQSocket
    /// Woken by the store writer when it has completions.
    let wakeSocket: ZMQSocket
    let writer: StoreWriter
    /// Answers libzmq's authentication requests when CURVE is on.
    let zap: ZAPHandler?
    var allow: AllowList?
    var allowStamp = ""
    var lastAllowCheck = Date()
    var logLimiter = LogLimiter()
    var registry: WorkerRegistry
    var searches: [Int64: SearchRuntime] = [:]
    /// Trials left running by a previous daemon, waiting for their workers to reconnect.
    var orphans: [Int64: Orphan] = [:]
    var orphanDeadline = Date.distantFuture
    /// The store's health as the writer last reported it: no drawing or dispatching while
    /// it is down (what is held waits in the writer).
    var storeHealth = StoreHealth.available
    var stopDeadline: Date?
    // What this turn collected for the writer (one command each per turn).
    var turnResults: [HeldResult] = []
    var turnProgress: [TrialProgress] = []
    /// Results handed to the writer and not yet stored (their slots are already free).
    var resultsInFlight: Set<AttemptRef> = []
    /// When the coordinator gives up on each attempt it sent (its deadline plus the grace),
    /// and who holds it; entries whose attempt ended some other way are dropped when checked.
    var deadlines: [AttemptRef: (at: Date, worker: String, search: Int64)] = [:]
    var lastDeadlineCheck = Date()
    var lastSeenFlush = Date()
    var dispatched = 0
    /// Figures of candidates, one memo per (space, latency model), shared by searches.
    let figureCaches = FigureCaches()
    /// Trials ended per second: how far ahead a strategy that does not learn is asked.
    var throughput = Throughput()
    var lastMetrics = Date.distantPast
    /// Uploads of artifacts in progress, and the bytes each search's artifacts take.
    var transfers: ArtifactTransfers
    var searchArtifactBytes: [Int64: Int] = [:]
    /// Searches whose completion is being written.
    var completing: Set<Int64> = []
    /// What searches that ended while this daemon ran rejected before training.
    var endedStats: [Int64: (rejected: Int, infeasible: Int, lastInfeasibility: String?)] = [:]

    init(config: CoordinatorConfig, store: Store, logger: Logger) throws {
        self.config = config
        self.store = store
        self.logger = logger
        registry = WorkerRegistry(maxWorkers: config.maxWorkers, maxSlotsPerWorker: config.maxSlotsPerWorker, helloRate: config.helloRate)
        let artifacts = config.artifacts.map { ArtifactDirectory($0) } ?? ArtifactDirectory.beside(database: store.path)
        transfers = ArtifactTransfers(directory: artifacts)
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
        let wake = "inproc://topiary-store-writer-\(UUID().uuidString)"
        wakeSocket = try ZMQSocket(context, .pair)
        try wakeSocket.bind(wake)
        writer = StoreWriter(store: store, logger: logger, context: context, wakeEndpoint: wake, metrics: config.metrics)
        try recover()
    }

    var heartbeat: TimeInterval { Double(config.heartbeatMs) / 1000 }
    var deadAfter: TimeInterval { heartbeat * Double(config.liveness) }
    var recovery: Recovery { Recovery(store: store, logger: logger, figureCaches: figureCaches) }

    // MARK: Start-up

    /// Resumes every active or paused search from the store. Trials left running by the
    /// previous daemon wait one liveness period for their workers to reclaim them, then
    /// go back to the queue.
    mutating func recover() throws {
        searches = try recovery.loadAll()
        orphans = try recovery.orphans(of: searches)
        // Uploads a previous daemon left unfinished start again from the beginning.
        try transfers.directory.prepare()
        transfers.directory.clearPartials()
        for a in try store.pendingArtifacts() { transfers.add(sha256: a.sha256, bytes: a.bytes, worker: a.workerID) }
        let count = orphans.count - stopMissedDecisions()
        if count > 0 { orphanDeadline = Date().addingTimeInterval(deadAfter + heartbeat) }
        logger.info("coordinator started", metadata: [
            "workers": "\(workerSocket.lastEndpoint)", "control": "\(controlSocket.lastEndpoint)",
            "security": "\(config.curve.map { "CURVE, \(allow?.count ?? 0) worker keys allowed (\($0.allow.path))" } ?? "none (plain TCP)")",
            "searches": "\(searches.count)", "orphaned_trials": "\(count)",
        ])
    }

    /// Early stops the strategies would have made while the daemon was down (ASHA in stop
    /// mode: a trial whose reports already fell behind): those orphans are pruned now (before
    /// the writer starts), and a worker that comes back still running one is told to cancel
    /// it. Returns how many.
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
                    trialEnded(id, trial: trial, .stopped)
                    stopped += 1
                } catch {
                    logger.warning("could not stop a trial early", metadata: ["trial": "\(trial)", "error": "\(error)"])
                }
            }
        }
        if stopped > 0 { logger.notice("trials stopped early on restart", metadata: ["count": "\(stopped)"]) }
        return stopped
    }

    /// A running trial of a search ended: it no longer counts as running, and its strategy
    /// is told how.
    mutating func trialEnded(_ search: Int64, trial: Int64, _ status: TrialStatus) {
        // Read and changed in place: this runs for every trial.
        guard let (key, reproducible) = inPlace(search, { s -> (TrialKey?, Bool) in
            s.running -= 1
            s.finished += 1
            // A finalist's failure does not open the budget again (final trials are not counted).
            if case .failed = status, !s.finalTrials.contains(trial) { s.failed += 1 }
            // A supernet's trial was not the strategy's suggestion.
            return (s.settings.supernetPool == nil ? s.keys[trial] : nil, s.settings.reproducibleBatch != nil)
        }) else { return }
        throughput.ended()
        switch status {
        case .completed: config.metrics?.trialEnded("completed")
        case .failed: config.metrics?.trialEnded("failed")
        case .stopped, .pending: config.metrics?.trialEnded("stopped")
        }
        guard let key else { return }
        guard reproducible else { tell(search, trial, key, status); return }
        // Reproducible: the batch's ends are told together, in suggestion order.
        searches[search]!.heldTells.append((trial, key, status))
        guard searches[search]!.isIdle else { return }
        let held = searches[search]!.heldTells.sorted { $0.trial < $1.trial }
        searches[search]!.heldTells.removeAll()
        for h in held { tell(search, h.trial, h.key, h.status) }
    }

    /// Runs `body` on a search's runtime where it is, or returns nil when there is no such
    /// search. Reading through `searches[id]!` copies the whole runtime (a retain of every
    /// table in it); the per-trial paths go through here instead.
    @discardableResult
    mutating func inPlace<T>(_ id: Int64, _ body: (inout SearchRuntime) -> T) -> T? {
        guard searches[id] != nil else { return nil }
        return body(&searches[id]!)
    }

    mutating func tell(_ search: Int64, _ trial: Int64, _ key: TrialKey, _ status: TrialStatus) {
        do { try searches[search]!.strategy.tell(key, status) } catch {
            logger.warning("the strategy refused a report", metadata: ["search": "\(search)", "trial": "\(trial)", "error": "\(error)"])
        }
    }

    // MARK: The loop

    mutating func run(shouldStop: () -> Bool) throws {
        var poller = ZMQPoller()
        poller.add(workerSocket)
        poller.add(controlSocket)
        poller.add(wakeSocket)
        if let zap { poller.add(zap.socket) }
        while true {
            if shouldStop() && stopDeadline == nil { beginStop() }
            if let stopDeadline, Date() >= stopDeadline || (registry.runningCount == 0 && writer.isIdle) { break }
            let ready = try poller.poll(timeoutMs: 50)
            if zap != nil && ready[3] { try answerAuthentication() }
            if ready[0] {
                var n = 0
                while n < 10_000, let (frames, key) = try workerSocket.receiveAuthenticated(dontWait: true) {
                    config.metrics?.received(bytes: frames.reduce(0) { $0 + $1.count })
                    handleWorkerMessage(frames, key: key)
                    n += 1
                }
            }
            if ready[1] {
                while let frames = try controlSocket.receive(dontWait: true) { handleControl(frames) }
            }
            if ready[2] {
                while try wakeSocket.receive(dontWait: true) != nil {}
            }
            applyCompletions()
            postTurn()
            housekeeping()
            if stopDeadline == nil && storeHealth.isAvailable {
                topUp()
                dispatch()
                pumpTransfers()
            }
        }
        for w in registry.all { send(w.identity, .bye("coordinator shutting down")) }
        postTurn()
        // One more try for everything held, then what is left stays with the workers.
        let left = writer.finish()
        applyCompletions()
        let results = left.reduce(0) { n, c in if case .results(let r) = c { return n + r.count } else { return n } }
        let failures = left.reduce(0) { n, c in if case .failure = c { return n + 1 } else { return n } }
        if results + failures > 0 {
            logger.warning("leaving reports the database could not take; their workers resend them to the next daemon",
                           metadata: ["results": "\(results)", "failures": "\(failures)"])
        }
        logger.info("coordinator stopped", metadata: ["running_trials": "\(registry.runningCount)"])
    }

    mutating func beginStop() {
        stopDeadline = Date().addingTimeInterval(config.drainSeconds)
        logger.notice("shutting down: no more dispatching", metadata: ["drain_s": "\(config.drainSeconds)"])
    }

    /// Hands this turn's results and progress to the writer, one command each.
    mutating func postTurn() {
        if !turnProgress.isEmpty {
            writer.post(.progress(turnProgress))
            turnProgress.removeAll(keepingCapacity: true)
        }
        if !turnResults.isEmpty {
            writer.post(.results(turnResults))
            turnResults.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Sending

    @discardableResult
    mutating func send(_ identity: [UInt8], _ e: Envelope) -> Bool {
        do {
            try workerSocket.send([identity] + e.frames, dontWait: true)
            registry.sent(to: identity, at: Date())
            config.metrics?.sent(bytes: e.frames.reduce(identity.count) { $0 + $1.count })
            return true
        } catch {
            logger.debug("send failed", metadata: ["command": "\(e.command.rawValue)", "error": "\(error)"])
            return false
        }
    }

    /// Sends to a worker by name, if it is connected.
    mutating func send(worker name: String, _ e: Envelope) {
        if let identity = registry[name]?.identity { send(identity, e) }
    }

    // MARK: Liveness

    mutating func housekeeping() {
        let now = Date()
        for name in registry.silent(now: now, deadAfter: deadAfter) {
            guard let w = registry[name] else { continue }
            logger.warning("worker lost: no heartbeat", metadata: ["worker": "\(name)", "silent_s": "\(Int(now.timeIntervalSince(w.lastHeard)))",
                                                                   "running": "\(w.running.count)"])
            dropWorker(name, reason: "no heartbeat for \(Int(deadAfter)) s")
        }
        for w in registry.dueHeartbeat(now: now, interval: heartbeat) { send(w.identity, .heartbeat()) }
        if now.timeIntervalSince(lastDeadlineCheck) >= 1 {
            lastDeadlineCheck = now
            enforceDeadlines(now)
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
        for sha in transfers.restartStalled(now: now) {
            warnLimited("upload-stalled", "an upload made no progress; starting it again", ["sha256": "\(sha)"])
        }
        if let metrics = config.metrics, now.timeIntervalSince(lastMetrics) >= 1 {
            lastMetrics = now
            observe(metrics, now: now)
        }
        if now.timeIntervalSince(lastSeenFlush) > 10 {
            lastSeenFlush = now
            writer.post(.workersSeen(Array(registry.names)))
        }
        if storeHealth.isAvailable { completeFinishedSearches() }
    }

    /// The gauges of the daemon's metrics, from the registry and the searches.
    func observe(_ metrics: DaemonMetrics, now: Date) {
        let lag = registry.all.map { now.timeIntervalSince($0.lastHeard) }.max() ?? 0
        let queued = Dictionary(uniqueKeysWithValues: searches.filter { $0.value.record.state == .active }.map { ($0.key, $0.value.queued) })
        metrics.observe(workers: registry.count, slots: registry.all.reduce(0) { $0 + $1.slots }, busy: registry.runningCount,
                        lagSeconds: lag, queued: queued, running: searches.values.reduce(0) { $0 + $1.running })
    }

    mutating func completeFinishedSearches() {
        var done: [Int64] = []  // ids first: the final phase changes the runtimes
        for (id, s) in searches where s.record.state == .active && s.counted >= s.budget && s.queued == 0 && s.running == 0
            && s.enqueuing == 0 && !completing.contains(id) && !orphans.values.contains(where: { $0.search == id }) {
            done.append(id)
        }
        for id in done.sorted() {
            if searches[id]!.settings.finalists > 0 && !searches[id]!.finalPhaseStarted && startFinalPhase(id) { continue }
            let s = searches[id]!
            completing.insert(id)
            writer.post(.completeSearch(id, event: "before training: \(s.rejected) candidates broke a constraint, "
                                        + "\(s.infeasible) could not run on \(s.record.target)" + (s.lastInfeasibility.map { " (last: \($0))" } ?? "")))
        }
    }

    /// The final phase: the strategy's recommended candidates (by the search's objectives,
    /// noise-aware) trained again at the final fidelity, marked `final` in the store.
    /// Returns whether trials were posted (else the search completes as it is).
    mutating func startFinalPhase(_ id: Int64) -> Bool {
        searches[id]!.finalPhaseStarted = true
        let s = searches[id]!
        var seen: Set<String> = []
        let picks = s.strategy.recommendation(count: s.settings.finalists).map(\.candidate).filter { seen.insert($0.identity.id).inserted }
        guard !picks.isEmpty else { return false }
        let requests = picks.map { c -> TrialRequest in
            let d = searches[id]!.drawn(c, fidelity: s.settings.finalFidelityValue)
            return TrialRequest(candidate: d.record, fidelity: d.fidelity, kind: .train, phase: .final)
        }
        searches[id]!.enqueuing += requests.count
        searches[id]!.finalEnqueuing = requests.count
        writer.post(.enqueue(search: id, requests: requests, predicted: []))
        logger.notice("final phase: training the finalists again", metadata: ["search": "\(id)", "finalists": "\(requests.count)",
                                                                              "fidelity": "\(s.settings.finalFidelity?.text(pretty: false) ?? "-")"])
        return true
    }

    // MARK: Scheduling

    /// Keeps enough trials queued for the free slots, within each search's budget; the
    /// writer creates them and they join the queue when it is done.
    mutating func topUp() {
        let freeSlots = registry.freeSlots
        throughput.tick()
        // A strategy that does not learn from results loses nothing by being asked far
        // ahead: its queue covers what the workers end while the writer commits a batch
        // (larger batches, fewer pages written per trial). The others stay close.
        let deep = throughput.lookahead(floor: config.lookahead, seconds: Self.pipelineSeconds, ceiling: Self.maxLookahead)
        let shallow = throughput.lookahead(floor: 0, seconds: Self.pipelineSeconds, ceiling: config.lookahead)
        for id in searches.keys.sorted() {
            // Only numbers are read first: a copy of the runtime kept alive while it is
            // changed would make every table in it copy itself (once per turn, O(history)).
            guard searches[id]?.record.state == .active,
                  let s = searches[id].map({ ($0.budget, $0.counted, $0.queued, $0.enqueuing, $0.strategy.learnsFromResults) }) else { continue }
            var want = Scheduler.topUp(budget: s.0, created: s.1, queued: s.2, pending: s.3, freeSlots: freeSlots,
                                       lookahead: s.4 ? Scheduler.learnerLookahead(budget: s.0, ceiling: config.lookahead, rate: shallow) : deep)
            if let batch = searches[id]?.settings.reproducibleBatch {
                // The next batch only once the last has ended and been told.
                want = searches[id]!.isIdle && searches[id]!.heldTells.isEmpty ? min(batch, s.0 - s.1) : 0
            }
            guard want > 0, var rt = searches.removeValue(forKey: id) else { continue }
            let drawn = rt.draw(want)
            if drawn.isEmpty {
                if rt.counted < rt.budget && rt.queued == 0 && rt.running == 0 && rt.enqueuing == 0 {
                    logger.warning("no admissible candidates left to draw", metadata: ["search": "\(id)", "created": "\(rt.created)", "rejected": "\(rt.rejected)",
                                                                                        "infeasible": "\(rt.infeasible)", "last_reason": "\(rt.lastInfeasibility ?? "-")"])
                    rt.record.budget = rt.counted
                }
                searches[id] = rt
                continue
            }
            let requests = drawn.map { TrialRequest(candidate: $0.record, fidelity: $0.fidelity, kind: rt.settings.kind) }
            let by = "model:\(rt.record.target)" + (rt.calibratedFrom > 0 ? "+calibrated(\(rt.calibratedFrom))" : "")
            let predicted = drawn.compactMap { d in
                d.predictedMs.map { MeasurementRecord(candidateID: d.id, target: rt.record.target, source: .predicted, latencyMs: $0,
                                                      recordedBy: by, recordedAt: Date()) }
            }
            rt.created += drawn.count
            rt.enqueuing += drawn.count
            writer.post(.enqueue(search: id, requests: requests, predicted: predicted))
            searches[id] = rt
        }
    }

    /// Seconds of trials (at the current rate) queued ahead for strategies that do not
    /// learn, and at most how many.
    static let pipelineSeconds = 0.05
    static let maxLookahead = 1_024

    /// A search as the scheduler sees it.
    func demand(_ s: SearchRuntime) -> Scheduler.SearchDemand {
        Scheduler.SearchDemand(id: s.id, active: s.record.state == .active, queued: s.queued, running: s.running, trainer: s.settings.trainer,
                               measureOn: s.settings.kind == .measure ? s.record.target : nil)
    }

    /// Fills free worker slots from the queues of active searches (`Scheduler.assign`).
    /// The JOBs go out at once and the starts are written behind them: the writer keeps
    /// order, so a start is stored before any report of its trial, and a daemon killed in
    /// between finds the trial still queued (its worker is told to cancel it on return).
    mutating func dispatch() {
        let assigned = Scheduler.assign(workers: registry.slots, searches: searches.values.map(demand))
        guard !assigned.isEmpty else { return }
        var picks: [Pick] = []
        picks.reserveCapacity(assigned.count)
        for a in assigned {
            guard let (q, job) = inPlace(a.search, { s -> (QueuedTrial, Job?)? in
                guard let q = s.popQueued() else { return nil }
                s.running += 1
                return (q, s.job(q, kind: s.settings.kind))
            }) ?? nil else { continue }
            let pick = Pick(worker: a.worker, search: a.search, trial: q)
            registry[a.worker]!.running[pick.ref] = a.search
            picks.append(pick)
            guard let job else {
                logger.error("queued trial has no candidate", metadata: ["search": "\(a.search)", "trial": "\(q.trial)"])
                continue
            }
            send(worker: a.worker, job.envelope)
            holdUntilDeadline(pick.ref, worker: a.worker, search: a.search)
            dispatched += 1
            config.metrics?.dispatchedJob()
        }
        writer.post(.start(picks))
    }

    /// Notes when the coordinator gives up on an attempt `worker` now holds.
    mutating func holdUntilDeadline(_ ref: AttemptRef, worker: String, search: Int64) {
        guard let seconds = searches[search]?.settings.deadlineSeconds else { return }
        deadlines[ref] = (Date().addingTimeInterval(Double(seconds) + config.deadlineGraceSeconds), worker, search)
    }

    /// Attempts still held past their deadline and the grace: the worker is told to cancel,
    /// and the attempt is failed (retried only when the search retries every failure). A
    /// result that comes later is for an attempt nobody holds, and is ignored.
    mutating func enforceDeadlines(_ now: Date) {
        for (ref, d) in deadlines where now >= d.at {
            deadlines[ref] = nil
            guard registry[d.worker]?.running[ref] == d.search else { continue }  // ended some other way
            registry[d.worker]!.running[ref] = nil
            let seconds = searches[d.search]?.settings.deadlineSeconds ?? 0
            let why = "no result within the deadline of \(seconds) s and \(Int(config.deadlineGraceSeconds)) s of grace; cancelled by the coordinator"
            send(worker: d.worker, .cancel(ref, reason: why))
            warnLimited("deadline", "trial past its deadline: cancelled and failed", ["worker": "\(d.worker)", "trial": "\(ref.trial)", "deadline_s": "\(seconds)"])
            postTurn()
            writer.post(.failure(HeldFailure(ref: ref, worker: d.worker, search: d.search,
                                             retry: searches[d.search]?.settings.retryFailed ?? false, error: why)))
        }
    }

    // MARK: Losing trials

    mutating func dropWorker(_ name: String, reason: String) {
        guard let w = registry.remove(name) else { return }
        transfers.workerGone(name)
        for ref in w.running.keys { requeue(ref, reason: "\(reason) (worker \(name))") }
    }

    /// Puts an attempt back in its search's queue (attempt + 1), or fails it when its
    /// attempts are used up (see `afterRequeue`).
    mutating func requeue(_ ref: AttemptRef, reason: String) {
        writer.post(.requeue(ref, reason: reason))
    }

    /// The strategy judged a running trial not worth finishing (ASHA): prune it, then stop it.
    mutating func stopEarly(_ worker: String, _ ref: AttemptRef, search: Int64) {
        postTurn()  // its progress first, so the pruned trial keeps its reports
        writer.post(.prune(ref, worker: worker, search: search, reason: "stopped early by the strategy"))
    }
}
