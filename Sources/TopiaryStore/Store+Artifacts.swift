import Foundation
import GRDB

/// Artifacts: what a result's worker declared, whether the file reached the coordinator,
/// and which files the leaderboard still needs.
extension Store {
    /// Records the artifacts a stored result declared (pending, or refused with its reason).
    /// Only for an attempt that completed: called in the transaction that stores the result,
    /// so a result and its artifacts are recorded together, once.
    public func declareArtifacts(trial: Int64, attempt: Int, worker: String, _ artifacts: [ArtifactDeclaration]) throws {
        guard !artifacts.isEmpty else { return }
        try write("recording the artifacts of trial \(trial)") { db in
            let now = Date().timeIntervalSince1970
            for a in artifacts {
                try db.execute(sql: """
                    INSERT OR IGNORE INTO artifacts (trial_id, attempt, name, search_id, sha256, bytes, worker_id, state, reason, created_at)
                    SELECT ?, ?, ?, search_id, ?, ?, ?, ?, ?, ? FROM trials WHERE id = ? AND attempt = ? AND state = 'completed'
                    """, arguments: [trial, attempt, a.name, a.sha256, a.bytes, worker,
                                     a.refused == nil ? "pending" : "refused", a.refused, now, trial, attempt])
            }
        }
    }

    /// Marks every pending row with this digest stored (the file is in place and checked).
    public func artifactStored(_ sha256: String) throws {
        try write("recording artifact \(sha256.prefix(12)) as stored") { db in
            try db.execute(sql: "UPDATE artifacts SET state = 'stored', stored_at = ?, reason = NULL WHERE sha256 = ? AND state = 'pending'",
                           arguments: [Date().timeIntervalSince1970, sha256])
        }
    }

    /// Marks the pending rows with this digest as lost or corrupt, with why.
    public func artifactFailed(_ sha256: String, state: ArtifactRecord.State, reason: String) throws {
        try write("recording artifact \(sha256.prefix(12)) as \(state.rawValue)") { db in
            try db.execute(sql: "UPDATE artifacts SET state = ?, reason = ? WHERE sha256 = ? AND state = 'pending'",
                           arguments: [state.rawValue, reason, sha256])
        }
    }

    /// Pending uploads (a restarted daemon fetches them again).
    public func pendingArtifacts() throws -> [ArtifactRecord] {
        try read("listing pending artifacts") { db in
            try ArtifactRecord.filter(ArtifactRecord.CodingKeys.state == ArtifactRecord.State.pending.rawValue)
                .order(ArtifactRecord.CodingKeys.createdAt).fetchAll(db)
        }
    }

    /// Artifacts of one trial (any attempt), or of a search, or all.
    public func artifacts(trial: Int64? = nil, search: Int64? = nil) throws -> [ArtifactRecord] {
        try read("listing artifacts") { db in
            var r = ArtifactRecord.all()
            if let trial { r = r.filter(ArtifactRecord.CodingKeys.trialID == trial) }
            if let search { r = r.filter(ArtifactRecord.CodingKeys.searchID == search) }
            return try r.order(ArtifactRecord.CodingKeys.trialID, ArtifactRecord.CodingKeys.name).fetchAll(db)
        }
    }

    /// Bytes of a search's artifacts that are stored or on their way.
    public func artifactBytes(search: Int64) throws -> Int {
        try read("summing the artifacts of search \(search)") { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(bytes), 0) FROM artifacts WHERE search_id = ? AND state IN ('pending', 'stored')",
                             arguments: [search]) ?? 0
        }
    }

    /// The stored file named `name` of a trial's completed attempt, if it was uploaded.
    public func storedArtifact(trial: Int64, name: String) throws -> ArtifactRecord? {
        try read("finding artifact \(name) of trial \(trial)") { db in
            try ArtifactRecord.fetchOne(db, sql: """
                SELECT a.* FROM artifacts a JOIN trials t ON t.id = a.trial_id AND t.attempt = a.attempt
                WHERE a.trial_id = ? AND a.name = ? AND a.state = 'stored'
                """, arguments: [trial, name])
        }
    }

    /// Marks rows removed (their files are gone: `topiary artifacts gc`).
    public func removeArtifacts(_ rows: [ArtifactRecord], reason: String) throws {
        try write("removing \(rows.count) artifacts") { db in
            for r in rows {
                try db.execute(sql: "UPDATE artifacts SET state = 'removed', reason = ? WHERE trial_id = ? AND attempt = ? AND name = ?",
                               arguments: [reason, r.trialID, r.attempt, r.name])
            }
        }
    }

    /// Digests some stored row still needs.
    public func referencedArtifacts() throws -> Set<String> {
        try read("listing referenced artifacts") { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM artifacts WHERE state IN ('pending', 'stored')"))
        }
    }
}
