import GRDB

/// The database schema as an ordered list of named migrations.
///
/// A migration, once released, never changes: schema changes are new migrations appended
/// here. The schema version is the number of migrations applied (also written to
/// `PRAGMA user_version`, so the sqlite3 shell shows it). A database holding a migration
/// this list does not know was written by a newer Topiary and is refused.
public enum StoreSchema {
    /// `PRAGMA application_id` of every Topiary database: "Topy".
    public static let applicationID: Int32 = 0x546F_7079

    /// Migration identifiers in order; the schema version is the count applied.
    public static var migrations: [String] { migrator.migrations }

    /// The highest schema version this build can read and write.
    public static var version: Int { migrations.count }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-records") { db in
            try db.execute(sql: v1Records)
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        m.registerMigration("v2-leaderboard") { db in
            try db.execute(sql: v2Leaderboard)
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        m.registerMigration("v3-artifacts") { db in
            try db.execute(sql: v3Artifacts)
            try db.execute(sql: "PRAGMA user_version = 3")
        }
        m.registerMigration("v4-final-phase") { db in
            try db.execute(sql: v4FinalPhase)
            try db.execute(sql: "PRAGMA user_version = 4")
        }
        return m
    }

    /// Searches, candidates, trials, intermediate metrics, measurements, workers, events.
    static let v1Records = """
        CREATE TABLE searches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            space_name TEXT NOT NULL,
            space_yaml TEXT NOT NULL,
            space_hash TEXT NOT NULL,
            target TEXT NOT NULL,
            strategy TEXT NOT NULL,
            strategy_settings TEXT NOT NULL CHECK (json_valid(strategy_settings)),
            objectives TEXT NOT NULL CHECK (json_valid(objectives)),
            constraints TEXT NOT NULL CHECK (json_valid(constraints)),
            budget INTEGER CHECK (budget IS NULL OR budget >= 0),
            seed INTEGER NOT NULL,
            max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
            state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'completed', 'cancelled')),
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE candidates (
            id TEXT PRIMARY KEY NOT NULL,
            space_name TEXT NOT NULL,
            canonical_json TEXT NOT NULL CHECK (json_valid(canonical_json)),
            macs INTEGER NOT NULL,
            params INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            peak_activation_bytes INTEGER NOT NULL,
            weight_bits INTEGER NOT NULL,
            activation_bits INTEGER NOT NULL,
            pruning_method TEXT NOT NULL,
            pruning_ratio REAL NOT NULL,
            compression_summary TEXT NOT NULL,
            created_at REAL NOT NULL
        );

        CREATE TABLE trials (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            search_id INTEGER NOT NULL REFERENCES searches(id),
            candidate_id TEXT NOT NULL REFERENCES candidates(id),
            kind TEXT NOT NULL CHECK (kind IN ('train', 'measure')),
            fidelity REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'pruned', 'cancelled')),
            attempt INTEGER NOT NULL CHECK (attempt >= 1),
            worker_id TEXT,
            queued_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            metrics TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
            accuracy REAL,
            error TEXT
        );
        CREATE INDEX trials_by_search_state ON trials(search_id, state);
        CREATE INDEX trials_by_candidate ON trials(candidate_id);
        CREATE INDEX trials_running_by_worker ON trials(worker_id) WHERE state = 'running';

        CREATE TABLE trial_metrics (
            trial_id INTEGER NOT NULL REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            step INTEGER NOT NULL,
            metrics TEXT NOT NULL CHECK (json_valid(metrics)),
            recorded_at REAL NOT NULL,
            PRIMARY KEY (trial_id, attempt, step)
        ) WITHOUT ROWID;

        CREATE TABLE measurements (
            candidate_id TEXT NOT NULL REFERENCES candidates(id),
            target TEXT NOT NULL CHECK (target <> ''),
            source TEXT NOT NULL CHECK (source IN ('predicted', 'measured')),
            latency_ms REAL NOT NULL CHECK (latency_ms >= 0),
            recorded_by TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (candidate_id, target, source)
        ) WITHOUT ROWID;

        CREATE TABLE workers (
            id TEXT PRIMARY KEY NOT NULL,
            host TEXT NOT NULL,
            slots INTEGER NOT NULL CHECK (slots >= 0),
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        );

        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            search_id INTEGER,
            trial_id INTEGER,
            worker_id TEXT,
            kind TEXT NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX events_by_search ON events(search_id) WHERE search_id IS NOT NULL;
        CREATE INDEX events_by_trial ON events(trial_id) WHERE trial_id IS NOT NULL;
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        """

    /// Files a trial's worker uploaded (trained models, packed weights), stored by content
    /// beside the database; one row per (trial, attempt, name). `pending` until the file
    /// is in place and checked, then `stored`; `refused` (over a limit), `lost` (the worker
    /// no longer has it), `corrupt` (its digest never matched) or `removed` (by gc) otherwise.
    /// Trials of a search's final phase (its finalists trained at full fidelity) are marked,
    /// so figures can say whether they are final or search-time estimates.
    static let v4FinalPhase = """
        ALTER TABLE trials ADD COLUMN phase TEXT NOT NULL DEFAULT 'search' CHECK (phase IN ('search', 'final'));
        """

    static let v3Artifacts = """
        CREATE TABLE artifacts (
            trial_id INTEGER NOT NULL REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            name TEXT NOT NULL,
            search_id INTEGER NOT NULL REFERENCES searches(id),
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            bytes INTEGER NOT NULL CHECK (bytes >= 0),
            worker_id TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'refused', 'lost', 'corrupt', 'removed')),
            reason TEXT,
            created_at REAL NOT NULL,
            stored_at REAL,
            PRIMARY KEY (trial_id, attempt, name)
        ) WITHOUT ROWID;
        CREATE INDEX artifacts_by_sha ON artifacts(sha256);
        CREATE INDEX artifacts_pending ON artifacts(worker_id) WHERE state = 'pending';
        """

    /// The leaderboard: the best-fidelity result of each candidate, per search and over
    /// all searches (scope 0), copied together with the figures queries filter on, once
    /// without a target (target '') and once per target the candidate has a latency for.
    /// Rows are clustered by (scope, target, candidate), so a query reads one contiguous
    /// slice and never probes another table per row. Filled from existing trials and
    /// measurements, so an older database upgrades in place.
    static let v2Leaderboard = """
        CREATE TABLE leaderboard (
            scope INTEGER NOT NULL,
            target TEXT NOT NULL,
            candidate_id TEXT NOT NULL,
            trial_id INTEGER NOT NULL,
            search_id INTEGER NOT NULL,
            fidelity REAL NOT NULL,
            accuracy REAL,
            latency_ms REAL,
            predicted_ms REAL,
            measured_ms REAL,
            size_bytes INTEGER NOT NULL,
            peak_activation_bytes INTEGER NOT NULL,
            macs INTEGER NOT NULL,
            params INTEGER NOT NULL,
            weight_bits INTEGER NOT NULL,
            activation_bits INTEGER NOT NULL,
            pruning_method TEXT NOT NULL,
            PRIMARY KEY (scope, target, candidate_id)
        ) WITHOUT ROWID;

        CREATE VIEW effective_latency AS
            SELECT candidate_id, target,
                   COALESCE(MAX(CASE WHEN source = 'measured' THEN latency_ms END),
                            MAX(CASE WHEN source = 'predicted' THEN latency_ms END)) AS latency_ms,
                   MAX(CASE WHEN source = 'predicted' THEN latency_ms END) AS predicted_ms,
                   MAX(CASE WHEN source = 'measured' THEN latency_ms END) AS measured_ms
            FROM measurements GROUP BY candidate_id, target;

        WITH ranked AS (
            SELECT t.search_id, t.candidate_id, t.id AS trial_id, t.fidelity, t.accuracy,
                   ROW_NUMBER() OVER (PARTITION BY t.search_id, t.candidate_id
                                      ORDER BY t.fidelity DESC, COALESCE(t.accuracy, -1e308) DESC, t.id) AS per_search,
                   ROW_NUMBER() OVER (PARTITION BY t.candidate_id
                                      ORDER BY t.fidelity DESC, COALESCE(t.accuracy, -1e308) DESC, t.id) AS overall
            FROM trials t WHERE t.state = 'completed' AND t.kind = 'train'
        ), best AS (
            SELECT search_id AS scope, * FROM ranked WHERE per_search = 1
            UNION ALL
            SELECT 0 AS scope, * FROM ranked WHERE overall = 1
        )
        INSERT INTO leaderboard (scope, target, candidate_id, trial_id, search_id, fidelity, accuracy,
                                 size_bytes, peak_activation_bytes, macs, params, weight_bits, activation_bits, pruning_method)
        SELECT b.scope, '', b.candidate_id, b.trial_id, b.search_id, b.fidelity, b.accuracy,
               c.size_bytes, c.peak_activation_bytes, c.macs, c.params, c.weight_bits, c.activation_bits, c.pruning_method
        FROM best b JOIN candidates c ON c.id = b.candidate_id;

        INSERT INTO leaderboard (scope, target, candidate_id, trial_id, search_id, fidelity, accuracy,
                                 latency_ms, predicted_ms, measured_ms,
                                 size_bytes, peak_activation_bytes, macs, params, weight_bits, activation_bits, pruning_method)
        SELECT l.scope, e.target, l.candidate_id, l.trial_id, l.search_id, l.fidelity, l.accuracy,
               e.latency_ms, e.predicted_ms, e.measured_ms,
               l.size_bytes, l.peak_activation_bytes, l.macs, l.params, l.weight_bits, l.activation_bits, l.pruning_method
        FROM leaderboard l JOIN effective_latency e ON e.candidate_id = l.candidate_id
        WHERE l.target = '';
        """
}
