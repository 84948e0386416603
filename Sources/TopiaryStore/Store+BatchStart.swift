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
            try starts.map { s -> StoreError? in
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
