import GRDB

// The `leaderboard` table holds, for each scope (a search id, or 0 for all searches) and
// candidate, the best result: highest fidelity, then highest accuracy, then lowest trial id.
// Each such row exists once with target '' and once per target the candidate has a latency
// figure for (the measured one if any, else the predicted one). These two functions keep
// it exact as results and figures arrive, inside the same transaction.
extension Store {
    /// A completed training trial: offer its result to the candidate's rows in the trial's
    /// search and in scope 0, for every target; a row changes only if the result is better.
    func updateLeaderboard(_ db: Database, with t: TrialRecord) throws {
        try db.cachedStatement(sql: """
            INSERT INTO leaderboard (scope, target, candidate_id, trial_id, search_id, fidelity, accuracy,
                                     latency_ms, predicted_ms, measured_ms, size_bytes, peak_activation_bytes,
                                     macs, params, weight_bits, activation_bits, pruning_method)
            SELECT s.scope, x.target, c.id, :trial, :search, :fidelity, :accuracy,
                   x.latency_ms, x.predicted_ms, x.measured_ms, c.size_bytes, c.peak_activation_bytes,
                   c.macs, c.params, c.weight_bits, c.activation_bits, c.pruning_method
            FROM candidates c
            CROSS JOIN (SELECT :search AS scope UNION ALL SELECT 0) s
            CROSS JOIN (SELECT '' AS target, NULL AS latency_ms, NULL AS predicted_ms, NULL AS measured_ms
                        UNION ALL
                        SELECT target,
                               COALESCE(MAX(CASE WHEN source = 'measured' THEN latency_ms END),
                                        MAX(CASE WHEN source = 'predicted' THEN latency_ms END)),
                               MAX(CASE WHEN source = 'predicted' THEN latency_ms END),
                               MAX(CASE WHEN source = 'measured' THEN latency_ms END)
                        FROM measurements WHERE candidate_id = :candidate GROUP BY target) x
            WHERE c.id = :candidate
            ON CONFLICT (scope, target, candidate_id) DO UPDATE SET
                trial_id = excluded.trial_id, search_id = excluded.search_id,
                fidelity = excluded.fidelity, accuracy = excluded.accuracy
            WHERE excluded.fidelity > leaderboard.fidelity
               OR (excluded.fidelity = leaderboard.fidelity
                   AND (IFNULL(excluded.accuracy, -1e308) > IFNULL(leaderboard.accuracy, -1e308)
                        OR (IFNULL(excluded.accuracy, -1e308) = IFNULL(leaderboard.accuracy, -1e308)
                            AND excluded.trial_id < leaderboard.trial_id)))
            """).execute(arguments: [
                "trial": t.trialID, "search": t.searchID, "fidelity": t.fidelity, "accuracy": t.accuracy,
                "candidate": t.candidateID,
            ])
    }

    /// A latency figure changed: copy the candidate's result rows (target '') to rows for
    /// `target` carrying the effective latency, in every scope the candidate has a result in.
    func propagateLatency(_ db: Database, candidate: String, target: String) throws {
        // Every result row is written in scope 0 too: a candidate without its scope-0 row has
        // no result anywhere and nothing to copy (most candidates, when first queued). One
        // key lookup instead of the statement below.
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM leaderboard WHERE scope = 0 AND target = '' AND candidate_id = ?)"),
                                arguments: [candidate]) == true else { return }
        try db.cachedStatement(sql: """
            INSERT INTO leaderboard (scope, target, candidate_id, trial_id, search_id, fidelity, accuracy,
                                     latency_ms, predicted_ms, measured_ms, size_bytes, peak_activation_bytes,
                                     macs, params, weight_bits, activation_bits, pruning_method)
            SELECT l.scope, :target, l.candidate_id, l.trial_id, l.search_id, l.fidelity, l.accuracy,
                   e.latency_ms, e.predicted_ms, e.measured_ms, l.size_bytes, l.peak_activation_bytes,
                   l.macs, l.params, l.weight_bits, l.activation_bits, l.pruning_method
            FROM (SELECT COALESCE(MAX(CASE WHEN source = 'measured' THEN latency_ms END),
                                  MAX(CASE WHEN source = 'predicted' THEN latency_ms END)) AS latency_ms,
                         MAX(CASE WHEN source = 'predicted' THEN latency_ms END) AS predicted_ms,
                         MAX(CASE WHEN source = 'measured' THEN latency_ms END) AS measured_ms
                  FROM measurements WHERE candidate_id = :candidate AND target = :target) e
            JOIN leaderboard l ON l.target = '' AND l.candidate_id = :candidate
                 AND l.scope IN (SELECT search_id FROM trials WHERE candidate_id = :candidate UNION SELECT 0)
            WHERE e.latency_ms IS NOT NULL
            ON CONFLICT (scope, target, candidate_id) DO UPDATE SET
                latency_ms = excluded.latency_ms, predicted_ms = excluded.predicted_ms, measured_ms = excluded.measured_ms
            """).execute(arguments: ["candidate": candidate, "target": target])
    }
}
