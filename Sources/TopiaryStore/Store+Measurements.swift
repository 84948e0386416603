import Foundation
import GRDB

extension Store {
    /// Stores latency figures (the latest figure per candidate, target and source wins) in
    /// one transaction and updates the leaderboard rows of each candidate for that target.
    /// Candidates must be stored already.
    public func recordMeasurements(_ measurements: [MeasurementRecord]) throws {
        for (i, m) in measurements.enumerated() {
            guard m.latencyMs.isFinite && m.latencyMs >= 0 else {
                throw StoreError.invalidValue(field: "measurements[\(i)].latencyMs", detail: "must be a finite, non-negative number of ms, got \(m.latencyMs)")
            }
            guard !m.target.isEmpty else { throw StoreError.invalidValue(field: "measurements[\(i)].target", detail: "must not be empty") }
        }
        try write("recording \(measurements.count) measurements") { db in
            for m in measurements { try upsertMeasurement(db, m) }
        }
    }

    /// Every latency figure of a candidate, by target then source.
    public func measurements(candidate: String) throws -> [MeasurementRecord] {
        try read("reading measurements of \(candidate)") { db in
            try MeasurementRecord.filter(MeasurementRecord.CodingKeys.candidateID == candidate)
                .order(MeasurementRecord.CodingKeys.target, MeasurementRecord.CodingKeys.source).fetchAll(db)
        }
    }

    /// The hardware targets that have latency figures, with how many candidates each covers.
    public func latencyTargets() throws -> [(target: String, candidates: Int)] {
        try read("listing targets") { db in
            try Row.fetchAll(db, sql: """
                SELECT target, count(DISTINCT candidate_id) FROM measurements GROUP BY target ORDER BY target
                """).map { ($0[0], $0[1]) }
        }
    }

    func upsertMeasurement(_ db: Database, _ m: MeasurementRecord) throws {
        // Cached statements: the daemon records a predicted latency for every candidate it queues.
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM candidates WHERE id = ?)"), arguments: [m.candidateID]) == true else {
            throw StoreError.noSuchCandidate(m.candidateID)
        }
        try db.cachedStatement(sql: """
            INSERT INTO measurements (candidate_id, target, source, latency_ms, recorded_by, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (candidate_id, target, source) DO UPDATE SET
                latency_ms = excluded.latency_ms, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at
            WHERE latency_ms IS NOT excluded.latency_ms OR recorded_by IS NOT excluded.recorded_by
            """).execute(arguments: [m.candidateID, m.target, m.source.rawValue, m.latencyMs, m.recordedBy, m.recordedAt.timeIntervalSince1970])
        // The same figure from the same source again (a second search queueing the candidate)
        // keeps its first time and changes no leaderboard row.
        guard db.changesCount > 0 else { return }
        try propagateLatency(db, candidate: m.candidateID, target: m.target)
    }
}
