import Foundation
import GRDB

/// One row of a search's trial table (the dashboard's): the trial with its candidate's
/// figures.
public struct TrialRow: Sendable, Equatable {
    public var trialID: Int64
    public var candidateID: String
    public var state: String
    public var kind: String
    public var fidelity: Double
    public var attempt: Int
    public var accuracy: Double?
    public var workerID: String?
    /// Seconds from start to end, when both are known.
    public var seconds: Double?
    public var finishedAt: Date?
    public var params: Int
    public var macs: Int
    public var sizeBytes: Int
    public var peakActivationBytes: Int
    public var compressionSummary: String
    public var error: String?
}

/// Which trials, in which order, one page at a time.
public struct TrialTableQuery: Sendable, Equatable {
    public enum Column: String, Sendable, CaseIterable {
        case id, state, fidelity, accuracy, params, macs, size, memory, seconds, finished
        var sql: String {
            switch self {
            case .id: return "t.id"
            case .state: return "t.state"
            case .fidelity: return "t.fidelity"
            case .accuracy: return "t.accuracy"
            case .params: return "c.params"
            case .macs: return "c.macs"
            case .size: return "c.size_bytes"
            case .memory: return "c.peak_activation_bytes"
            case .seconds: return "(t.finished_at - t.started_at)"
            case .finished: return "t.finished_at"
            }
        }
    }

    public var search: Int64
    public var state: String?
    public var maxParams: Int?
    public var maxMACs: Int?
    public var maxSizeBytes: Int?
    public var maxPeakActivationBytes: Int?
    public var minAccuracy: Double?
    public var sort: Column = .id
    public var descending = false
    public var limit = 50
    public var offset = 0
    /// Matches are counted up to this many.
    public var countLimit = 10_000

    public init(search: Int64) { self.search = search }

    /// The WHERE clause and its arguments.
    var filter: (String, StatementArguments) {
        var sql = "t.search_id = ?"
        var args: StatementArguments = [search]
        if let state { sql += " AND t.state = ?"; args += [state] }
        if let maxParams { sql += " AND c.params <= ?"; args += [maxParams] }
        if let maxMACs { sql += " AND c.macs <= ?"; args += [maxMACs] }
        if let maxSizeBytes { sql += " AND c.size_bytes <= ?"; args += [maxSizeBytes] }
        if let maxPeakActivationBytes { sql += " AND c.peak_activation_bytes <= ?"; args += [maxPeakActivationBytes] }
        if let minAccuracy { sql += " AND t.accuracy >= ?"; args += [minAccuracy] }
        return (sql, args)
    }
}

/// The reads of the dashboard (`topiary dashboard`): pages of trials, best-so-far, the
/// choices of many candidates at once. Read-only, safe while a daemon writes.
extension Store {
    /// One page of a search's trials and how many match (up to `countLimit` + 1).
    public func trialTable(_ q: TrialTableQuery) throws -> (rows: [TrialRow], total: Int) {
        try read("listing the trials of search \(q.search)") { db in
            let (filter, args) = q.filter
            // Without a filter on the candidates' figures the count needs no join (the index
            // on (search, state) answers it).
            let needsJoin = q.maxParams != nil || q.maxMACs != nil || q.maxSizeBytes != nil || q.maxPeakActivationBytes != nil
            let from = needsJoin ? "trials t JOIN candidates c ON c.id = t.candidate_id" : "trials t"
            // Counted up to `countLimit` (a filter matching most of a huge search is "10,000+").
            var countArgs = args
            countArgs += [q.countLimit + 1]
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM \(from) WHERE \(filter) LIMIT ?)", arguments: countArgs) ?? 0
            // NULLs last whichever the direction, then by id for a stable order; columns that
            // are never NULL sort plainly, so ordering by id walks the table in order.
            let nullable: Set<TrialTableQuery.Column> = [.accuracy, .seconds, .finished]
            let direction = q.descending ? "DESC" : "ASC"
            let order = nullable.contains(q.sort) ? "\(q.sort.sql) IS NULL, \(q.sort.sql) \(direction), t.id"
                : q.sort == .id ? "t.id \(direction)" : "\(q.sort.sql) \(direction), t.id"
            var pageArgs = args
            pageArgs += [q.limit, q.offset]
            let rows = try Row.fetchAll(db, sql: """
                SELECT t.id, t.candidate_id, t.state, t.kind, t.fidelity, t.attempt, t.accuracy, t.worker_id,
                       t.finished_at - t.started_at AS seconds, t.finished_at, c.params, c.macs, c.size_bytes,
                       c.peak_activation_bytes, c.compression_summary, t.error
                FROM trials t JOIN candidates c ON c.id = t.candidate_id
                WHERE \(filter) ORDER BY \(order) LIMIT ? OFFSET ?
                """, arguments: pageArgs)
            return (rows.map { r in
                TrialRow(trialID: r[0], candidateID: r[1], state: r[2], kind: r[3], fidelity: r[4], attempt: r[5], accuracy: r[6],
                         workerID: r[7], seconds: r[8], finishedAt: (r[9] as Double?).map { Date(timeIntervalSince1970: $0) },
                         params: r[10], macs: r[11], sizeBytes: r[12], peakActivationBytes: r[13], compressionSummary: r[14], error: r[15])
            }, total)
        }
    }

    /// A search's completed training results in the order they finished: (finish time,
    /// trial, candidate, accuracy), for the best-so-far curve.
    public func completedInOrder(search: Int64) throws -> [(finishedAt: Date, trial: Int64, candidate: String, accuracy: Double)] {
        try read("reading the results of search \(search)") { db in
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT finished_at, id, candidate_id, accuracy FROM trials
                WHERE search_id = ? AND state = 'completed' AND kind = 'train' AND accuracy IS NOT NULL AND finished_at IS NOT NULL
                ORDER BY finished_at, id
                """, arguments: [search])
            var out: [(Date, Int64, String, Double)] = []
            while let r = try cursor.next() { out.append((Date(timeIntervalSince1970: r[0]), r[1], r[2], r[3])) }
            return out
        }
    }

    /// The canonical JSON of these candidates, by id (ids not stored are absent).
    public func candidateJSON(_ ids: [String]) throws -> [String: String] {
        try read("reading \(ids.count) candidates") { db in
            var out: [String: String] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for r in try Row.fetchAll(db, sql: "SELECT id, canonical_json FROM candidates WHERE id IN (\(marks))",
                                          arguments: StatementArguments(chunk)) {
                    out[r[0]] = r[1]
                }
            }
            return out
        }
    }

    /// The targets a search's candidates have latency figures for.
    public func latencyTargets(search: Int64) throws -> [String] {
        try read("listing the targets of search \(search)") { db in
            // One index seek per target (the key is (scope, target, candidate)), not a scan.
            var out: [String] = []
            var after = ""
            while let t = try String.fetchOne(db, sql: "SELECT target FROM leaderboard WHERE scope = ? AND target > ? ORDER BY target LIMIT 1",
                                              arguments: [search, after]) {
                out.append(t)
                after = t
            }
            return out
        }
    }
}
