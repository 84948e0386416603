import Foundation
import GRDB
import TopiaryCore

/// A trial's final metrics as its worker reported them.
public struct TrialResult: Sendable {
    public var trial: Int64
    public var attempt: Int
    /// A JSON object. `accuracy` (a fraction or a percentage, as the trainer reports it) is
    /// copied into its own column for ranking; for measure trials `latency_ms` becomes a
    /// measured latency of the candidate on the search's target.
    public var metrics: JSONValue

    public init(trial: Int64, attempt: Int, metrics: JSONValue) {
        self.trial = trial
        self.attempt = attempt
        self.metrics = metrics
    }
}

extension Store {
    /// Records a trial's result (running -> completed) and updates the leaderboard.
    /// Duplicates and stale attempts are ignored and logged (see `ReportOutcome`); a result
    /// for a trial that was never started is an illegal transition.
    @discardableResult
    public func recordResult(_ result: TrialResult) throws -> ReportOutcome {
        try recordResults([result])[0]
    }

    /// Records a batch of results in one transaction; outcomes in the same order.
    /// Every result is checked first, so a malformed one rejects the batch and stores nothing.
    public func recordResults(_ results: [TrialResult]) throws -> [ReportOutcome] {
        var checked: [(TrialResult, String, Double?)] = []
        checked.reserveCapacity(results.count)
        for r in results {
            guard r.metrics.objectPairs != nil else {
                throw StoreError.invalidValue(field: "trial \(r.trial) metrics", detail: "must be a JSON object")
            }
            var accuracy: Double?
            if let a = r.metrics["accuracy"], a != .null {
                guard let v = a.doubleValue, v.isFinite else {
                    throw StoreError.invalidValue(field: "trial \(r.trial) metrics.accuracy", detail: "must be a finite number, got \(a.canonical)")
                }
                accuracy = v
            }
            checked.append((r, r.metrics.canonical, accuracy))
        }
        return try write("recording \(results.count) results") { db in
            try checked.map { r, metricsText, accuracy in
                guard var t = try TrialRecord.fetch(db, id: r.trial) else { throw StoreError.noSuchTrial(r.trial) }
                if let ignored = try ignoreIfStale(db, t, attempt: r.attempt, report: "result") { return ignored }
                guard t.state.canMove(to: .completed) else {
                    throw StoreError.illegalTransition(trial: t.trialID, from: t.state, to: .completed)
                }
                t.state = .completed
                t.finishedAt = clock()
                t.metrics = metricsText
                t.accuracy = accuracy
                try db.cachedStatement(sql: "UPDATE trials SET state = 'completed', finished_at = ?, metrics = ?, accuracy = ? WHERE id = ?")
                    .execute(arguments: [t.finishedAt!.timeIntervalSince1970, metricsText, accuracy, t.trialID])
                switch t.kind {
                case .train:
                    try updateLeaderboard(db, with: t)
                case .measure:
                    if let ms = r.metrics["latency_ms"]?.doubleValue, ms.isFinite, ms >= 0,
                       let target = try String.fetchOne(db, sql: "SELECT target FROM searches WHERE id = ?", arguments: [t.searchID]) {
                        try upsertMeasurement(db, MeasurementRecord(candidateID: t.candidateID, target: target, source: .measured,
                                                                    latencyMs: ms, recordedBy: t.workerID ?? "unknown", recordedAt: clock()))
                    } else {
                        logger.warning("measure trial reported no usable latency_ms", metadata: ["trial": "\(t.trialID)"])
                    }
                }
                return .recorded
            }
        }
    }

    /// Records that a trial failed. A retryable failure with attempts left queues the trial
    /// again (attempt + 1); otherwise the trial is failed with the error text.
    @discardableResult
    public func recordFailure(trial: Int64, attempt: Int, error: String, retryable: Bool = false) throws -> ReportOutcome {
        try write("recording the failure of trial \(trial)") { db in
            guard let t = try TrialRecord.fetch(db, id: trial) else { throw StoreError.noSuchTrial(trial) }
            if let ignored = try ignoreIfStale(db, t, attempt: attempt, report: "failure") { return ignored }
            guard t.state == .running else { throw StoreError.illegalTransition(trial: trial, from: t.state, to: .failed) }
            if retryable { return try requeueOrFail(db, t, reason: error) }
            try finish(db, t, as: .failed, reason: error)
            return .recorded
        }
    }

    /// Stops a running trial early because its intermediate results are not promising
    /// (running -> pruned).
    @discardableResult
    public func prune(trial: Int64, attempt: Int, reason: String) throws -> ReportOutcome {
        try write("pruning trial \(trial)") { db in
            guard let t = try TrialRecord.fetch(db, id: trial) else { throw StoreError.noSuchTrial(trial) }
            if let ignored = try ignoreIfStale(db, t, attempt: attempt, report: "prune") { return ignored }
            guard t.state.canMove(to: .pruned) else { throw StoreError.illegalTransition(trial: trial, from: t.state, to: .pruned) }
            try finish(db, t, as: .pruned, reason: reason)
            return .recorded
        }
    }

    /// Cancels one queued or running trial. Returns it as it was before, so the caller
    /// knows whether a worker must be told to stop.
    @discardableResult
    public func cancelTrial(_ trial: Int64, reason: String) throws -> TrialRecord {
        try write("cancelling trial \(trial)") { db in
            guard let t = try TrialRecord.fetch(db, id: trial) else { throw StoreError.noSuchTrial(trial) }
            guard t.state.canMove(to: .cancelled) else { throw StoreError.illegalTransition(trial: trial, from: t.state, to: .cancelled) }
            try finish(db, t, as: .cancelled, reason: reason)
            return t
        }
    }

    /// For a report about (trial, attempt): the outcome to return if it must be ignored
    /// (after logging an event), or nil if it applies to the trial's current attempt and
    /// the trial has not ended.
    func ignoreIfStale(_ db: Database, _ t: TrialRecord, attempt: Int, report: String) throws -> ReportOutcome? {
        let outcome: ReportOutcome
        if attempt != t.attempt {
            outcome = .stale(currentAttempt: t.attempt)
        } else if t.state == .completed {
            outcome = .duplicate
        } else if t.state.isFinal {
            outcome = .late(t.state)
        } else {
            return nil
        }
        let kind: String
        switch outcome {
        case .stale: kind = "result.stale"
        case .duplicate: kind = "result.duplicate"
        default: kind = "result.late"
        }
        try appendEvent(db, kind: kind, message: "\(report) for attempt \(attempt) \(outcome)",
                        search: t.searchID, trial: t.trialID, worker: t.workerID)
        logger.notice("report ignored", metadata: [
            "trial": "\(t.trialID)", "attempt": "\(attempt)", "report": "\(report)", "outcome": "\(outcome)",
        ])
        return outcome
    }

    /// Moves a trial to a final state with a reason, logging the event.
    func finish(_ db: Database, _ trial: TrialRecord, as state: TrialState, reason: String) throws {
        var t = trial
        t.state = state
        t.finishedAt = clock()
        t.error = reason
        try t.update(db, columns: [TrialRecord.CodingKeys.state, .finishedAt, .error])
        try appendEvent(db, kind: "trial.\(state)", message: "attempt \(t.attempt): \(reason)",
                        search: t.searchID, trial: t.trialID, worker: t.workerID)
        logger.info("trial ended", metadata: ["trial": "\(t.trialID)", "state": "\(state)", "reason": "\(reason)"])
    }
}
