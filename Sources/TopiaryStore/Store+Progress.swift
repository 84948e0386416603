import Foundation
import GRDB
import TopiaryCore

/// An intermediate report of a running trial: the metrics at one step.
public struct TrialProgress: Sendable {
    public var trial: Int64
    public var attempt: Int
    public var step: Int
    /// A JSON object.
    public var metrics: JSONValue

    public init(trial: Int64, attempt: Int, step: Int, metrics: JSONValue) {
        self.trial = trial
        self.attempt = attempt
        self.step = step
        self.metrics = metrics
    }
}

extension Store {
    /// Stores intermediate metrics of running trials in one transaction. A report for a
    /// trial that is not running on that attempt is dropped (logged at debug level: late
    /// progress is normal after a requeue). A repeated (trial, attempt, step) replaces the
    /// earlier one. Returns how many reports were stored.
    @discardableResult
    public func recordProgress(_ reports: [TrialProgress]) throws -> Int {
        for r in reports where r.metrics.objectPairs == nil {
            throw StoreError.invalidValue(field: "trial \(r.trial) progress metrics", detail: "must be a JSON object")
        }
        return try write("recording progress") { db in
            let now = clock()
            var stored = 0
            for r in reports {
                let current = try Row.fetchOne(db.cachedStatement(sql: "SELECT state, attempt FROM trials WHERE id = ?"), arguments: [r.trial])
                guard let current, current["state"] == TrialState.running.rawValue, current["attempt"] == r.attempt else {
                    logger.debug("progress dropped", metadata: ["trial": "\(r.trial)", "attempt": "\(r.attempt)", "step": "\(r.step)"])
                    continue
                }
                var m = TrialMetricRecord(trialID: r.trial, attempt: r.attempt, step: r.step, metrics: r.metrics.canonical, recordedAt: now)
                try m.insert(db, onConflict: .replace)
                stored += 1
            }
            return stored
        }
    }

    /// The intermediate metrics of a trial, by attempt then step.
    public func progress(trial: Int64) throws -> [TrialMetricRecord] {
        try read("reading progress of trial \(trial)") { db in
            try TrialMetricRecord.filter(TrialMetricRecord.CodingKeys.trialID == trial)
                .order(TrialMetricRecord.CodingKeys.attempt, TrialMetricRecord.CodingKeys.step).fetchAll(db)
        }
    }
}
