import ArgumentParser
import Foundation
import TopiaryArtifacts
import TopiaryCore
import TopiaryStore

struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Check the Topiary database.",
        subcommands: [Check.self, StressWrite.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run SQLite's integrity check and print the schema version; changes nothing.",
            discussion: "Exit status 1 when the check finds damage or the file was written by a newer Topiary.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var location: ArtifactLocation
        @Flag(help: "Do not read the stored artifacts to check their digests.") var skipArtifacts = false

        func run() async throws {
            let r = try mappingStoreErrors { try Store.check(path: store.db) }
            let badArtifacts = skipArtifacts || !r.pendingMigrations.isEmpty || !r.isIntact ? [] : try checkArtifacts()
            print("database:        \(r.path)")
            print("integrity:       \(r.integrity == ["ok"] ? "ok" : "FAILED")")
            for line in r.integrity where line != "ok" { print("  \(line)") }
            print("foreign keys:    \(r.foreignKeyProblems.isEmpty ? "ok" : "\(r.foreignKeyProblems.count) dangling references")")
            for line in r.foreignKeyProblems.prefix(20) { print("  \(line)") }
            print("topiary file:    \(r.isTopiary ? "yes" : "no (application_id does not match)")")
            print("schema version:  \(r.schemaVersion) (this topiary: \(r.supportedVersion))")
            print("migrations:      \(r.appliedMigrations.isEmpty ? "none" : r.appliedMigrations.joined(separator: ", "))")
            if !r.pendingMigrations.isEmpty {
                print("pending:         \(r.pendingMigrations.joined(separator: ", ")) (applied when topiary next opens the file for work)")
            }
            print("journal mode:    \(r.journalMode) (SQLite \(r.sqliteVersion))")
            var t = TextTable(["table", "rows"])
            for (table, rows) in r.rowCounts { t.add([table, Format.grouped(rows)]) }
            print(t.render())
            if !r.isIntact { throw RuntimeError("\(r.path): integrity check failed; restore a backup or copy out what `sqlite3 .recover` can save") }
            if !badArtifacts.isEmpty {
                throw RuntimeError("\(badArtifacts.count) stored artifacts are missing or do not match their SHA-256: "
                                   + badArtifacts.prefix(5).joined(separator: "; ") + " (re-run the trials, or `topiary artifacts gc` to drop them)")
            }
            if r.isNewer {
                throw RuntimeError("\(r.path): written by a newer Topiary (schema version \(r.schemaVersion), unknown migrations: "
                                   + "\(r.unknownMigrations.joined(separator: ", "))); upgrade topiary to use it")
            }
        }
    }

    /// Writes batches in a loop and reports each commit, for the crash-safety test: kill it
    /// at any moment and every batch it reported must be in the database.
    struct StressWrite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stress-write",
            abstract: "Write trials and results in a loop, printing each commit (for crash tests).",
            shouldDisplay: false)
        @OptionGroup var store: StoreOptions
        @Option(help: "Search-space YAML file the candidates are drawn from.") var space: String
        @Option(help: "Trials per batch.") var batch = 50
        @Option(help: "Batches to write; 0 writes until killed.") var batches = 0
        @Option(help: "Random seed.") var seed: UInt64 = 1

        func validate() throws {
            guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
            guard batches >= 0 else { throw ValidationError("--batches must not be negative") }
        }

        func run() async throws {
            let s = try SearchSpace.load(path: space)
            let db = try mappingStoreErrors { try Store(path: store.db, durability: .full) }
            let search = try mappingStoreErrors {
                try db.createSearch(NewSearch(space: s, target: "stress", strategy: "random", seed: seed))
            }
            let searchID = search.id!
            func report(_ line: String) {
                // Unbuffered: a line is out before the next write starts.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            report("search \(searchID)")
            var rng = SeededGenerator(seed: seed)
            var n = 0
            while batches == 0 || n < batches {
                n += 1
                let requests = (0..<batch).map { _ in
                    TrialRequest(candidate: CandidateRecord(s.sample(using: &rng), in: s), fidelity: Double(1 + rng.index(below: 3)))
                }
                let trials = try mappingStoreErrors { try db.enqueue(search: searchID, requests) }
                report("enqueued \(trials.first!.trialID) \(trials.last!.trialID)")
                let claimed = try mappingStoreErrors { try db.claim(limit: batch, worker: "stress") }
                try mappingStoreErrors {
                    try db.recordMeasurements(claimed.map {
                        MeasurementRecord(candidateID: $0.candidateID, target: "stress", source: .predicted,
                                          latencyMs: Double(rng.index(below: 1000)) / 100, recordedBy: "stress", recordedAt: Date())
                    })
                }
                let outcomes = try mappingStoreErrors {
                    try db.recordResults(claimed.map {
                        TrialResult(trial: $0.trialID, attempt: $0.attempt, metrics: .object([("accuracy", .double(rng.unit()))]))
                    })
                }
                let recorded = zip(claimed, outcomes).filter { $0.1 == .recorded }.map { $0.0.trialID }
                report("completed \(recorded.map(String.init).joined(separator: " "))")
            }
        }
    }
}

extension DBCommand.Check {
    /// Stored artifacts whose file is missing or whose digest does not match, as text.
    func checkArtifacts() throws -> [String] {
        let db = try store.openForReading()
        let dir = location.directory(db: store.db)
        let rows = try db.artifacts().filter { $0.state == .stored }
        var bad: [String] = []
        var checked: [String: Bool] = [:]
        for row in rows {
            let ok = try checked[row.sha256] ?? {
                guard FileManager.default.fileExists(atPath: dir.path(of: row.sha256)) else { return false }
                let (sha, bytes) = try ArtifactHasher.file(dir.path(of: row.sha256))
                return sha == row.sha256 && bytes == row.bytes
            }()
            checked[row.sha256] = ok
            if !ok { bad.append("trial \(row.trialID) \(row.name) (\(row.sha256.prefix(12)))") }
        }
        let files = Set(checked.filter(\.value).keys)
        print("artifacts:       \(files.count) files checked, \(bad.isEmpty ? "all match their SHA-256" : "\(bad.count) missing or damaged") (\(dir.root.path))")
        return bad
    }
}
