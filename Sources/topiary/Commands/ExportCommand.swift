import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryArtifacts
import TopiaryCoordinator
import TopiaryStore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a candidate: its JSON, network graph, trained ONNX model and a model card.",
        discussion: """
            CANDIDATE is a candidate id; 'best' (the default) is the best final result when the search had a \
            final phase (--finalists), else, with --search, the candidate the search's \
            strategy recommends (rebuilt from the database: it discounts lucky evaluations), and 'observed' the \
            most accurate result. Without --search, 'best' needs the database to hold results of one search only.
            """)

    @Option(help: "SQLite database.") var db: String
    @Option(help: "Candidate id, or best.") var candidate = "best"
    @Option(help: "With --candidate best: the search whose best to export.") var search: Int64?
    @Option(help: "Directory to write (created).") var out: String
    @Option(help: "Directory of uploaded artifacts (default: beside --db, DB.artifacts).") var artifacts: String?

    func run() async throws {
        let store: Store
        do { store = try Store(path: db, mode: .readOnly) } catch { throw InputError("\(error)") }
        var id = candidate
        if let search, try store.search(search) == nil {
            let known = try store.searches().compactMap(\.id)
            throw InputError("--search \(search): no such search in \(db)" + (known.isEmpty ? "" : " (searches: \(known.map(String.init).joined(separator: ", ")))"))
        }
        if candidate == "best" {
            if search == nil {
                let withResults = try store.searches().compactMap(\.id).filter { (try store.trialCounts(search: $0)[.completed] ?? 0) > 0 }
                if withResults.count > 1 {
                    throw InputError("--candidate best: \(withResults.count) searches have results (\(withResults.map(String.init).joined(separator: ", "))); "
                                     + "name one with --search ID, or give a candidate id")
                }
            }
            guard let top = try store.leaderboard(LeaderboardQuery(search: search, limit: 1)).first else {
                throw InputError("no completed trial" + (search.map { " in search \($0)" } ?? "") + " to export")
            }
            id = top.candidateID
            let searchID = search ?? top.searchID
            // A final result (the search's final phase trained it again at full fidelity)
            // comes first; among search-time estimates, the strategy's recommendation.
            if let final = try store.leaderboard(LeaderboardQuery(search: searchID, limit: 1000)).first(where: \.isFinal) {
                id = final.candidateID
                print("exporting \(id): the best final result of search \(searchID) (trained again in its final phase)")
            } else if let rec = try? Recommendation.candidate(store: store, search: searchID), rec != id {
                print("search \(searchID)'s strategy recommends \(rec) (the best observed is \(id)); exporting the recommendation (--candidate \(id) for the other)")
                id = rec
            }
        } else if candidate == "observed" {
            guard let top = try store.leaderboard(LeaderboardQuery(search: search, limit: 1)).first else {
                throw InputError("no completed trial" + (search.map { " in search \($0)" } ?? "") + " to export")
            }
            id = top.candidateID
        }
        let export: CandidateExport
        do {
            guard let e = try CandidateExport(store: store, id: id, artifacts: artifacts.map { ArtifactDirectory($0) }) else { throw InputError("--candidate \(id): no such candidate in \(db)") }
            export = e
        } catch let e as CandidateExportError {
            throw RuntimeError(e.description)
        }

        let dir = URL(fileURLWithPath: out)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw RuntimeError("cannot create \(out): \(error.localizedDescription)")
        }
        func write(_ name: String, _ text: String) throws {
            do { try Data(text.utf8).write(to: dir.appendingPathComponent(name), options: .atomic) } catch {
                throw RuntimeError("cannot write \(dir.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
        }
        try write("candidate.json", export.candidateJSON)
        try write("graph.json", export.graphJSON)
        // Every uploaded file of the trial (model.onnx, packed weights, …), as uploaded.
        var copied: [String] = []
        for up in export.uploaded {
            try copy(up.path, to: up.name)
            copied.append(up.name)
        }
        if let path = export.modelPath, export.modelHere, !copied.contains("model.onnx") {
            try copy(path, to: "model.onnx")
            copied.append("model.onnx")
        }
        func copy(_ path: String, to name: String) throws {
            let dest = dir.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: dest)
            do { try FileManager.default.copyItem(atPath: path, toPath: dest.path) } catch {
                throw RuntimeError("cannot copy \(path): \(error.localizedDescription)")
            }
        }
        try write("MODEL_CARD.md", export.modelCard)
        print("exported candidate \(id) to \(out): " + (["candidate.json", "graph.json", "MODEL_CARD.md"] + copied).joined(separator: ", "))
    }
}
