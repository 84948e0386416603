import Foundation
import Logging
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// A trial the scheduler put on a worker: its start is written, then its JOB is sent.
struct Pick: Sendable {
    var worker: String
    var search: Int64
    var trial: QueuedTrial
    var ref: AttemptRef { AttemptRef(trial: trial.trial, attempt: trial.attempt) }
}

/// A worker's RESULT, held unacknowledged until the store has it.
struct HeldResult: Sendable {
    var result: TrialResult
    var worker: String
    /// The files the result declared, recorded with it (pending, or refused).
    var artifacts: [ArtifactDeclaration] = []
    /// The search of the attempt when the result came in (the worker may be gone when it is stored).
    var search: Int64?
    var ref: AttemptRef { AttemptRef(trial: result.trial, attempt: result.attempt) }
}

/// A worker's FAILED report, held unacknowledged until the store has it.
struct HeldFailure: Sendable {
    var ref: AttemptRef
    var worker: String
    var search: Int64?
    /// Queue it again while attempts last (the report said so, or the search retries every failure).
    var retry: Bool
    var error: String
}

/// A write the loop asks the store writer for.
enum StoreCommand: Sendable {
    case enqueue(search: Int64, requests: [TrialRequest], predicted: [MeasurementRecord])
    case start([Pick])
    case results([HeldResult])
    case failure(HeldFailure)
    case requeue(AttemptRef, reason: String)
    case prune(AttemptRef, worker: String, search: Int64, reason: String)
    case progress([TrialProgress])
    case registerWorker(id: String, host: String, slots: Int, tags: [String])
    case workersSeen([String])
    case completeSearch(Int64, event: String)
    /// An upload ended: stored (in place and checked), or lost / corrupt with why.
    case artifact(sha256: String, state: ArtifactRecord.State, reason: String?)

    /// Writes whose loss costs nothing but a figure: dropped, not held, while the store is down.
    var isBestEffort: Bool {
        switch self {
        case .progress, .registerWorker, .workersSeen: return true
        default: return false
        }
    }
}

/// How a held result ended up in the store.
enum ResultOutcome: Sendable {
    case stored(ReportOutcome)
    /// The result itself could not be stored (not for want of space): the attempt was
    /// recorded as failed instead (outcome nil: that failed too, and was logged).
    case failedInstead(ReportOutcome?, TrialRecord?)
}

/// What the store writer reports back to the loop.
enum StoreCompletion: Sendable {
    /// Trials created for a search (nil: the enqueue failed, nothing was created).
    case enqueued(search: Int64, drawn: Int, trials: [TrialRecord]?)
    /// Starts written (errors per pick; nil: the whole batch failed and the trials stay queued).
    case started([Pick], errors: [StoreError?]?)
    case resultsStored([(HeldResult, ResultOutcome)])
    /// A FAILED report written (outcome nil: it could not be, and was logged; ACK it anyway).
    case failureStored(HeldFailure, ReportOutcome?, TrialRecord?)
    case requeued(AttemptRef, ReportOutcome?, TrialRecord?)
    case pruned(AttemptRef, worker: String, search: Int64, ReportOutcome?)
    case searchCompleted(Int64, ok: Bool)
    /// The store's health changed.
    case health(StoreHealth, error: String?)
}

/// The store writer: one thread that owns every write of the running daemon, so the loop
/// never waits for SQLite. The loop posts commands; the writer runs them in order, merging
/// neighbours of one kind into one transaction, and posts completions back, waking the
/// loop through an inproc socket. While the store is unavailable (disk full, read-only,
/// locked) it holds the commands, in order, and retries with back-off (`StoreHealth`);
/// best-effort writes (progress, worker sightings) are dropped instead of held.
final class StoreWriter: @unchecked Sendable {
    private let store: Store
    private let logger: Logger
    private let context: ZMQContext
    private let wakeEndpoint: String
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var inbox: [StoreCommand] = []
    private var inboxHead = 0
    private var outbox: [StoreCompletion] = []
    private var health = StoreHealth.available
    private var stopping = false
    private var busy = false
    private let finished = DispatchSemaphore(value: 0)
    let metrics: DaemonMetrics?
    /// Commands held when the writer stopped (the store was unavailable).
    private(set) var leftOver: [StoreCommand] = []
    /// Why the store last refused a write (the writer's thread only).
    private var lastUnavailable: String?

    /// Starts the writer's thread; it wakes the loop by sending an empty message to the
    /// PAIR socket bound at `wakeEndpoint`.
    init(store: Store, logger: Logger, context: ZMQContext, wakeEndpoint: String, metrics: DaemonMetrics? = nil) {
        self.metrics = metrics
        self.store = store
        self.logger = logger
        self.context = context
        self.wakeEndpoint = wakeEndpoint
        let t = Thread { [self] in self.main() }
        t.name = "topiary.store-writer"
        t.start()
    }

    /// Queues a write.
    func post(_ command: StoreCommand) {
        condition.lock()
        inbox.append(command)
        condition.signal()
        condition.unlock()
    }

    /// The completions so far.
    func takeCompletions() -> [StoreCompletion] {
        condition.lock()
        defer { condition.unlock() }
        let out = outbox
        outbox.removeAll(keepingCapacity: true)
        return out
    }

    /// Whether commands are queued or running.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return inboxHead == inbox.count && !busy
    }

    /// Runs what is queued (one more try each, whatever the back-off says), then stops the
    /// thread. Returns the commands the store could not take.
    func finish() -> [StoreCommand] {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if first { finished.wait() }
        return leftOver
    }

    // MARK: The thread

    private func main() {
        let wake: ZMQSocket? = try? ZMQSocket(context, .pair)
        do { try wake?.connect(wakeEndpoint) } catch { logger.error("the store writer cannot wake the loop", metadata: ["error": "\(error)"]) }
        defer {
            wake?.close()
            finished.signal()
        }
        while true {
            condition.lock()
            while inboxHead == inbox.count && !stopping { condition.wait() }
            if inboxHead == inbox.count {  // stopping, nothing left
                condition.unlock()
                return
            }
            // While the store is down, wait for the next try (unless stopping: one last try).
            while !stopping, case .retrying(let until, _) = health, Date() < until {
                _ = condition.wait(until: until)
            }
            let commands = takeBatch()
            busy = true
            let wasDown = !health.isAvailable
            condition.unlock()

            lastUnavailable = nil
            let started = DispatchTime.now().uptimeNanoseconds
            let (done, held) = runBatch(commands)
            metrics?.storeTransaction(seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)

            condition.lock()
            busy = false
            var out = done
            if !held.isEmpty {
                // Unavailable: nothing of the batch was stored; keep it at the head, in order
                // (best-effort writes are dropped).
                health = health.failed(at: Date())
                out.append(.health(health, error: lastUnavailable))
                let keep = held.filter { !$0.isBestEffort }
                if stopping {
                    // Stopping with the store down: everything else stays with the workers.
                    leftOver += keep + inbox[inboxHead...].filter { !$0.isBestEffort }
                    inbox.removeAll()
                    inboxHead = 0
                } else {
                    inbox.replaceSubrange(inboxHead..<inboxHead, with: keep)
                }
            } else if wasDown {
                health = .available
                out.append(.health(.available, error: nil))
            }
            outbox += out
            metrics?.storeHeld(held.isEmpty ? 0 : inbox.count - inboxHead)
            if inboxHead > 1024 && inboxHead * 2 > inbox.count {
                inbox.removeFirst(inboxHead)
                inboxHead = 0
            }
            condition.unlock()
            if !out.isEmpty { _ = try? wake?.send([[]], dontWait: true) }
        }
    }

    /// Up to `batchLimit` commands from the head of the inbox, neighbours of one kind
    /// merged. Called with the lock held.
    private func takeBatch() -> [StoreCommand] {
        var batch: [StoreCommand] = []
        while inboxHead < inbox.count && batch.count < Self.batchLimit { batch.append(takeMergedHead()) }
        return batch
    }

    /// Commands run together in one store transaction at most.
    static let batchLimit = 64

    /// Runs commands in one transaction. Returns their completions, or (when the store is
    /// unavailable, at any write or at the commit) no completions and every command back.
    private func runBatch(_ commands: [StoreCommand]) -> ([StoreCompletion], held: [StoreCommand]) {
        struct HeldBack: Error {}
        var done: [StoreCompletion] = []
        do {
            try store.batch {
                for c in commands {
                    let (d, rest) = run(c)
                    if rest != nil { throw HeldBack() }  // roll the whole batch back
                    done += d
                }
            }
            return (done, [])
        } catch is HeldBack {
            return ([], commands)
        } catch let e as StoreError where e.isUnavailable {
            lastUnavailable = "\(e)"
            return ([], commands)
        } catch {
            // The batch itself failed for another reason: run the commands one by one, each
            // in a transaction of its own, as far as the store takes them.
            logger.error("a batch of writes failed; writing them one by one", metadata: ["error": "\(error)"])
            done = []
            for (i, c) in commands.enumerated() {
                let (d, rest) = run(c)
                done += d
                if let rest { return (done, [rest] + commands[(i + 1)...]) }
            }
            return (done, [])
        }
    }

    /// The command at the head of the inbox, with the commands of the same kind right
    /// behind it merged in (one transaction for all). Called with the lock held.
    private func takeMergedHead() -> StoreCommand {
        var head = inbox[inboxHead]
        inboxHead += 1
        while inboxHead < inbox.count {
            switch (head, inbox[inboxHead]) {
            case (.results(let a), .results(let b)): head = .results(a + b)
            case (.start(let a), .start(let b)): head = .start(a + b)
            case (.progress(let a), .progress(let b)): head = .progress(a + b)
            default: return head
            }
            inboxHead += 1
        }
        return head
    }

    /// Runs one command. Returns its completions, and what is left of it when the store is
    /// unavailable (to retry later; `lastUnavailable` says why); other errors are reported
    /// in the completions and logged.
    private func run(_ command: StoreCommand) -> ([StoreCompletion], StoreCommand?) {
        func unavailable(_ error: Error) -> Bool {
            guard (error as? StoreError)?.isUnavailable == true else { return false }
            lastUnavailable = "\(error)"
            return true
        }
        switch command {
        case .enqueue(let search, let requests, let predicted):
            do {
                let trials = try store.enqueue(search: search, requests)
                if !predicted.isEmpty { try? store.recordMeasurements(predicted) }
                return ([.enqueued(search: search, drawn: requests.count, trials: trials)], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not enqueue trials", metadata: ["search": "\(search)", "error": "\(error)"])
                return ([.enqueued(search: search, drawn: requests.count, trials: nil)], nil)
            }

        case .start(let picks):
            do {
                let errors = try store.markRunning(picks.map { TrialStart(trial: $0.trial.trial, attempt: $0.trial.attempt, worker: $0.worker) })
                return ([.started(picks, errors: errors)], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not start trials; they stay queued", metadata: ["count": "\(picks.count)", "error": "\(error)"])
                return ([.started(picks, errors: nil)], nil)
            }

        case .results(let held):
            do {
                let outcomes = try store.recordResults(held.map(\.result))
                // A result's artifacts are recorded in its transaction: a resent copy (a
                // duplicate) finds them there already.
                for (h, o) in zip(held, outcomes) where o == .recorded && !h.artifacts.isEmpty {
                    try store.declareArtifacts(trial: h.ref.trial, attempt: h.ref.attempt, worker: h.worker, h.artifacts)
                }
                return ([.resultsStored(zip(held, outcomes.map { ResultOutcome.stored($0) }).map { ($0, $1) })], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                // One bad report must not block the rest: one by one.
                logger.error("a batch of results failed; recording them one by one", metadata: ["error": "\(error)"])
                var stored: [(HeldResult, ResultOutcome)] = []
                for (i, h) in held.enumerated() {
                    do {
                        let outcome = try store.recordResult(h.result)
                        if outcome == .recorded && !h.artifacts.isEmpty {
                            try? store.declareArtifacts(trial: h.ref.trial, attempt: h.ref.attempt, worker: h.worker, h.artifacts)
                        }
                        stored.append((h, .stored(outcome)))
                    } catch {
                        if unavailable(error) { return ([.resultsStored(stored)], .results(Array(held[i...]))) }
                        do {
                            let outcome = try store.recordFailure(trial: h.ref.trial, attempt: h.ref.attempt,
                                                                  error: "the result could not be stored: \(error)", retryable: false)
                            stored.append((h, .failedInstead(outcome, try store.trial(h.ref.trial))))
                        } catch {
                            if unavailable(error) { return ([.resultsStored(stored)], .results(Array(held[i...]))) }
                            logger.error("could not record a failure", metadata: ["trial": "\(h.ref.trial)", "error": "\(error)"])
                            stored.append((h, .failedInstead(nil, nil)))
                        }
                    }
                }
                return ([.resultsStored(stored)], nil)
            }

        case .artifact(let sha, let state, let reason):
            do {
                if state == .stored { try store.artifactStored(sha) } else { try store.artifactFailed(sha, state: state, reason: reason ?? state.rawValue) }
                return ([], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not record an artifact's outcome", metadata: ["sha256": "\(sha)", "error": "\(error)"])
                return ([], nil)
            }

        case .failure(let f):
            do {
                let outcome = try store.recordFailure(trial: f.ref.trial, attempt: f.ref.attempt, error: f.error, retryable: f.retry)
                return ([.failureStored(f, outcome, try store.trial(f.ref.trial))], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not record a failure", metadata: ["trial": "\(f.ref.trial)", "error": "\(error)"])
                return ([.failureStored(f, nil, nil)], nil)
            }

        case .requeue(let ref, let reason):
            do {
                let outcome = try store.requeue(trial: ref.trial, attempt: ref.attempt, reason: reason)
                return ([.requeued(ref, outcome, try store.trial(ref.trial))], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not requeue a trial", metadata: ["trial": "\(ref.trial)", "attempt": "\(ref.attempt)", "error": "\(error)"])
                return ([.requeued(ref, nil, nil)], nil)
            }

        case .prune(let ref, let worker, let search, let reason):
            do {
                let outcome = try store.prune(trial: ref.trial, attempt: ref.attempt, reason: reason)
                return ([.pruned(ref, worker: worker, search: search, outcome)], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.warning("could not stop a trial early", metadata: ["trial": "\(ref.trial)", "error": "\(error)"])
                return ([.pruned(ref, worker: worker, search: search, nil)], nil)
            }

        case .progress(let reports):
            do { _ = try store.recordProgress(reports) } catch {
                if unavailable(error) { return ([], command) }
                logger.warning("could not record progress", metadata: ["error": "\(error)"])
            }
            return ([], nil)

        case .registerWorker(let id, let host, let slots, let tags):
            do { _ = try store.registerWorker(id: id, host: host, slots: slots, tags: tags) } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not record the worker", metadata: ["worker": "\(id)", "error": "\(error)"])
            }
            return ([], nil)

        case .workersSeen(let names):
            do { try store.workersSeen(names) } catch {
                if unavailable(error) { return ([], command) }
            }
            return ([], nil)

        case .completeSearch(let id, let event):
            do {
                _ = try store.completeSearch(id)
                try? store.logEvent(kind: "search.rejections", message: event, search: id)
                return ([.searchCompleted(id, ok: true)], nil)
            } catch {
                if unavailable(error) { return ([], command) }
                logger.error("could not complete a search", metadata: ["search": "\(id)", "error": "\(error)"])
                return ([.searchCompleted(id, ok: false)], nil)
            }
        }
    }
}
