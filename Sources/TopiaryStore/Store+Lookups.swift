import Foundation
import GRDB

extension Store {
    /// Every latency figure of one source for a target, oldest first: what a latency model
    /// is calibrated from (`.measured`).
    public func measurements(target: String, source: LatencySource) throws -> [MeasurementRecord] {
        try read("reading \(source.rawValue) latencies on \(target)") { db in
            try MeasurementRecord.filter(MeasurementRecord.CodingKeys.target == target && MeasurementRecord.CodingKeys.source == source.rawValue)
                .order(MeasurementRecord.CodingKeys.recordedAt).fetchAll(db)
        }
    }

    /// The YAML of the most recent search over the space with this name, to rebuild the
    /// networks of candidates stored from it.
    public func spaceYAML(named name: String) throws -> String? {
        try read("reading the space \(name)") { db in
            try String.fetchOne(db, sql: "SELECT space_yaml FROM searches WHERE space_name = ? ORDER BY id DESC LIMIT 1", arguments: [name])
        }
    }

    /// Every trial of a candidate, across searches, best first (completed, highest
    /// fidelity, highest accuracy): what `topiary export` reports.
    public func trials(candidate: String) throws -> [TrialRecord] {
        try read("reading the trials of \(candidate)") { db in
            try TrialRecord.fetchAll(db, sql: """
                SELECT * FROM trials WHERE candidate_id = ?
                ORDER BY state = 'completed' DESC, fidelity DESC, accuracy IS NULL, accuracy DESC, id
                """, arguments: [candidate])
        }
    }
}
