import Foundation
import GRDB
import Testing
import TopiaryCore
@testable import TopiaryStore

@Suite struct SchemaTests {
    @Test func emptyFileGetsEveryMigrationInWALMode() throws {
        let t = try TestStore()
        defer { t.remove() }
        let report = try Store.check(path: t.path)
        #expect(report.isIntact)
        #expect(report.isTopiary)
        #expect(report.schemaVersion == StoreSchema.version)
        #expect(report.appliedMigrations == StoreSchema.migrations)
        #expect(report.pendingMigrations.isEmpty && report.unknownMigrations.isEmpty)
        #expect(report.journalMode == "wal")
        let tables = Set(report.rowCounts.map(\.table))
        for table in ["searches", "candidates", "trials", "trial_metrics", "measurements", "workers", "events", "leaderboard"] {
            #expect(tables.contains(table), "missing table \(table)")
        }
        let userVersion = try DatabaseQueue(path: t.path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        #expect(userVersion == StoreSchema.version)
    }

    @Test func olderDatabaseIsUpgradedInPlaceAndItsResultsRanked() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path("old.sqlite")
        // A database as the first release left it: v1 only, with results in it.
        let queue = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(queue, upTo: "v1-records")
        let a = syntheticCandidate(1, size: 100), b = syntheticCandidate(2, size: 200)
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO searches (id, space_name, space_yaml, space_hash, target, strategy, strategy_settings, objectives,
                                      constraints, budget, seed, max_attempts, state, created_at, updated_at)
                VALUES (1, 's', 'name: s', 'h', 'cpu', 'random', '{}', '[]', '{}', NULL, 0, 3, 'active', 0, 0),
                       (2, 's', 'name: s', 'h', 'cpu', 'random', '{}', '[]', '{}', NULL, 0, 3, 'active', 0, 0)
                """)
            for var c in [a, b] {
                c.createdAt = Date(timeIntervalSince1970: 0)
                try c.insert(db)
            }
            // a: fidelity 1 at 0.9 and fidelity 3 at 0.8 (the higher fidelity wins); b: 0.7 in search 2.
            try db.execute(sql: """
                INSERT INTO trials (id, search_id, candidate_id, kind, fidelity, state, attempt, queued_at, accuracy, metrics)
                VALUES (1, 1, ?, 'train', 1, 'completed', 1, 0, 0.9, '{"accuracy":0.9}'),
                       (2, 1, ?, 'train', 3, 'completed', 1, 0, 0.8, '{"accuracy":0.8}'),
                       (3, 1, ?, 'train', 9, 'failed', 1, 0, NULL, NULL),
                       (4, 2, ?, 'train', 3, 'completed', 1, 0, 0.7, '{"accuracy":0.7}')
                """, arguments: [a.id, a.id, a.id, b.id])
            try db.execute(sql: """
                INSERT INTO measurements VALUES (?, 'cpu', 'predicted', 4.0, 'model', 0), (?, 'cpu', 'measured', 3.5, 'w1', 0),
                                                (?, 'cpu', 'predicted', 2.0, 'model', 0)
                """, arguments: [a.id, a.id, b.id])
        }
        try queue.close()
        #expect(try Store.check(path: path).pendingMigrations == ["v2-leaderboard", "v3-artifacts", "v4-final-phase"])

        let store = try Store(path: path, logger: quietLogger)
        defer { try? store.close() }
        let report = try Store.check(path: path)
        #expect(report.schemaVersion == StoreSchema.version && report.isIntact)
        #expect(try store.trials(search: 1).count == 3)
        let all = try store.leaderboard(LeaderboardQuery(target: "cpu"))
        #expect(all.map(\.candidateID) == [a.id, b.id])
        #expect(all[0].accuracy == 0.8 && all[0].fidelity == 3 && all[0].trialID == 2)
        #expect(all[0].latencyMs == 3.5 && all[0].predictedMs == 4.0 && all[0].measuredMs == 3.5)
        #expect(all[1].latencyMs == 2.0 && all[1].searchID == 2)
        let fast = try store.leaderboard(LeaderboardQuery(target: "cpu", maxLatencyMs: 3))
        #expect(fast.map(\.candidateID) == [b.id])
        #expect(try store.leaderboard(LeaderboardQuery(search: 2)).map(\.candidateID) == [b.id])
    }

    @Test func newerDatabaseIsRefusedAndLeftUnchanged() throws {
        let t = try TestStore()
        defer { t.remove() }
        try t.store.close()
        let queue = try DatabaseQueue(path: t.path)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v\(StoreSchema.version + 1)-from-the-future')")
            try db.execute(sql: "PRAGMA user_version = \(StoreSchema.version + 1)")
        }
        try queue.close()
        let error = #expect(throws: StoreError.self) { try Store(path: t.path, logger: quietLogger) }
        guard case let .newerSchema(_, found, supported, unknown) = error else {
            Issue.record("expected newerSchema, got \(String(describing: error))")
            return
        }
        #expect(found == StoreSchema.version + 1 && supported == StoreSchema.version)
        #expect(unknown == ["v\(StoreSchema.version + 1)-from-the-future"])
        #expect(error!.description.contains("newer Topiary"))
        let report = try Store.check(path: t.path)
        #expect(report.isNewer && report.isIntact)
        #expect(report.unknownMigrations.count == 1)
    }

    @Test func unknownMigrationAloneIsEnoughToRefuse() throws {
        let t = try TestStore()
        defer { t.remove() }
        try t.store.close()
        try DatabaseQueue(path: t.path).write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('v2b-branch')") }
        #expect(throws: StoreError.self) { try Store(path: t.path, logger: quietLogger) }
    }

    @Test func otherSQLiteFilesAndNonDatabasesAreRefused() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let foreign = dir.path("other.sqlite")
        try DatabaseQueue(path: foreign).write { try $0.execute(sql: "CREATE TABLE notes (text TEXT)") }
        let e1 = #expect(throws: StoreError.self) { try Store(path: foreign, logger: quietLogger) }
        guard case .notTopiaryDatabase = e1 else { Issue.record("got \(String(describing: e1))"); return }
        // Nothing was added to the foreign database.
        let tables = try DatabaseQueue(path: foreign).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master") }
        #expect(tables == ["notes"])

        let text = dir.path("notes.txt")
        try Data(String(repeating: "not a database\n", count: 100).utf8).write(to: URL(fileURLWithPath: text))
        let e2 = #expect(throws: StoreError.self) { try Store(path: text, logger: quietLogger) }
        guard case .notTopiaryDatabase = e2 else { Issue.record("got \(String(describing: e2))"); return }
    }

    @Test func mustExistRefusesAMissingFileAndDoesNotCreateIt() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path("missing.sqlite")
        #expect(throws: StoreError.missingDatabase(path: path)) { try Store(path: path, mode: .mustExist) }
        #expect(throws: StoreError.missingDatabase(path: path)) { try Store.check(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func eventsAreAppendOnly() throws {
        let t = try TestStore()
        defer { t.remove() }
        let e = try t.store.logEvent(kind: "note", message: "hello")
        let queue = try DatabaseQueue(path: t.path)
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "UPDATE events SET message = 'edited'") } }
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "DELETE FROM events") } }
        #expect(try t.store.events().last == e)
    }
}
