import Foundation
import GRDB
import TopiaryCore

extension Store {
    /// The best `query.limit` candidates by `query.orderBy` that meet the query's
    /// constraints, each with its best-fidelity result in the query's scope.
    ///
    /// Reads one slice of the `leaderboard` table, which the store keeps up to date as
    /// results and latency figures arrive, so the cost does not grow with the number of
    /// trials. To re-rank for another hardware target, run the same query with that target:
    /// accuracy is target-independent, only the latency figures change.
    public func leaderboard(_ query: LeaderboardQuery) throws -> [LeaderboardEntry] {
        guard query.limit >= 0 else { throw StoreError.invalidValue(field: "limit", detail: "must not be negative, got \(query.limit)") }
        let slice = try LeaderboardSlice(query, needsLatency: query.maxLatencyMs != nil || query.orderBy == .latency)
        let order = Self.orderSQL(query.orderBy)
        return try read("ranking the leaderboard") { db in
            // Rank keys only: the sorter then carries two columns per row instead of the whole row.
            var entries = try fetchEntries(db, slice: slice, keys: """
                SELECT candidate_id FROM leaderboard WHERE \(slice.whereSQL) ORDER BY \(order) LIMIT ?
                """, keyArguments: slice.arguments + [query.limit], order: order)
            for i in entries.indices { entries[i].rank = i + 1 }
            return entries
        }
    }

    /// The candidates that meet the query's constraints and that no other such candidate
    /// beats on every objective (accuracy up, everything else down), ordered by the first
    /// objective. `query.limit` and `query.orderBy` are not used. Candidates with no figure
    /// for an objective (no accuracy reported, no latency on the target) are left out.
    public func paretoFront(_ query: LeaderboardQuery, objectives: [Objective]) throws -> [LeaderboardEntry] {
        guard !objectives.isEmpty else { throw StoreError.invalidValue(field: "objectives", detail: "name at least one objective") }
        guard Set(objectives).count == objectives.count else {
            throw StoreError.invalidValue(field: "objectives", detail: "each objective may appear once, got \(objectives.map(\.rawValue).joined(separator: ","))")
        }
        let slice = try LeaderboardSlice(query, needsLatency: query.maxLatencyMs != nil || objectives.contains(.latency))
        let d = objectives.count
        let columns = objectives.map(\.column)
        return try read("computing the Pareto front") { db in
            // Within a slice each candidate has one row and one best trial, so the trial id
            // (an integer, cheaper to carry than the candidate id) identifies the row.
            var trials: [Int64] = []
            var points: [Double] = []
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT trial_id, \(columns.joined(separator: ", ")) FROM leaderboard
                WHERE \(slice.whereSQL) AND \(columns.map { "\($0) IS NOT NULL" }.joined(separator: " AND "))
                """, arguments: StatementArguments(slice.arguments))
            let signs = objectives.map { $0.maximize ? -1.0 : 1.0 }
            while let row = try cursor.next() {
                trials.append(row[0])
                for k in 0..<d { points.append(signs[k] * (row[k + 1] as Double)) }
            }
            let front = ParetoFront.indices(of: points, dimensions: d)
            let order = objectives.map { $0.maximize ? "\($0.column) DESC" : "\($0.column) ASC" }.joined(separator: ", ") + ", candidate_id"
            var entries = try fetchEntries(db, slice: slice, keys: """
                SELECT t.candidate_id FROM json_each(?) j JOIN trials t ON t.id = j.value
                """, keyArguments: [JSONValue.array(front.map { .int(Int(trials[$0])) }).canonical], order: order)
            for i in entries.indices { entries[i].rank = i + 1 }
            return entries
        }
    }

    /// Candidates with a result in the scope but no latency figure for `target`: what to
    /// predict or measure before re-ranking for that target.
    public func candidatesWithoutLatency(target: String, search: Int64? = nil) throws -> [String] {
        try read("listing candidates without latency on \(target)") { db in
            try String.fetchAll(db, sql: """
                SELECT candidate_id FROM leaderboard l WHERE scope = ? AND target = ''
                AND NOT EXISTS (SELECT 1 FROM leaderboard x WHERE x.scope = l.scope AND x.target = ? AND x.candidate_id = l.candidate_id)
                ORDER BY candidate_id
                """, arguments: [search ?? 0, target])
        }
    }

    /// The slice's rows for the candidate ids `keys` selects, with their candidate's
    /// compression summary, the trial's metrics and the latency on the query's target,
    /// sorted by `order`.
    func fetchEntries(_ db: Database, slice: LeaderboardSlice, keys: String, keyArguments: [(any DatabaseValueConvertible)?],
                      order: String) throws -> [LeaderboardEntry] {
        let outerOrder = order.split(separator: ",").map { "l." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        let latency = slice.target.isEmpty ? "lt" : "l"
        return try LeaderboardEntry.fetchAll(db, sql: """
            SELECT l.candidate_id, l.search_id, l.trial_id, l.fidelity, l.accuracy, ? AS target,
                   \(latency).latency_ms, \(latency).predicted_ms, \(latency).measured_ms,
                   l.size_bytes, l.peak_activation_bytes, l.macs, l.params, l.weight_bits, l.activation_bits,
                   l.pruning_method, c.compression_summary, t.metrics, t.phase
            FROM (\(keys)) k
            JOIN leaderboard l ON l.scope = ? AND l.target = ? AND l.candidate_id = k.candidate_id
            JOIN candidates c ON c.id = l.candidate_id
            JOIN trials t ON t.id = l.trial_id
            LEFT JOIN leaderboard lt ON lt.scope = l.scope AND lt.target = ? AND lt.candidate_id = l.candidate_id
            ORDER BY \(outerOrder)
            """, arguments: StatementArguments([slice.queryTarget] + keyArguments + [slice.scope, slice.target, slice.queryTarget ?? ""]))
    }

    /// Up to `query.limit` candidates of the query's slice, chosen without regard to their
    /// figures: candidate ids are hashes, so their order is a random one (and the same each
    /// time). For statistics over a search, where the best alone would bias them.
    public func leaderboardSample(_ query: LeaderboardQuery) throws -> [LeaderboardEntry] {
        guard query.limit >= 0 else { throw StoreError.invalidValue(field: "limit", detail: "must not be negative, got \(query.limit)") }
        let slice = try LeaderboardSlice(query, needsLatency: query.maxLatencyMs != nil)
        return try read("sampling the leaderboard") { db in
            try fetchEntries(db, slice: slice, keys: "SELECT candidate_id FROM leaderboard WHERE \(slice.whereSQL) ORDER BY candidate_id LIMIT ?",
                             keyArguments: slice.arguments + [query.limit], order: "candidate_id")
        }
    }

    static func orderSQL(_ o: Objective) -> String {
        o == .accuracy ? "accuracy DESC, candidate_id" : "\(o.column) ASC, accuracy DESC, candidate_id"
    }
}

/// The part of the `leaderboard` table a query reads: its scope, the target slice (the
/// query's target when latency is constrained or ranked, else '' which holds every
/// candidate), and the WHERE clause of its constraints.
struct LeaderboardSlice {
    var scope: Int64
    var target: String
    var queryTarget: String?
    var whereSQL: String
    var arguments: [(any DatabaseValueConvertible)?]

    init(_ q: LeaderboardQuery, needsLatency: Bool) throws {
        if let t = q.target, t.isEmpty { throw StoreError.invalidValue(field: "target", detail: "must not be empty") }
        if needsLatency && q.target == nil {
            throw StoreError.invalidValue(field: "target", detail: "a latency constraint or objective needs a hardware target")
        }
        for (name, v) in [("maxLatencyMs", q.maxLatencyMs), ("minAccuracy", q.minAccuracy), ("minFidelity", q.minFidelity)] {
            if let v, v.isNaN { throw StoreError.invalidValue(field: name, detail: "must be a number") }
        }
        scope = q.search ?? 0
        queryTarget = q.target
        target = needsLatency ? (q.target ?? "") : ""
        var conditions = ["scope = ?", "target = ?"]
        var args: [(any DatabaseValueConvertible)?] = [scope, target]
        func add(_ sql: String, _ value: (any DatabaseValueConvertible)?) {
            conditions.append(sql)
            args.append(value)
        }
        if let v = q.maxLatencyMs { add("latency_ms <= ?", v) }
        if let v = q.maxSizeBytes { add("size_bytes <= ?", v) }
        if let v = q.maxPeakActivationBytes { add("peak_activation_bytes <= ?", v) }
        if let v = q.minAccuracy { add("accuracy >= ?", v) }
        if let v = q.minFidelity { add("fidelity >= ?", v) }
        func addIn(_ column: String, _ values: [any DatabaseValueConvertible]) {
            if values.isEmpty { conditions.append("0"); return }
            conditions.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))")
            args += values.map { Optional($0) }
        }
        if let s = q.weightBits { addIn("weight_bits", s.sorted()) }
        if let s = q.activationBits { addIn("activation_bits", s.sorted()) }
        if let s = q.pruningMethods { addIn("pruning_method", s.sorted()) }
        whereSQL = conditions.joined(separator: " AND ")
        arguments = args
    }
}
