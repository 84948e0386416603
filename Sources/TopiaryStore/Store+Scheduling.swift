import Foundation
import GRDB

extension Store {
    /// The next queued trials to hand out, at most `limit`, shared fairly among active
    /// searches: each pick goes to the active search with the fewest trials running (plus
    /// those already picked), ties to the older search; within a search, first queued first.
    /// Paused, completed and cancelled searches get nothing. Reads only; see `claim`.
    public func nextQueued(limit: Int) throws -> [TrialRecord] {
        try read("choosing queued trials") { db in try pickQueued(db, limit: limit) }
    }

    /// Moves a queued trial to running on `worker`. The attempt must be the trial's
    /// current attempt (as `nextQueued` returned it).
    @discardableResult
    public func markRunning(trial: Int64, attempt: Int, worker: String) throws -> TrialRecord {
        try write("starting trial \(trial)") { db in
            guard var t = try TrialRecord.fetch(db, id: trial) else { throw StoreError.noSuchTrial(trial) }
            try start(db, &t, attempt: attempt, worker: worker)
            return t
        }
    }

    /// Picks up to `limit` trials as `nextQueued` does and marks them running on `worker`,
    /// in one transaction.
    public func claim(limit: Int, worker: String) throws -> [TrialRecord] {
        try write("claiming trials for \(worker)") { db in
            var picked = try pickQueued(db, limit: limit)
            for i in picked.indices { try start(db, &picked[i], attempt: picked[i].attempt, worker: worker) }
            return picked
        }
    }

    func start(_ db: Database, _ t: inout TrialRecord, attempt: Int, worker: String) throws {
        let id = t.trialID
        guard t.state.canMove(to: .running) else { throw StoreError.illegalTransition(trial: id, from: t.state, to: .running) }
        guard t.attempt == attempt else { throw StoreError.attemptMismatch(trial: id, expected: t.attempt, got: attempt) }
        t.state = .running
        t.workerID = worker
        t.startedAt = clock()
        try db.cachedStatement(sql: "UPDATE trials SET state = 'running', worker_id = ?, started_at = ? WHERE id = ?")
            .execute(arguments: [worker, t.startedAt!.timeIntervalSince1970, id])
    }

    func pickQueued(_ db: Database, limit: Int) throws -> [TrialRecord] {
        guard limit > 0 else { return [] }
        let active = try Int64.fetchAll(db, sql: "SELECT id FROM searches WHERE state = 'active' ORDER BY id")
        guard !active.isEmpty else { return [] }
        var load: [Int64: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT search_id, count(*) FROM trials WHERE state = 'running' AND search_id IN (SELECT id FROM searches WHERE state = 'active')
            GROUP BY search_id
            """) {
            load[row[0]] = row[1]
        }
        var queues: [(search: Int64, trials: [TrialRecord], next: Int)] = []
        for s in active {
            let trials = try TrialRecord.fetchAll(db, sql: """
                SELECT * FROM trials INDEXED BY trials_by_search_state
                WHERE search_id = ? AND state = 'queued' ORDER BY id LIMIT ?
                """, arguments: [s, limit])
            if !trials.isEmpty { queues.append((s, trials, 0)) }
        }
        var picked: [TrialRecord] = []
        while picked.count < limit {
            var best: Int?
            for (i, q) in queues.enumerated() where q.next < q.trials.count {
                let l = load[q.search, default: 0]
                if best == nil || l < load[queues[best!].search, default: 0] { best = i }
            }
            guard let b = best else { break }
            picked.append(queues[b].trials[queues[b].next])
            queues[b].next += 1
            load[queues[b].search, default: 0] += 1
        }
        return picked
    }
}
