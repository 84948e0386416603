import Foundation
import Logging
import Synchronization
import TopiaryArtifacts
import TopiaryCore
import TopiaryWire

/// Settings of a worker agent (`topiary worker`).
public struct WorkerConfig: Sendable {
    public var endpoint: String
    public var name: String
    public var host: String
    public var slots: Int
    public var tags: [String]
    public var trainers: [String: TrainerSpec]
    /// Where trainer runs keep their job, log and outputs.
    public var workDirectory: URL
    public var heartbeatMs = Wire.defaultHeartbeatMs
    public var liveness = Wire.defaultLiveness
    /// Seconds between SIGTERM and SIGKILL when a job is stopped.
    public var killGraceSeconds = 5.0
    /// Bytes of output kept in each job's `trial.log` (plus its last 4 KiB past the cap).
    public var maxLogBytes: UInt64 = 64 << 20
    /// CURVE: the coordinator's public key (the handshake fails against any other
    /// server) and this worker's key pair (which the coordinator's allow-list must hold).
    public var curve: (serverKey: String, keys: CurveKeyPair)?
    /// Dial a non-loopback endpoint without CURVE (`--insecure`).
    public var allowPlainNetwork = false
    /// Threads each trainer may use; by default the cores divided among the slots.
    public var threadsPerJob = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Where files jobs need are cached (by digest), and how large the cache may grow.
    public var cacheDirectory = URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/topiary/artifacts")
    public var cacheLimitBytes = 10 << 30
    /// CUDA GPUs the trainers may use (`GPUs.detect`), one per job; empty: none.
    public var gpus: [String] = []

    public init(endpoint: String, name: String, host: String, slots: Int, tags: [String], trainers: [String: TrainerSpec], workDirectory: URL) {
        self.endpoint = endpoint; self.name = name; self.host = host; self.slots = slots; self.tags = tags
        self.trainers = trainers; self.workDirectory = workDirectory
        threadsPerJob = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, slots))
    }
}

/// The worker: dials the coordinator, announces itself, runs the jobs it is given (one
/// trainer process per job, or the built-in table inline), streams progress, and keeps
/// finished results until the coordinator acknowledges them — across reconnects.
///
/// All socket work happens on the thread that calls `run()`; trainer reader threads
/// only push events into a queue that this loop drains.
public final class WorkerAgent: Sendable {
    let config: WorkerConfig
    let logger: Logger
    private let stopFlag = Atomic<Bool>(false)

    public init(config: WorkerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Asks the loop to finish: running jobs are stopped and the coordinator told (BYE).
    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Runs until `stop()`; returns normally, or throws if the coordinator rejects the worker.
    public func run() throws {
        var loop = WorkerLoop(config: config, logger: logger)
        try loop.run(shouldStop: { self.stopFlag.load(ordering: .relaxed) })
    }
}

/// A job the worker holds: running, or finished and waiting for the coordinator's ACK.
struct HeldJob {
    var job: Job
    var process: TrainerProcess?
    var pendingMetrics: [String: Double]?
    var pendingInfo: JSONValue?
    /// The RESULT or FAILED to (re)send until acknowledged.
    var outcome: Envelope?
    /// A table answer held back until `readyAt` (fidelity `sleep_s`), so the built-in
    /// evaluator takes time like training (the chaos test's trials are in flight).
    var delayed: (outcome: Envelope, readyAt: Date)?
    /// Digests of the job's files still being fetched; the trainer starts when none are left.
    var fetching: Set<String> = []
    var artifacts: [WireArtifact] = []
    /// The GPU its trainer was given, while it runs.
    var gpu: String?
}

/// A file a job needs, on its way from the coordinator (GET → PART), in order, hashed as
/// it arrives.
struct Download {
    var artifact: WireArtifact
    var file: FileHandle
    var hasher = ArtifactHasher()
    var received = 0
    var requested = 0
    var mismatches = 0
    /// The jobs waiting for it (a GET names one the worker holds).
    var waiting: Set<AttemptRef>
}

struct WorkerLoop {
    let config: WorkerConfig
    let logger: Logger
    let context = ZMQContext()
    var socket: ZMQSocket?
    /// Connection events of `socket` (handshake failures), to say why nothing arrives.
    var monitor: ZMQSocket?
    var connections = 0
    var handshakeFailures = 0
    var handshakeReasons: Set<String> = []
    var jobs: [AttemptRef: HeldJob] = [:]
    let events = EventQueue()
    var lastHeard = Date()
    var lastSent = Date.distantPast
    var welcomed = false
    var backoff = 0.5
    var heartbeatMs: Int
    var liveness: Int
    /// Files offered for upload (kept across restarts in the work directory), files being
    /// fetched for jobs, and the cache they land in.
    var shelf: WorkerShelf
    var downloads: [String: Download] = [:]
    let cache: ArtifactCache

    init(config: WorkerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        heartbeatMs = config.heartbeatMs
        liveness = config.liveness
        try? FileManager.default.createDirectory(at: config.workDirectory, withIntermediateDirectories: true)
        shelf = WorkerShelf(workDirectory: config.workDirectory)
        cache = ArtifactCache(root: config.cacheDirectory, limitBytes: config.cacheLimitBytes)
    }

    var running: Int { jobs.values.filter { $0.outcome == nil }.count }

    mutating func connect() throws {
        socket?.close()
        monitor?.close()
        let s = try ZMQSocket(context, .dealer)
        try s.setRoutingId(Array("\(config.name)/\(UUID().uuidString.prefix(8))".utf8))
        try s.setMaxMessageSize(Wire.maxMessageBytes)
        if let curve = config.curve {
            try s.makeCurveClient(serverKey: curve.serverKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey)
        }
        connections += 1
        let monitorEndpoint = "inproc://worker-monitor-\(connections)"
        try s.monitor(monitorEndpoint, events: ZMQMonitorEvent.handshakeFailedAuth | ZMQMonitorEvent.handshakeFailedProtocol
                      | ZMQMonitorEvent.handshakeFailedNoDetail | ZMQMonitorEvent.disconnected)
        let m = try ZMQSocket(context, .pair)
        try m.connect(monitorEndpoint)
        monitor = m
        try s.connect(config.endpoint)
        socket = s
        welcomed = false
        lastHeard = Date()
        let running = jobs.filter { $0.value.outcome == nil }.map(\.key)
        let hello = Hello(worker: config.name, host: config.host, slots: config.slots, tags: config.tags,
                          trainers: config.trainers.keys.sorted(), running: running)
        try send(hello.envelope)
        logger.info("connecting", metadata: ["worker": "\(config.name)", "endpoint": "\(config.endpoint)", "running": "\(running.count)"])
    }

    mutating func send(_ e: Envelope) throws {
        guard let socket else { return }
        try socket.send(e.frames, dontWait: true)
        lastSent = Date()
    }

    /// Watches the socket and its monitor.
    func makePoller() -> ZMQPoller {
        var poller = ZMQPoller()
        poller.add(socket!)
        poller.add(monitor!)
        return poller
    }

    /// Turns a failed CURVE handshake into a clear message: a refused key ends the worker
    /// (it will not be let in by retrying); a handshake that fails otherwise usually means
    /// a wrong coordinator key, logged while libzmq keeps retrying.
    mutating func checkHandshake() throws {
        while let frames = try monitor?.receive(dontWait: true) {
            guard let ev = ZMQMonitorEvent(frames) else { continue }
            let mine = config.curve?.keys.publicKey ?? "none"
            if ev.event == ZMQMonitorEvent.handshakeFailedAuth {
                throw WorkerRejected(reason: "the coordinator at \(config.endpoint) refused this worker's key \(mine) (status \(ev.value)); "
                                     + "add this worker's .pub file to the coordinator's allow-list")
            }
            let why: String
            if ev.event == ZMQMonitorEvent.disconnected {
                guard !welcomed else { continue }
                why = "the coordinator closes the connection before it is set up; do both sides agree on CURVE "
                    + "(worker --key/--server-key, serve --key/--allow)?"
            } else if ev.event == ZMQMonitorEvent.handshakeFailedProtocol && ev.value == ZMQMonitorEvent.mechanismMismatch {
                why = config.curve == nil ? "the coordinator requires CURVE: give --key and --server-key"
                                          : "the coordinator does not use CURVE: drop --key and --server-key (or serve with --key/--allow)"
            } else {
                why = config.curve == nil ? "the handshake failed (code \(ev.value))"
                                          : "the secure handshake failed; is --server-key the coordinator's public key (its .pub file)?"
            }
            // Each reason once, then a reminder every 20 failures.
            handshakeFailures += 1
            guard handshakeReasons.insert(why).inserted || handshakeFailures % 20 == 0 else { continue }
            logger.error("cannot connect to the coordinator: \(why)", metadata: ["worker": "\(config.name)", "endpoint": "\(config.endpoint)",
                                                                                  "failures": "\(handshakeFailures)"])
        }
    }

    mutating func run(shouldStop: () -> Bool) throws {
        if config.curve == nil && !config.allowPlainNetwork && !isLocalEndpoint(config.endpoint) {
            throw WorkerSetupError("refusing to dial \(config.endpoint) in plain TCP: give --server-key (the coordinator's .pub) and --key "
                                   + "(this worker's .key), or pass --insecure")
        }
        try connect()
        var poller = makePoller()
        while !shouldStop() {
            let wait = running > 0 ? 20 : min(heartbeatMs / 2, 100)
            let ready = try poller.poll(timeoutMs: wait)
            if ready[1] { try checkHandshake() }
            if ready[0] {
                while let frames = try socket!.receive(dontWait: true) {
                    lastHeard = Date()
                    try handle(frames)
                }
            }
            try drainEvents()
            try releaseDelayed()
            enforceDeadlines()
            let now = Date()
            if now.timeIntervalSince(lastSent) * 1000 >= Double(heartbeatMs) { try send(.heartbeat()) }
            if now.timeIntervalSince(lastHeard) * 1000 > Double(heartbeatMs * liveness) {
                logger.warning("coordinator silent; reconnecting", metadata: ["worker": "\(config.name)", "after_s": "\(backoff)"])
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 30)
                try connect()
                poller = makePoller()
            }
        }
        // Leaving: stop trainers, tell the coordinator, which requeues what was running.
        for (ref, held) in jobs where held.outcome == nil { held.process?.terminate(reason: "worker shutting down"); _ = ref }
        try? send(.bye("worker shutting down"))
        let deadline = Date().addingTimeInterval(config.killGraceSeconds)
        while jobs.values.contains(where: { $0.process != nil && $0.outcome == nil }) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            for e in events.drain() { if case .finished(let r, _, _) = e { jobs[r]?.process = nil } }
        }
        for held in jobs.values { held.process?.kill() }
        socket?.close()
        monitor?.close()
        logger.info("worker stopped", metadata: ["worker": "\(config.name)"])
    }

    mutating func handle(_ frames: [[UInt8]]) throws {
        let e: Envelope
        do { e = try Envelope.decode(frames) } catch {
            logger.warning("dropped a malformed message", metadata: ["worker": "\(config.name)", "reason": "\(error)"])
            return
        }
        switch e.command {
        case .welcome:
            welcomed = true
            backoff = 0.5
            heartbeatMs = (e.body["heartbeat_ms"]?.intValue).map { max(50, $0) } ?? heartbeatMs
            liveness = (e.body["liveness"]?.intValue).map { max(2, $0) } ?? liveness
            // Results finished while disconnected, or not yet acknowledged: send them again.
            for held in jobs.values { if let o = held.outcome { try send(o) } }
            // Downloads go on from where they were.
            for sha in downloads.keys { downloads[sha]!.requested = downloads[sha]!.received }
            try pumpDownloads()
            logger.info("connected", metadata: ["worker": "\(config.name)", "resending": "\(jobs.values.filter { $0.outcome != nil }.count)"])
        case .heartbeat:
            break
        case .job:
            do { try start(try Job(e)) } catch {
                logger.warning("dropped a bad JOB", metadata: ["worker": "\(config.name)", "reason": "\(error)"])
            }
        case .cancel:
            guard let ref = try? attemptRef(e) else { return }
            if let held = jobs[ref] {
                if held.outcome != nil { return }
                held.process?.terminate(reason: "cancelled: \(e.body["reason"]?.stringValue ?? "by the coordinator")")
                if held.process == nil { jobs[ref] = nil }
                logger.info("job cancelled", metadata: ["worker": "\(config.name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)"])
            }
        case .reject:
            throw WorkerRejected(reason: e.body["reason"]?.stringValue ?? "no reason given")
        case .bye:
            // The coordinator is going away; keep running jobs and reconnect when it is back.
            lastHeard = Date.distantPast
        case .ack:
            // The coordinator has stored our RESULT or FAILED: forget the job.
            guard let ref = try? attemptRef(e) else { return }
            if jobs[ref]?.outcome != nil { jobs[ref] = nil }
        case .fetch:
            try answerFetch(e)
        case .stored, .discard:
            // The coordinator has the file (or gave up on it): it need not be offered any more.
            if let sha = e.body["sha256"]?.stringValue { shelf.remove(sha) }
        case .part:
            try receivePart(e)
        default:
            logger.warning("dropped an unexpected command", metadata: ["worker": "\(config.name)", "command": "\(e.command.rawValue)"])
        }
    }

    mutating func start(_ job: Job) throws {
        let ref = job.ref
        if jobs[ref] != nil { return }  // a repeated JOB (after reconnect) is already ours
        guard let spec = config.trainers[job.trainer] else {
            try finish(ref, .failed(ref, error: "worker \(config.name) has no trainer '\(job.trainer)'", retryable: true), job: job)
            return
        }
        switch spec {
        case .table(let table):
            guard let key = job.benchmarkKey else {
                try finish(ref, .failed(ref, error: "the table trainer needs a benchmark key; the search space declares no benchmark", retryable: false), job: job)
                return
            }
            guard let m = table.evaluate(key: key, seed: job.seed) else {
                try finish(ref, .failed(ref, error: "key \(key) is not in \(table.path)", retryable: false), job: job)
                return
            }
            let sleep = job.fidelity["sleep_s"]?.doubleValue ?? 0
            if sleep > 0 && sleep.isFinite {
                jobs[ref] = HeldJob(job: job, delayed: (.result(ref, metrics: m), Date().addingTimeInterval(min(sleep, 3_600))))
            } else {
                try finish(ref, .result(ref, metrics: m), job: job)
            }
        case .command:
            // Files the job needs come first; the trainer starts when they are all here.
            let missing = job.artifacts.filter { cache.lookup($0.sha256) == nil }
            if !missing.isEmpty {
                jobs[ref] = HeldJob(job: job, fetching: Set(missing.map(\.sha256)), artifacts: job.artifacts)
                for a in missing { try beginDownload(a, for: ref) }
                return
            }
            try launch(job)
        }
    }

    /// Starts a job's trainer process (its files, if any, are in the cache).
    mutating func launch(_ job: Job) throws {
        let ref = job.ref
        guard case .command(let command) = config.trainers[job.trainer] else { return }
        let dir = config.workDirectory.appendingPathComponent("trial-\(ref.trial)-\(ref.attempt)")
        var body = job.body.objectPairs ?? []
        body.append(("output_dir", .string(dir.path)))
        if !job.artifacts.isEmpty {
            body.append(("artifact_paths", .object(job.artifacts.map { ($0.name, .string(cache.path(of: $0.sha256))) })))
        }
        let deadline = Date().addingTimeInterval(Double(job.deadlineMs) / 1000)
        let gpu = GPUs.leastBusy(config.gpus, holding: jobs.values.compactMap { $0.process != nil ? $0.gpu : nil })
        do {
            let p = try TrainerProcess(ref: ref, command: command, job: .object(body), directory: dir, deadline: deadline,
                                       threads: config.threadsPerJob, gpu: gpu, logCap: config.maxLogBytes, events: events)
            jobs[ref] = HeldJob(job: job, process: p, gpu: gpu)
            logger.info("job started", metadata: ["worker": "\(config.name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)", "pid": "\(p.pid)"])
        } catch {
            try finish(ref, .failed(ref, error: "cannot start trainer '\(job.trainer)': \(error)", retryable: true), job: job)
        }
    }

    mutating func finish(_ ref: AttemptRef, _ outcome: Envelope, job: Job) throws {
        var held = jobs[ref] ?? HeldJob(job: job)
        held.process = nil
        held.delayed = nil
        held.outcome = outcome
        jobs[ref] = held
        try send(outcome)
    }

    mutating func drainEvents() throws {
        for e in events.drain() {
            switch e {
            case let .progress(ref, step, metrics):
                if jobs[ref] != nil { try send(.progress(ref, step: step, metrics: metrics)) }
            case let .result(ref, metrics, info, artifacts):
                jobs[ref]?.pendingMetrics = metrics
                jobs[ref]?.pendingInfo = info
                let offered = offer(artifacts, ref: ref)
                jobs[ref]?.artifacts = offered
            case let .finished(ref, error, retryable):
                guard let held = jobs[ref] else { continue }
                let outcome: Envelope
                if let error {
                    outcome = .failed(ref, error: error, retryable: retryable, log: held.process?.logURL.path)
                } else {
                    outcome = .result(ref, metrics: held.pendingMetrics ?? [:], info: held.pendingInfo, artifacts: held.artifacts)
                }
                logger.info("job finished", metadata: ["worker": "\(config.name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)",
                                                       "outcome": "\(error ?? "result")"])
                try finish(ref, outcome, job: held.job)
            }
        }
    }

    /// Sends the table answers whose time has come.
    mutating func releaseDelayed() throws {
        let now = Date()
        for (ref, held) in jobs where held.outcome == nil {
            if let d = held.delayed, d.readyAt <= now { try finish(ref, d.outcome, job: held.job) }
        }
    }

    mutating func enforceDeadlines() {
        let now = Date()
        for held in jobs.values {
            guard held.outcome == nil, let p = held.process else { continue }
            if let sent = p.terminateSentAt {
                if now.timeIntervalSince(sent) > config.killGraceSeconds { p.kill() }
            } else if now > p.deadline {
                p.terminate(reason: "deadline of \(held.job.deadlineMs / 1000) s passed")
            }
        }
    }
}

/// The coordinator refused this worker (wrong protocol version, unknown key, …).
public struct WorkerRejected: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "the coordinator rejected this worker: \(reason)" }
}

/// The worker cannot start as configured (the message says what to change).
public struct WorkerSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
