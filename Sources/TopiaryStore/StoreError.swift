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
        }
    }
}
