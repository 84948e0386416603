import ArgumentParser
import Foundation
import TopiaryArtifacts
import TopiaryCore
import TopiaryStore

/// Where the uploaded artifacts of a database are.
struct ArtifactLocation: ParsableArguments {
    @Option(help: "Directory of uploaded artifacts (default: beside --db, DB.artifacts).") var artifacts: String?
    func directory(db: String) -> ArtifactDirectory { artifacts.map { ArtifactDirectory($0) } ?? ArtifactDirectory.beside(database: db) }
}

struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "Files workers uploaded after their trials (trained models), and files jobs get: list, add, gc.",
        subcommands: [List.self, Add.self, GC.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List artifacts: per trial, name, size, state (pending, stored, refused, lost, corrupt, removed).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var location: ArtifactLocation
        @Option(help: "Only this search's artifacts.") var search: Int64?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let db = try store.openForReading()
            let rows = try mappingStoreErrors { try db.artifacts(search: search) }
            let dir = location.directory(db: store.db)
            if json {
                print(JSONValue.array(rows.map { r in
                    .object([("trial", .int(Int(r.trialID))), ("attempt", .int(r.attempt)), ("search", .int(Int(r.searchID))),
                             ("name", .string(r.name)), ("sha256", .string(r.sha256)), ("bytes", .int(r.bytes)), ("state", .string(r.state.rawValue)),
                             ("worker", .string(r.workerID)), ("reason", r.reason.map { .string($0) } ?? .null),
                             ("path", r.state == .stored ? .string(dir.path(of: r.sha256)) : .null)])
                }).text(pretty: true))
                return
            }
            if rows.isEmpty { print("no artifacts" + (search.map { " in search \($0)" } ?? "")); return }
            var t = TextTable(["search", "trial", "attempt", "name", "size", "state", "sha256", "worker", "reason"])
            for r in rows {
                t.add([String(r.searchID), String(r.trialID), String(r.attempt), r.name, Format.bytes(r.bytes), r.state.rawValue,
                       String(r.sha256.prefix(16)), r.workerID, r.reason ?? ""])
            }
            print(t.render())
            let stored = rows.filter { $0.state == .stored }
            print("\(rows.count) artifacts; \(stored.count) stored (\(Format.bytes(stored.reduce(0) { $0 + $1.bytes }))) in \(dir.root.path)")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a file into the artifacts directory, for jobs to get: prints its digest for `search start --artifact NAME=SHA256`.")
        @Argument(help: "The file.") var file: String
        @OptionGroup var store: StoreOptions
        @OptionGroup var location: ArtifactLocation

        func run() async throws {
            guard FileManager.default.fileExists(atPath: file) else { throw InputError("\(file): no such file") }
            let dir = location.directory(db: store.db)
            let sha: String, bytes: Int
            do { (sha, bytes) = try dir.add(file: file) } catch { throw RuntimeError(error.description) }
            let name = (file as NSString).lastPathComponent
            print("\(sha)  \(Format.bytes(bytes))  \(dir.path(of: sha))")
            print("give it to every job of a search with: --artifact \(WireSafe.name(name))=\(sha)")
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove artifacts the leaderboard no longer needs.",
            discussion: """
                Keeps, per search and per target with figures, the uploaded files of the best --keep candidates' \
                trials (by accuracy), every pending upload, and every file a search names for its jobs; marks the \
                other stored rows removed and deletes files nothing references any more. Files added with \
                `artifacts add` and not yet named by a search are kept for a day.
                """)
        @OptionGroup var store: StoreOptions
        @OptionGroup var location: ArtifactLocation
        @Option(help: "Candidates kept per search and target.") var keep = 5
        @Flag(help: "Say what would go; change nothing.") var dryRun = false

        func validate() throws { guard keep >= 0 else { throw ValidationError("--keep must not be negative") } }

        func run() async throws {
            let db = dryRun ? try store.openForReading() : try mappingStoreErrors { try Store(path: store.db, mode: .mustExist) }
            let dir = location.directory(db: store.db)
            var keptTrials = Set<Int64>()
            var named = Set<String>()
            for s in try mappingStoreErrors({ try db.searches() }) {
                let id = s.id!
                for target in [nil] + (try db.latencyTargets(search: id)).map(Optional.some) {
                    for e in try db.leaderboard(LeaderboardQuery(search: id, target: target, limit: keep)) { keptTrials.insert(e.trialID) }
                }
                if let settings = try? JSONText.parse(s.strategySettings) {
                    for a in settings["artifacts"]?.arrayValue ?? [] { if let sha = a["sha256"]?.stringValue { named.insert(sha) } }
                }
            }
            let rows = try db.artifacts()
            let drop = rows.filter { $0.state == .stored && !keptTrials.contains($0.trialID) }
            let stillNeeded = Set(rows.filter { ($0.state == .stored && keptTrials.contains($0.trialID)) || $0.state == .pending }.map(\.sha256)).union(named)
            let dayAgo = Date().addingTimeInterval(-86_400)
            var files: [String] = []
            for sha in dir.all() where !stillNeeded.contains(sha) {
                let known = rows.contains { $0.sha256 == sha }
                let modified = (try? FileManager.default.attributesOfItem(atPath: dir.path(of: sha)))?[.modificationDate] as? Date ?? .distantPast
                if known || modified < dayAgo { files.append(sha) }
            }
            let bytes = files.reduce(0) { n, sha in n + (((try? FileManager.default.attributesOfItem(atPath: dir.path(of: sha)))?[.size] as? Int) ?? 0) }
            print("\(dryRun ? "would remove" : "removing") \(drop.count) stored artifacts of trials outside the best \(keep) per search and target, "
                  + "and \(files.count) files (\(Format.bytes(bytes))) nothing references")
            guard !dryRun else { return }
            try mappingStoreErrors { try db.removeArtifacts(drop, reason: "gc: not among the best \(keep) of its search") }
            for sha in files { dir.remove(sha) }
        }
    }
}

/// A file name turned into an artifact name (letters, digits, `.`, `_`, `-`).
enum WireSafe {
    static func name(_ s: String) -> String {
        let mapped = String(s.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }.prefix(128))
        return mapped.isEmpty || mapped == "." || mapped == ".." ? "file" : mapped
    }
}
