import Foundation
import GRDB

/// What a requeue did: trials queued again on a new attempt, and trials that had used
/// their attempts and were failed instead.
public struct RequeueSummary: Sendable, Equatable {
    public var requeued: [TrialRecord] = []
    public var failed: [TrialRecord] = []

    public init(requeued: [TrialRecord] = [], failed: [TrialRecord] = []) {
        self.requeued = requeued
        self.failed = failed
    }
}

extension Store {
    /// Puts every running trial back in the queue: call it when the daemon starts, since no
    /// worker holds a trial across a restart. Each goes to attempt + 1, or is failed when
    /// its search's `maxAttempts` is used up.
    public func requeueRunning(reason: String = "coordinator restarted") throws -> RequeueSummary {
        try write("requeueing running trials") { db in
            let running = try TrialRecord.fetchAll(db, sql: "SELECT * FROM trials WHERE state = 'running' ORDER BY id")
            return try requeueAll(db, running, reason: reason)
        }
    }

    /// Puts the running trials of a lost worker back in the queue (attempt + 1, bounded).
    public func requeueTrials(ofWorker worker: String, reason: String = "worker lost") throws -> RequeueSummary {
        try write("requeueing the trials of worker \(worker)") { db in
            let running = try TrialRecord.fetchAll(db, sql: """
                SELECT * FROM trials INDEXED BY trials_running_by_worker WHERE state = 'running' AND worker_id = ? ORDER BY id
                """, arguments: [worker])
            return try requeueAll(db, running, reason: reason)
        }
    }

    /// Puts one running trial back in the queue (e.g. its lease expired). A report about
    /// an older attempt or an ended trial is ignored like any other late report.
    @discardableResult
    public func requeue(trial: Int64, attempt: Int, reason: String) throws -> ReportOutcome {
        try write("requeueing trial \(trial)") { db in
            guard let t = try TrialRecord.fetchOne(db, key: trial) else { throw StoreError.noSuchTrial(trial) }
            if let ignored = try ignoreIfStale(db, t, attempt: attempt, report: "requeue") { return ignored }
            guard t.state.canMove(to: .queued) else { throw StoreError.illegalTransition(trial: trial, from: t.state, to: .queued) }
            return try requeueOrFail(db, t, reason: reason)
        }
    }

    func requeueAll(_ db: Database, _ running: [TrialRecord], reason: String) throws -> RequeueSummary {
        var summary = RequeueSummary()
        for t in running {
            switch try requeueOrFail(db, t, reason: reason) {
            case .requeued:
                summary.requeued.append(try TrialRecord.fetchOne(db, key: t.id)!)
            default:
                summary.failed.append(try TrialRecord.fetchOne(db, key: t.id)!)
            }
        }
        return summary
    }

    /// running -> queued on attempt + 1 while the search allows more attempts, else failed.
    func requeueOrFail(_ db: Database, _ trial: TrialRecord, reason: String) throws -> ReportOutcome {
        let maxAttempts = try Int.fetchOne(db.cachedStatement(sql: "SELECT max_attempts FROM searches WHERE id = ?"), arguments: [trial.searchID]) ?? 1
        guard trial.attempt < maxAttempts else {
            try finish(db, trial, as: .failed, reason: "\(reason); gave up after \(trial.attempt) of \(maxAttempts) attempts")
            return .recorded
        }
        var t = trial
        let lostWorker = t.workerID
        t.state = .queued
        t.attempt += 1
        t.workerID = nil
        t.startedAt = nil
        try t.update(db, columns: [TrialRecord.CodingKeys.state, .attempt, .workerID, .startedAt])
        try appendEvent(db, kind: "trial.requeued", message: "\(reason); attempt \(trial.attempt) lost, queued as attempt \(t.attempt) of \(maxAttempts)",
                        search: t.searchID, trial: t.trialID, worker: lostWorker)
        logger.notice("trial requeued", metadata: [
            "trial": "\(t.trialID)", "search": "\(t.searchID)", "worker": "\(lostWorker ?? "-")", "attempt": "\(t.attempt)",
        ])
        return .requeued(attempt: t.attempt)
    }
}
