import Foundation
import GRDB
import Logging
import Synchronization

/// The Topiary database: searches, candidates, trials and their results, latency figures,
/// workers and the event log, in one SQLite file in WAL mode (readers never wait for the
/// writer).
///
/// Every method is one transaction: either all of its rows are committed or none. Methods
/// are synchronous and safe to call from any thread; writes are serialised by SQLite's
/// single writer connection.
public final class Store: Sendable {
    /// Whether opening may create the file.
    public enum OpenMode: Sendable {
        /// Create the database (and run every migration) if the file does not exist.
        case createIfMissing
        /// Refuse a missing file: for commands that may write to an existing database.
        case mustExist
        /// Refuse a missing file and never write, nor take the write lock: for commands
        /// that only read (the leaderboard, trial lists) — they work on a read-only file
        /// and while another process holds the write lock.
        case readOnly
    }

    /// How hard a commit works to survive a power cut. Both survive a killed process.
    public enum Durability: Sendable {
        /// `synchronous = FULL`: a committed transaction survives power loss too.
        case full
        /// `synchronous = NORMAL`: faster commits; the last transactions may be lost on power loss.
        case normal
    }

    /// The database file.
    public let path: String
    let pool: DatabasePool
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Seconds a statement waits for another process's lock before failing with `.locked`.
    public let busyTimeout: Double
    /// Test hook (`TOPIARY_TEST_FULL_DISK_FLAG`): while this file exists, the database may
    /// not grow (`PRAGMA max_page_count` = its size), so writes that need a new page fail
    /// with SQLITE_FULL as on a full disk; remove the file and they succeed again.
    let fullDiskFlag: String?
    /// The connection of a running `batch` (writes on its thread join it).
    let batchConnection = Mutex<BatchConnection?>(nil)

    /// Opens (or creates) the database at `path` and brings its schema up to date.
    ///
    /// A database written by an older Topiary is migrated in place; one written by a newer
    /// Topiary, or a file that is not a Topiary database, is refused and left untouched.
    /// - Parameters:
    ///   - clock: the time stamped on rows and events; tests pass a fixed clock.
    ///   - busyTimeout: seconds to wait for another process's lock (default 10, or `TOPIARY_BUSY_TIMEOUT_S`).
    ///   - fullDiskFlag: test hook, see `fullDiskFlag` (default: `TOPIARY_TEST_FULL_DISK_FLAG`).
    public init(path: String, mode: OpenMode = .createIfMissing, durability: Durability = .full,
                logger: Logger = Logger(label: "topiary.store"),
                clock: @escaping @Sendable () -> Date = { Date() },
                busyTimeout: Double = Store.defaultBusyTimeout,
                fullDiskFlag: String? = ProcessInfo.processInfo.environment["TOPIARY_TEST_FULL_DISK_FLAG"]) throws {
        self.path = path
        self.logger = logger
        self.clock = clock
        self.busyTimeout = busyTimeout
        self.fullDiskFlag = fullDiskFlag
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && mode != .createIfMissing { throw StoreError.missingDatabase(path: path) }
        if exists { try Self.preflight(path: path, busyTimeout: busyTimeout) }
        // SQLite would fall back to a read-only connection and fail only at the first write
        // (or never, while the -wal file takes the writes): refuse now.
        if exists && mode != .readOnly && access(path, W_OK) != 0 { throw StoreError.unavailable(path: path, reason: .readOnly) }

        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(busyTimeout)
        config.label = "topiary.store"
        config.readonly = mode == .readOnly
        config.prepareDatabase { db in
            // The leaderboard is updated at random places; a larger page cache keeps its
            // upper levels in memory (SQLite's default is 2 MiB).
            try db.execute(sql: "PRAGMA cache_size = \(db.configuration.readonly ? -16_384 : -65_536)")
            // Readers scan whole leaderboard slices; mapping the file saves a copy per page.
            if db.configuration.readonly { try db.execute(sql: "PRAGMA mmap_size = 1073741824") }
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if mode == .readOnly {
                try pool.read { db in
                    try Self.refuseNewer(db, path: path)
                    let applied = try StoreSchema.migrator.appliedIdentifiers(db)
                    guard applied.count == StoreSchema.migrations.count else {
                        throw StoreError.database(operation: "reading \(path)", message: "it was written by an older Topiary (schema "
                                                  + "\(applied.count) of \(StoreSchema.version)); run `topiary db check --db \(path)` once to bring it up to date")
                    }
                }
                return
            }
            if durability == .full {
                // Set after opening: GRDB puts WAL connections to NORMAL when it enables WAL.
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            }
            let before = try pool.read { db in
                try Self.refuseNewer(db, path: path)
                return try StoreSchema.migrator.appliedMigrations(db)
            }
            try StoreSchema.migrator.migrate(pool)
            let applied = StoreSchema.migrations.filter { !before.contains($0) }
            if !applied.isEmpty {
                logger.notice("database schema migrated", metadata: [
                    "path": "\(path)", "from": "\(before.count)", "to": "\(StoreSchema.version)",
                    "migrations": "\(applied.joined(separator: ","))",
                ])
            }
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw Self.openError(e, path: path, busyTimeout: busyTimeout)
        }
    }

    /// Refuses, without writing anything, a file that is not ours or is from a newer Topiary.
    /// (Read-write, so that SQLite can recover the WAL index after a crash; it writes nothing.)
    static func preflight(path: String, busyTimeout: Double) throws {
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { db in
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                if tables > 0 && appID != StoreSchema.applicationID {
                    throw StoreError.notTopiaryDatabase(
                        path: path, detail: String(format: "application_id is 0x%08x, expected 0x%08x",
                                                   UInt32(bitPattern: appID), UInt32(bitPattern: StoreSchema.applicationID)))
                }
                try refuseNewer(db, path: path)
            }
            try queue.close()
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw openError(e, path: path, busyTimeout: busyTimeout)
        }
    }

    /// Throws `newerSchema` when the database holds migrations this build does not know.
    static func refuseNewer(_ db: Database, path: String) throws {
        let applied = try StoreSchema.migrator.appliedIdentifiers(db)
        let known = Set(StoreSchema.migrations)
        let unknown = applied.subtracting(known).sorted()
        let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        if !unknown.isEmpty || userVersion > StoreSchema.version {
            throw StoreError.newerSchema(path: path, found: max(userVersion, applied.count),
                                         supported: StoreSchema.version, unknownMigrations: unknown)
        }
    }

    static func openError(_ e: DatabaseError, path: String, busyTimeout: Double = defaultBusyTimeout) -> StoreError {
        if e.resultCode == .SQLITE_NOTADB { return .notTopiaryDatabase(path: path, detail: "not an SQLite database") }
        return unavailable(e, path: path, busyTimeout: busyTimeout) ?? .database(operation: "opening \(path)", message: e.message ?? "\(e)")
    }

    /// The SQLite failures that come from the file's surroundings (disk, permissions, other
    /// processes), not from the data: `StoreError.unavailable`; nil for anything else.
    static func unavailable(_ e: DatabaseError, path: String, busyTimeout: Double) -> StoreError? {
        let detail = e.message ?? "\(e.extendedResultCode)"
        switch e.resultCode {
        case .SQLITE_FULL: return .unavailable(path: path, reason: .diskFull)
        case .SQLITE_READONLY: return .unavailable(path: path, reason: .readOnly)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .unavailable(path: path, reason: .locked(waitedSeconds: busyTimeout))
        case .SQLITE_IOERR: return .unavailable(path: path, reason: .ioError(detail))
        case .SQLITE_CANTOPEN, .SQLITE_PERM: return .unavailable(path: path, reason: .cannotOpen(detail))
        default: return nil
        }
    }

    /// Seconds a write waits for another process's lock before failing with `.locked`;
    /// `TOPIARY_BUSY_TIMEOUT_S` overrides it (tests use a short one).
    public static let defaultBusyTimeout: Double = {
        if let s = ProcessInfo.processInfo.environment["TOPIARY_BUSY_TIMEOUT_S"], let v = Double(s), v >= 0 { return v }
        return 10
    }()

    /// Runs `body` in one write transaction, turning SQLite errors into `StoreError.database`.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            if let db = currentBatch() {
                // Inside a batch: a savepoint, so that this write fails alone.
                var result: T?
                try db.inSavepoint {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
            if let fullDiskFlag { try limitGrowth(flag: fullDiskFlag) }
            return try pool.write(body)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw Self.unavailable(e, path: path, busyTimeout: busyTimeout) ?? StoreError.database(operation: operation, message: e.message ?? "\(e)")
        }
    }

    /// Runs `body` on a read-only snapshot.
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            if let db = currentBatch() { return try body(db) }  // inside a batch: what it has written so far
            return try pool.read(body)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw Self.unavailable(e, path: path, busyTimeout: busyTimeout) ?? StoreError.database(operation: operation, message: e.message ?? "\(e)")
        }
    }

    /// The full-disk test hook: no growth while `flag` exists, SQLite's default limit otherwise.
    func limitGrowth(flag: String) throws {
        let full = FileManager.default.fileExists(atPath: flag)
        try pool.writeWithoutTransaction { db in
            let pages = full ? try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1 : 1_073_741_823
            _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages)")
        }
    }

    /// Closes the connections; further calls fail. Deinit closes too.
    public func close() throws {
        try pool.close()
    }
}
