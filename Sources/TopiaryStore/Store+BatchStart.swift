import Foundation
import GRDB

/// A queued trial attempt to start on a worker.
public struct TrialStart: Sendable, Equatable {
    public var trial: Int64
    public var attempt: Int
    public var worker: String

    public init(trial: Int64, attempt: Int, worker: String) {
        self.trial = trial
        self.attempt = attempt
        self.worker = worker
    }
}

extension Store {
    /// Moves several queued trials to running in one transaction: the daemon starts every
    /// trial it dispatches in one turn of its loop at once. Returns, in order, nil for each
    /// trial started and the reason for each that could not be (no such trial, not queued,
    /// another attempt); those are left as they were.
    public func markRunning(_ starts: [TrialStart]) throws -> [StoreError?] {
        guard !starts.isEmpty else { return [] }
        return try write("starting \(starts.count) trials") { db in
            let now = clock().timeIntervalSince1970
            let update = try db.cachedStatement(sql: """
                UPDATE trials SET state = 'running', worker_id = ?, started_at = ? WHERE id = ? AND state = 'queued' AND attempt = ?
                """)
            return try starts.map { s -> StoreError? in
                try update.execute(arguments: [s.worker, now, s.trial, s.attempt])
                if db.changesCount == 1 { return nil }
                // Not started: find out why, as the single-trial call would say it.
                guard var t = try TrialRecord.fetchOne(db, key: s.trial) else { return StoreError.noSuchTrial(s.trial) }
                do {
                    try start(db, &t, attempt: s.attempt, worker: s.worker)
                    return nil
                } catch let e as StoreError {
                    return e
                }
            }
        }
    }
}
