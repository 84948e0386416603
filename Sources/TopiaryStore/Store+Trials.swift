import Foundation
import GRDB

extension Store {
    /// One trial, or nil.
    public func trial(_ id: Int64) throws -> TrialRecord? {
        try read("reading trial \(id)") { db in try TrialRecord.fetchOne(db, key: id) }
    }

    /// A search's trials in id order, optionally only those in one state; `limit` and
    /// `offset` page through large searches.
    public func trials(search: Int64, state: TrialState? = nil, limit: Int? = nil, offset: Int = 0) throws -> [TrialRecord] {
        try read("listing trials of search \(search)") { db in
            var request = TrialRecord.filter(TrialRecord.CodingKeys.searchID == search)
            if let state { request = request.filter(TrialRecord.CodingKeys.state == state.rawValue) }
            request = request.order(TrialRecord.CodingKeys.id)
            if let limit { request = request.limit(limit, offset: offset) }
            return try request.fetchAll(db)
        }
    }

    /// How many trials a search has in each state (states with none are absent).
    public func trialCounts(search: Int64, phase: TrialPhase? = nil) throws -> [TrialState: Int] {
        try read("counting trials of search \(search)") { db in
            var counts: [TrialState: Int] = [:]
            let rows = try phase.map {
                try Row.fetchAll(db, sql: "SELECT state, count(*) FROM trials WHERE search_id = ? AND phase = ? GROUP BY state", arguments: [search, $0.rawValue])
            } ?? Row.fetchAll(db, sql: "SELECT state, count(*) FROM trials WHERE search_id = ? GROUP BY state", arguments: [search])
            for row in rows {
                if let s = TrialState(rawValue: row[0]) { counts[s] = row[1] }
            }
            return counts
        }
    }

    /// The error of a search's most recently failed trial, if any failed.
    public func lastFailure(search: Int64) throws -> String? {
        try read("reading the last failure of search \(search)") { db in
            try String.fetchOne(db, sql: "SELECT error FROM trials WHERE search_id = ? AND state = 'failed' AND error IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1",
                                arguments: [search])
        }
    }

    /// A stored candidate, or nil.
    public func candidate(_ id: String) throws -> CandidateRecord? {
        try read("reading candidate \(id)") { db in try CandidateRecord.fetchOne(db, key: id) }
    }
}
