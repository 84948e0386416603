/// What can go wrong in the store, with messages that say what to do about it.
public enum StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A read command was pointed at a file that does not exist; the store never creates one silently.
    case missingDatabase(path: String)
    /// The file is an SQLite database that Topiary did not write.
    case notTopiaryDatabase(path: String, detail: String)
    /// The database was written by a newer Topiary: it has migrations this build does not know.
    case newerSchema(path: String, found: Int, supported: Int, unknownMigrations: [String])
    /// A trial was asked to move between states the state machine does not connect.
    case illegalTransition(trial: Int64, from: TrialState, to: TrialState)
    /// A search was asked to move between states that are not connected (e.g. resume a cancelled search).
    case illegalSearchTransition(search: Int64, from: SearchState, to: SearchState)
    /// A worker reported for an attempt the trial is not on (it was requeued meanwhile).
    case attemptMismatch(trial: Int64, expected: Int, got: Int)
    case noSuchSearch(Int64)
    case noSuchTrial(Int64)
    case noSuchCandidate(String)
    /// Trials can be added only to an active or paused search.
    case searchNotOpen(search: Int64, state: SearchState)
    /// A value the store would write is out of range (the field is named).
    case invalidValue(field: String, detail: String)
    /// SQLite or GRDB failed; `operation` says what the store was doing.
    case database(operation: String, message: String)
    /// The database cannot be written or read right now for a reason outside the data:
    /// the disk is full, the file or its directory is read-only, another process holds a
    /// lock, an I/O error, or the file cannot be opened. Nothing was written by the failed
    /// transaction; the same operation may succeed once the cause is gone ("retry later",
    /// as opposed to bad data, which fails the same way every time).
    case unavailable(path: String, reason: Unavailability)

    /// Whether the operation may succeed later unchanged (disk full, read-only, locked,
    /// I/O error): the caller should keep what it wanted to write and try again, not
    /// treat the data as bad.
    public var isUnavailable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .missingDatabase(let path):
            return "\(path): no such database (create one by starting a search, or check the --db path)"
        case let .notTopiaryDatabase(path, detail):
            return "\(path): not a Topiary database (\(detail))"
        case let .newerSchema(path, found, supported, unknown):
            let names = unknown.isEmpty ? "" : "; unknown migrations: \(unknown.joined(separator: ", "))"
            return "\(path): written by a newer Topiary (schema version \(found), this build supports up to \(supported)\(names)); "
                + "upgrade topiary to open it — the file was not changed"
        case let .illegalTransition(trial, from, to):
            return "trial \(trial): cannot go from \(from) to \(to) (allowed from \(from): "
                + (from.successors.isEmpty ? "none, \(from) is final" : from.successors.map(\.rawValue).joined(separator: ", ")) + ")"
        case let .illegalSearchTransition(search, from, to):
            return "search \(search): cannot go from \(from) to \(to) (allowed from \(from): "
                + (from.successors.isEmpty ? "none, \(from) is final" : from.successors.map(\.rawValue).joined(separator: ", ")) + ")"
        case let .attemptMismatch(trial, expected, got):
            return "trial \(trial): attempt \(got) given, but the trial is on attempt \(expected)"
        case .noSuchSearch(let id): return "no search with id \(id)"
        case .noSuchTrial(let id): return "no trial with id \(id)"
        case .noSuchCandidate(let id): return "no candidate with id \(id) (add it before recording figures for it)"
        case let .searchNotOpen(search, state):
            return "search \(search) is \(state); trials can be added only to an active or paused search"
        case let .invalidValue(field, detail): return "\(field): \(detail)"
        case let .database(operation, message): return "database error while \(operation): \(message)"
        case let .unavailable(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Why the database is unavailable (`StoreError.unavailable`), with what to do about it.
public enum Unavailability: Equatable, Sendable, CustomStringConvertible {
    /// SQLITE_FULL: no space left on the disk (or the database reached its page limit).
    case diskFull
    /// SQLITE_READONLY: the file, or the directory that must hold its -wal and -shm files, is not writable.
    case readOnly
    /// SQLITE_BUSY / SQLITE_LOCKED: another process held a lock for longer than the busy timeout.
    case locked(waitedSeconds: Double)
    /// SQLITE_IOERR: the operating system reported an error reading or writing the file.
    case ioError(String)
    /// SQLITE_CANTOPEN / SQLITE_PERM: the file or its directory cannot be opened.
    case cannotOpen(String)

    public var description: String {
        switch self {
        case .diskFull:
            return "the disk is full (SQLITE_FULL); free space on its file system. The failed write stored nothing and the file is intact"
        case .readOnly:
            return "the database is read-only (SQLITE_READONLY); make the file and its directory writable by this user "
                + "(SQLite also creates the -wal and -shm files beside it), or point --db at a writable copy"
        case .locked(let waited):
            return "the database is locked by another process (waited \(waited.formatted()) s; SQLITE_BUSY); "
                + "stop the other process (another topiary serve, or a sqlite3 shell holding a transaction) or try again"
        case .ioError(let detail):
            return "disk I/O error (\(detail)); check the disk and the file system, then run `topiary db check`"
        case .cannotOpen(let detail):
            return "cannot open the database file (\(detail)); check the path and the permissions of the file and its directory"
        }
    }
}

extension Double {
    /// `10`, `0.5`: a duration without trailing zeros.
    fileprivate func formatted() -> String { self == rounded() ? String(Int(self)) : String(self) }
}
