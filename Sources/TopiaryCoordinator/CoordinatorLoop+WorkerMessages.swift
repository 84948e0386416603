import Foundation
import Logging
import TopiaryCore
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// Messages from workers: HELLO into the registry, PROGRESS / RESULT / FAILED toward the
/// store writer (held unacknowledged until stored), BYE out of the registry.
extension CoordinatorLoop {
    mutating func handleWorkerMessage(_ frames: [[UInt8]], key: String? = nil) {
        guard frames.count >= 2 else { return }
        let identity = frames[0]
        let e: Envelope
        do { e = try Envelope.decode(Array(frames.dropFirst())) } catch {
            warnLimited("malformed", "dropped a malformed message", ["peer": "\(printable(identity))", "reason": "\(error)"])
            return
        }
        if e.command == .hello { handleHello(identity, e, key: key); return }
        guard let name = registry.name(of: identity), let worker = registry[name] else {
            // Unknown peer (e.g. we restarted): ask it to introduce itself again.
            if logLimiter.allow("unknown-peer") {
                logger.info("message from an unknown peer; asking it to reconnect", metadata: ["peer": "\(printable(identity))", "command": "\(e.command.rawValue)"])
            }
            send(identity, .bye("unknown worker; send HELLO"))
            return
        }
        guard worker.key == key else {
            warnLimited("key-mismatch", "dropped a message whose key is not its worker's", ["worker": "\(name)", "key": "\(key ?? "none")"])
            return
        }
        registry.heard(name, at: Date())
        do {
            switch e.command {
            case .heartbeat: break
            case .progress:
                let ref = try attemptRef(e)
                guard let sid = registry[name]!.running[ref] else {
                    warnLimited("not-held", "progress for a trial this worker does not hold", ["worker": "\(name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)"])
                    return
                }
                switch registry.countReport(name, ref, limit: config.maxReportsPerAttempt) {
                case .within: break
                case .firstOverLimit:
                    logger.warning("too many progress reports; dropping the rest", metadata: ["worker": "\(name)", "trial": "\(ref.trial)",
                                                                                              "limit": "\(config.maxReportsPerAttempt)"])
                    return
                case .overLimit: return
                }
                let f = Fields(e)
                let step = try f.int("step", default: 0)
                let metrics = try f.metrics("metrics")
                turnProgress.append(TrialProgress(trial: ref.trial, attempt: ref.attempt, step: step, metrics: e.body["metrics"] ?? .object([])))
                if let key = searches[sid]?.keys[ref.trial],
                   (try? searches[sid]!.strategy.report(key, ProgressReport(step: Double(step), metrics: metrics))) == true {
                    stopEarly(name, ref, search: sid)
                }
            case .result:
                let ref = try attemptRef(e)
                let metrics = try Fields(e).metrics("metrics")
                // A copy of a result still being written (resent after a reconnect): the
                // ACK goes out once the first copy is stored.
                guard !resultsInFlight.contains(ref) else { return }
                guard ownsOrOrphan(name, ref) else {
                    warnLimited("not-held", "result for a trial this worker does not hold", ["worker": "\(name)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)"])
                    send(identity, .ack(ref))
                    return
                }
                if let sid = registry[name]?.running[ref], let missing = searches[sid]?.missingObjective(metrics) {
                    // Stored as completed, it would rank nowhere and the search's best would stay empty.
                    warnLimited("no-objective", "a result without the search's objective; recorded as failed",
                                ["worker": "\(name)", "trial": "\(ref.trial)", "missing": "\(missing)"])
                    postTurn()
                    writer.post(.failure(HeldFailure(ref: ref, worker: name, search: sid, retry: false,
                                                     error: "the result has no '\(missing)', an objective of the search; the trainer must report it")))
                    return
                }
                var info = metrics.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.double($0.value)) }
                if let extra = e.body["info"], extra != .null { info.append(("info", extra)) }
                // The slot is free as soon as the result is in: the worker holds the result
                // until it is acknowledged, and the writer stores it in order.
                let sid = registry[name]?.running.removeValue(forKey: ref)
                deadlines[ref] = nil
                resultsInFlight.insert(ref)
                let artifacts = declarations(e, worker: name, search: sid)
                turnResults.append(HeldResult(result: TrialResult(trial: ref.trial, attempt: ref.attempt, metrics: .object(info)),
                                              worker: name, artifacts: artifacts, search: sid))
            case .failed:
                let ref = try attemptRef(e)
                let f = Fields(e)
                let error = try f.string("error")
                guard ownsOrOrphan(name, ref) else { send(identity, .ack(ref)); return }
                deadlines[ref] = nil
                let retryable = try f.bool("retryable", default: false)
                let logPath = try f.optionalString("log")
                let sid = registry[name]?.running[ref]
                // Queued again when it is retryable — or the search retries every failure
                // (`--retry-failed`) — and attempts remain; else failed. Acknowledged once stored.
                let retry = retryable || (sid.flatMap { searches[$0]?.settings.retryFailed } ?? false)
                postTurn()  // its results and progress first, in the order they came
                writer.post(.failure(HeldFailure(ref: ref, worker: name, search: sid, retry: retry, error: error + (logPath.map { " (log: \($0))" } ?? ""))))
            case .chunk:
                try handleChunk(name, e)
            case .get:
                try handleGet(name, e)
            case .bye:
                logger.info("worker leaving", metadata: ["worker": "\(name)", "reason": "\(e.body["reason"]?.stringValue ?? "")"])
                postTurn()
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
        config.metrics?.rejected(kind)
        let (ok, suppressed) = logLimiter.check(kind)
        if suppressed > 0 { logger.warning("\(suppressed) more like this were not logged", metadata: ["kind": "\(kind)"]) }
        if ok { logger.warning("\(message)", metadata: metadata) }
    }

    /// Whether the worker may report on this attempt: it holds it, or it is a trial left
    /// running by the previous daemon.
    mutating func ownsOrOrphan(_ name: String, _ ref: AttemptRef) -> Bool {
        if registry[name]?.running[ref] != nil { return true }
        if let o = orphans[ref.trial], o.attempt == ref.attempt {
            orphans[ref.trial] = nil
            registry[name]?.running[ref] = o.search
            holdUntilDeadline(ref, worker: name, search: o.search)
            return true
        }
        return false
    }

    mutating func handleHello(_ identity: [UInt8], _ e: Envelope, key: String?) {
        let now = Date()
        switch registry.gateHello(key: key, now: now) {
        case .pass: break
        case .tooManyFromKey:
            warnLimited("hello-key-rate", "one key sends too many HELLOs; asking it to retry later", ["key": "\(key.map { allow?.name(of: $0) ?? $0 } ?? "none")"])
            send(identity, .bye("more than \(WorkerRegistry.hellosPerKey) HELLOs in \(Int(WorkerRegistry.hellosPerKeyWindow)) s from this key; retry later"))
            return
        case .tooManyJoining:
            warnLimited("hello-rate", "too many HELLOs; asking the peer to retry later", ["peer": "\(printable(identity))", "rate_per_s": "\(config.helloRate)"])
            send(identity, .bye("too many workers joining at once; retry later"))
            return
        }
        let hello: Hello
        do { hello = try Hello(e) } catch {
            warnLimited("bad-hello", "rejected a bad HELLO", ["peer": "\(printable(identity))", "reason": "\(error)"])
            send(identity, .reject("bad HELLO: \(error)"))
            return
        }
        if let why = registry.refusal(hello, key: key) {
            warnLimited("refused-hello", "refused a HELLO", ["worker": "\(hello.worker)", "key": "\(key ?? "none")", "reason": "\(why)"])
            send(identity, .reject(why))
            return
        }
        if registry.isFull(for: hello.worker) {
            // Not a refusal: a place may free up, so the worker retries with backoff.
            warnLimited("full", "worker turned away: the coordinator is full", ["worker": "\(hello.worker)", "max_workers": "\(config.maxWorkers)"])
            send(identity, .bye("the coordinator serves at most \(config.maxWorkers) workers; retry later"))
            return
        }
        var held: [AttemptRef: Int64] = [:]
        if let old = registry[hello.worker] {
            // Its uploads start again on the new socket (chunks asked of the old one never come).
            transfers.workerGone(hello.worker)
            // The same worker reconnected (new socket): keep what it still runs, requeue the rest.
            let still = Set(hello.running)
            for (ref, search) in old.running {
                if still.contains(ref) { held[ref] = search } else { requeue(ref, reason: "worker \(hello.worker) reconnected without it") }
            }
        }
        for ref in hello.running where held[ref] == nil {
            if let o = orphans[ref.trial], o.attempt == ref.attempt {
                orphans[ref.trial] = nil
                held[ref] = o.search
            } else {
                send(identity, .cancel(ref, reason: "the coordinator no longer expects this attempt"))
            }
        }
        let w = registry.join(hello, identity: identity, key: key, held: held, now: now)
        for (ref, search) in held where deadlines[ref] == nil {
            holdUntilDeadline(ref, worker: hello.worker, search: search)  // reclaimed: counted from now
        }
        if w.slots < hello.slots {
            logger.notice("worker asked for more slots than allowed", metadata: ["worker": "\(hello.worker)", "asked": "\(hello.slots)", "granted": "\(w.slots)"])
        }
        send(identity, .welcome(worker: hello.worker, heartbeatMs: config.heartbeatMs, liveness: config.liveness, slots: w.slots,
                                maxMessageBytes: Int(Wire.maxWorkerMessageBytes)))
        writer.post(.registerWorker(id: hello.worker, host: hello.host, slots: hello.slots, tags: hello.tags))
        logger.info("worker joined", metadata: ["worker": "\(hello.worker)", "host": "\(hello.host)", "slots": "\(w.slots)",
                                                "key": "\(key.map { allow?.name(of: $0) ?? $0 } ?? "none")",
                                                "tags": "\(hello.tags.joined(separator: ","))", "trainers": "\(hello.trainers.joined(separator: ","))",
                                                "reclaimed": "\(held.count)"])
    }
}
