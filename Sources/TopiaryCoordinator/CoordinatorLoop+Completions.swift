import Foundation
import TopiaryCore
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// What the store writer finished, applied: new trials join their queues, started trials
/// go out as JOBs, stored reports are acknowledged and told to their strategies.
extension CoordinatorLoop {
    mutating func applyCompletions() {
        for c in writer.takeCompletions() {
            switch c {
            case .enqueued(let id, let drawn, let trials):
                guard searches[id] != nil else { continue }
                searches[id]!.enqueuing -= drawn
                if searches[id]!.finalEnqueuing > 0 {
                    // The final phase's trials (posted once the search was idle, so this is them).
                    searches[id]!.finalEnqueuing = 0
                    guard let trials else { searches[id]!.finalPhaseStarted = false; continue }  // try again
                    for t in trials {
                        searches[id]!.finalTrials.insert(t.trialID)
                        searches[id]!.pushQueued(QueuedTrial(trial: t.trialID, attempt: t.attempt, candidateID: t.candidateID, fidelity: t.fidelity))
                    }
                    continue
                }
                guard let trials else {
                    searches[id]!.created -= drawn  // nothing was created: draw again later
                    searches[id]!.enqueueFailures += 1
                    if searches[id]!.enqueueFailures >= SearchRuntime.enqueueFailureLimit { pauseUnstorable(id) }
                    continue
                }
                searches[id]!.enqueueFailures = 0
                searches[id]!.created -= drawn - trials.count
                for t in trials {
                    searches[id]!.keys[t.trialID] = TrialKey(candidateID: t.candidateID, fidelity: t.fidelity)
                    searches[id]!.pushQueued(QueuedTrial(trial: t.trialID, attempt: t.attempt, candidateID: t.candidateID, fidelity: t.fidelity))
                }

            case .started(let picks, let errors):
                started(picks, errors: errors)

            case .resultsStored(let stored):
                for (held, outcome) in stored { resultStored(held, outcome) }

            case .failureStored(let f, let outcome, let trial):
                registry[f.worker]?.running[f.ref] = nil
                send(worker: f.worker, .ack(f.ref))
                guard let outcome else { continue }
                logger.warning("trial failed", metadata: ["worker": "\(f.worker)", "trial": "\(f.ref.trial)", "attempt": "\(f.ref.attempt)",
                                                          "retryable": "\(f.retry)", "outcome": "\(outcome)", "error": "\(f.error.prefix(300))"])
                afterRequeue(f.ref, outcome, trial, failed: true)

            case .requeued(let ref, let outcome, let trial):
                if let outcome { afterRequeue(ref, outcome, trial, failed: false) }

            case .pruned(let ref, let worker, let search, let outcome):
                guard outcome == .recorded else { continue }
                registry[worker]?.running[ref] = nil
                trialEnded(search, trial: ref.trial, .stopped)
                send(worker: worker, .cancel(ref, reason: "stopped early by the strategy"))
                logger.info("trial stopped early", metadata: ["search": "\(search)", "trial": "\(ref.trial)", "worker": "\(worker)"])

            case .searchCompleted(let id, let ok):
                completing.remove(id)
                guard ok, let s = searches.removeValue(forKey: id) else { continue }
                endedStats[id] = (s.rejected, s.infeasible, s.lastInfeasibility)
                logger.notice("search completed", metadata: ["search": "\(id)", "trials": "\(s.created)",
                                                             "best_accuracy": "\(s.best.map { String($0.accuracy) } ?? "-")"])

            case .health(let health, let error):
                let was = storeHealth
                storeHealth = health
                if was.isAvailable && !health.isAvailable {
                    logger.error("cannot write the database; holding results unacknowledged and retrying (after 1 s, backing off to 10 s)",
                                 metadata: ["error": "\(error ?? "-")"])
                } else if !was.isAvailable && health.isAvailable {
                    logger.notice("the database is writable again", metadata: ["path": "\(store.path)"])
                }
            }
        }
    }

    /// Starts are in the store. A trial whose start could not be written was sent all the
    /// same: its worker is told to cancel it and its slot is free again.
    mutating func started(_ picks: [Pick], errors: [StoreError?]?) {
        for (i, p) in picks.enumerated() {
            let error = errors.flatMap { $0[i] }
            guard errors == nil || error != nil else { continue }
            if registry[p.worker]?.running[p.ref] != nil {
                registry[p.worker]!.running[p.ref] = nil
                send(worker: p.worker, .cancel(p.ref, reason: "the coordinator could not record its start"))
            }
            searches[p.search]?.running -= 1
            if errors == nil {
                searches[p.search]?.pushFront(p.trial)  // still queued in the store
            } else {
                logger.warning("could not start a trial", metadata: ["search": "\(p.search)", "trial": "\(p.trial.trial)", "error": "\(error!)"])
            }
        }
    }

    /// A result is in the store (recorded, ignored as a duplicate or stale, or failed
    /// instead): ACK it and tell its search.
    mutating func resultStored(_ held: HeldResult, _ outcome: ResultOutcome) {
        let ref = held.ref
        resultsInFlight.remove(ref)
        let search = registry[held.worker]?.running.removeValue(forKey: ref) ?? held.search
        registry[held.worker]?.done += 1
        send(worker: held.worker, .ack(ref))
        switch outcome {
        case .stored(.recorded):
            for a in held.artifacts where a.refused == nil { transfers.add(sha256: a.sha256, bytes: a.bytes, worker: held.worker) }
            guard let sid = search else { return }
            var m: [String: Double] = [:]
            for (k, v) in held.result.metrics.objectPairs ?? [] { if let d = v.doubleValue { m[k] = d } }
            trialEnded(sid, trial: ref.trial, .completed(m))
            if let a = held.result.metrics["accuracy"]?.doubleValue {
                inPlace(sid) { s in
                    if a > (s.best?.accuracy ?? -Double.infinity), let key = s.keys[ref.trial] { s.best = (a, key.candidateID) }
                }
            }
        case .stored(let ignored):
            logger.info("report ignored", metadata: ["worker": "\(held.worker)", "trial": "\(ref.trial)", "attempt": "\(ref.attempt)", "outcome": "\(ignored)"])
        case .failedInstead(let failed, let trial):
            if let failed { afterRequeue(ref, failed, trial, failed: true) }
        }
    }

    /// After a requeue or a failure was written: a requeued trial goes back to its queue; a
    /// trial failed for good (attempts used up, or a final failure) is told to its strategy.
    mutating func afterRequeue(_ ref: AttemptRef, _ outcome: ReportOutcome, _ t: TrialRecord?, failed: Bool) {
        guard let t, searches[t.searchID] != nil else { return }
        let sid = t.searchID
        switch outcome {
        case .requeued(let attempt):
            searches[sid]!.running -= 1
            searches[sid]!.pushQueued(QueuedTrial(trial: ref.trial, attempt: attempt, candidateID: t.candidateID, fidelity: t.fidelity))
            logger.info("trial requeued", metadata: ["search": "\(sid)", "trial": "\(ref.trial)", "attempt": "\(attempt)"])
        case .recorded:
            trialEnded(sid, trial: ref.trial, .failed)
            if !failed { logger.warning("trial failed: attempts used up", metadata: ["search": "\(sid)", "trial": "\(ref.trial)"]) }
        default: break
        }
    }

    /// A search whose drawn trials the store refuses again and again (not because it is
    /// unavailable: their values) is paused rather than redrawn in a loop; the error is
    /// in the log above, and `search resume` tries again once its cause is fixed.
    mutating func pauseUnstorable(_ id: Int64) {
        searches[id]!.enqueueFailures = 0
        do {
            searches[id]!.record = try store.pauseSearch(id)
            logger.error("search paused: the store refused its trials \(SearchRuntime.enqueueFailureLimit) times in a row (the error is logged above); fix the cause, then `topiary search resume \(id)`",
                         metadata: ["search": "\(id)"])
        } catch {
            logger.error("could not pause a search whose trials the store refuses", metadata: ["search": "\(id)", "error": "\(error)"])
        }
    }
}
