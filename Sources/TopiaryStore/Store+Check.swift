import Foundation
import GRDB

/// What `Store.check` found: whether SQLite thinks the file is sound, and which schema it holds.
public struct StoreCheckReport: Sendable {
    public var path: String
    /// `PRAGMA integrity_check` output: `["ok"]` for a sound database.
    public var integrity: [String]
    /// Rows `PRAGMA foreign_key_check` reports (a dangling reference), as text.
    public var foreignKeyProblems: [String]
    /// Whether the file carries Topiary's application id (an empty file counts as not Topiary).
    public var isTopiary: Bool
    /// The number of migrations applied.
    public var schemaVersion: Int
    /// The schema version this build writes.
    public var supportedVersion: Int
    public var appliedMigrations: [String]
    /// Migrations in the file this build does not know: it was written by a newer Topiary.
    public var unknownMigrations: [String]
    /// Migrations this build would apply when it next opens the file.
    public var pendingMigrations: [String]
    public var journalMode: String
    /// The SQLite library in use, e.g. `3.40.1`.
    public var sqliteVersion: String
    /// Rows per table, for the tables that exist.
    public var rowCounts: [(table: String, rows: Int)]

    public var isIntact: Bool { integrity == ["ok"] && foreignKeyProblems.isEmpty }
    public var isNewer: Bool { !unknownMigrations.isEmpty || schemaVersion > supportedVersion }
}

extension Store {
    /// Checks a database without changing it: integrity, foreign keys, schema version.
    /// Unlike opening a `Store`, it neither migrates nor refuses a newer schema, so it can
    /// report on any Topiary database.
    public static func check(path: String) throws -> StoreCheckReport {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.missingDatabase(path: path) }
        do {
            var config = Configuration()
            config.busyMode = .timeout(defaultBusyTimeout)
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { row in
                    "\(row[0] as String? ?? "?") row \(row[1] as Int64? ?? 0) -> \(row[2] as String? ?? "?")"
                }
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let applied = try StoreSchema.migrator.appliedIdentifiers(db)
                let known = StoreSchema.migrations
                let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let tables = try String.fetchAll(db, sql: """
                    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY name
                    """)
                var counts: [(String, Int)] = []
                for t in tables {
                    counts.append((t, try Int.fetchOne(db, sql: "SELECT count(*) FROM \(t.quotedDatabaseIdentifier)") ?? 0))
                }
                return StoreCheckReport(
                    path: path, integrity: integrity, foreignKeyProblems: fk, isTopiary: appID == StoreSchema.applicationID,
                    schemaVersion: max(userVersion, applied.count), supportedVersion: StoreSchema.version,
                    appliedMigrations: known.filter { applied.contains($0) } + applied.subtracting(known).sorted(),
                    unknownMigrations: applied.subtracting(known).sorted(),
                    pendingMigrations: known.filter { !applied.contains($0) },
                    journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?",
                    sqliteVersion: try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?",
                    rowCounts: counts)
            }
        } catch let e as DatabaseError {
            throw openError(e, path: path)
        }
    }
}
