import Foundation
import GRDB

extension Store {
    /// Stores candidates not seen before (by id; those already stored are left as they
    /// are). Returns how many were new.
    @discardableResult
    public func addCandidates(_ candidates: [CandidateRecord]) throws -> Int {
        try write("adding \(candidates.count) candidates") { db in
            try insertCandidates(db, candidates, at: clock())
        }
    }

    /// Adds a batch of trials to a search, storing their candidates first if new, in one
    /// transaction. The trials start `queued` on attempt 1; they are returned with their ids,
    /// in the order requested.
    public func enqueue(search: Int64, _ requests: [TrialRequest]) throws -> [TrialRecord] {
        for (i, r) in requests.enumerated() where !(r.fidelity.isFinite && r.fidelity > 0) {
            throw StoreError.invalidValue(field: "requests[\(i)].fidelity", detail: "must be a positive number, got \(r.fidelity)")
        }
        return try write("enqueueing \(requests.count) trials for search \(search)") { db in
            // Only the state is needed (the daemon enqueues every few trials: no whole record).
            guard let text = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM searches WHERE id = ?"), arguments: [search]),
                  let state = SearchState(rawValue: text) else { throw StoreError.noSuchSearch(search) }
            guard state == .active || state == .paused else { throw StoreError.searchNotOpen(search: search, state: state) }
            let now = clock()
            let newCandidates = try insertCandidates(db, requests.map(\.candidate), at: now)
            var trials: [TrialRecord] = []
            trials.reserveCapacity(requests.count)
            let insert = try db.cachedStatement(sql: """
                INSERT INTO trials (search_id, candidate_id, kind, fidelity, state, attempt, queued_at, phase)
                VALUES (?, ?, ?, ?, 'queued', 1, ?, ?)
                """)
            for r in requests {
                try insert.execute(arguments: [search, r.candidate.id, r.kind.rawValue, r.fidelity, now.timeIntervalSince1970, r.phase.rawValue])
                var t = TrialRecord(id: db.lastInsertedRowID, searchID: search, candidateID: r.candidate.id, kind: r.kind,
                                    fidelity: r.fidelity, state: .queued, attempt: 1, workerID: nil, queuedAt: now,
                                    startedAt: nil, finishedAt: nil, metrics: nil, accuracy: nil, error: nil)
                t.phase = r.phase
                trials.append(t)
            }
            if !requests.isEmpty {
                try appendEvent(db, kind: "trials.enqueued",
                                message: "\(requests.count) trials queued (\(newCandidates) new candidates)", search: search)
            }
            logger.debug("trials enqueued", metadata: ["search": "\(search)", "trials": "\(requests.count)", "new_candidates": "\(newCandidates)"])
            return trials
        }
    }

    /// INSERT OR IGNORE of candidates; returns how many rows were new.
    func insertCandidates(_ db: Database, _ candidates: [CandidateRecord], at now: Date) throws -> Int {
        var added = 0
        let insert = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO candidates (id, space_name, canonical_json, macs, params, size_bytes, peak_activation_bytes,
                                              weight_bits, activation_bits, pruning_method, pruning_ratio, compression_summary, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for c in candidates {
            try insert.execute(arguments: [c.id, c.spaceName, c.canonicalJSON, c.macs, c.params, c.sizeBytes, c.peakActivationBytes,
                                           c.weightBits, c.activationBits, c.pruningMethod, c.pruningRatio, c.compressionSummary,
                                           now.timeIntervalSince1970])
            added += db.changesCount
        }
        return added
    }
}
