import ArgumentParser
import Foundation
import TopiaryStore

/// `--db PATH`, shared by the commands that read or write the database.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The Topiary database file.", valueName: "path"))
    var db: String

    /// Opens an existing database to read only: works on a read-only file and while
    /// another process (the daemon) holds the write lock.
    func openForReading() throws -> Store {
        try mappingStoreErrors { try Store(path: db, mode: .readOnly) }
    }
}

/// Output formats of the commands that list rows: tables for people, JSON and CSV for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

/// Runs `body`, turning a `StoreError` into `InputError` (exit 2) when the user's input is
/// at fault and `RuntimeError` (exit 1) otherwise.
func mappingStoreErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as StoreError {
        switch e {
        case .missingDatabase, .notTopiaryDatabase, .invalidValue, .noSuchSearch, .noSuchTrial, .noSuchCandidate:
            throw InputError(e.description)
        default:
            throw RuntimeError(e.description)
        }
    }
}

/// Comma-separated values with RFC 4180 quoting.
enum CSV {
    static func line(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",")
    }
}

extension Double {
    /// The shortest text that reads back as the same number: `3`, `0.25`, `1e-05`.
    var shortText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)"
    }
}
