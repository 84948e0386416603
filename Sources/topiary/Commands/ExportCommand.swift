import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryStore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a candidate: its JSON, network graph, trained ONNX model and a model card.",
        discussion: "CANDIDATE is a candidate id, or 'best' for the most accurate one (of --search, if given).")

    @Option(help: "SQLite database.") var db: String
    @Option(help: "Candidate id, or best.") var candidate: String
    @Option(help: "With --candidate best: only this search.") var search: Int64?
    @Option(help: "Directory to write (created).") var out: String

    func run() async throws {
        let store: Store
        do { store = try Store(path: db, mode: .readOnly) } catch { throw InputError("\(error)") }
        var id = candidate
        if candidate == "best" {
            guard let top = try store.leaderboard(LeaderboardQuery(search: search, limit: 1)).first else {
                throw InputError("no completed trial" + (search.map { " in search \($0)" } ?? "") + " to export")
            }
            id = top.candidateID
        }
        guard let rec = try store.candidate(id) else { throw InputError("--candidate \(id): no such candidate in \(db)") }
        guard let yaml = try store.spaceYAML(named: rec.spaceName) else { throw RuntimeError("the space '\(rec.spaceName)' of candidate \(id) is not stored") }
        let space = try SearchSpace.parse(yaml: yaml, file: "stored space \(rec.spaceName)")
        let cand = try space.decode(json: rec.canonicalJSON)
        let graph = NetworkGraph.build(compressed: cand, in: space)
        let cost = graph.cost()
        let trials = try store.trials(candidate: id)
        let best = trials.first { $0.state == .completed && $0.kind == .train }
        let metrics = best?.metrics.flatMap { try? JSONText.parse($0) }
        let latencies = try store.measurements(candidate: id)
        let searchRec = try best.flatMap { try store.search($0.searchID) }

        let dir = URL(fileURLWithPath: out)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw RuntimeError("cannot create \(out): \(error.localizedDescription)")
        }
        func write(_ name: String, _ text: String) throws {
            do { try Data(text.utf8).write(to: dir.appendingPathComponent(name), options: .atomic) } catch {
                throw RuntimeError("cannot write \(dir.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
        }
        try write("candidate.json", cand.json.text(pretty: true, sorted: true) + "\n")
        try write("graph.json", graph.json.text() + "\n")
        var onnxNote = "no trained model was exported by the trainer"
        if let path = metrics?["info"]?["onnx"]?.stringValue ?? metrics?["info"]?["model"]?.stringValue {
            if FileManager.default.fileExists(atPath: path) {
                let dest = dir.appendingPathComponent("model.onnx")
                try? FileManager.default.removeItem(at: dest)
                do { try FileManager.default.copyItem(atPath: path, toPath: dest.path) } catch {
                    throw RuntimeError("cannot copy \(path): \(error.localizedDescription)")
                }
                onnxNote = "model.onnx (from \(path))"
            } else {
                onnxNote = "the trainer wrote \(path) on its worker; it is not on this machine"
            }
        }

        var card = "# Model card: candidate \(id)\n\n"
        card += "Space `\(rec.spaceName)`; compression: \(cand.compression.summary).\n\n"
        if let best, let searchRec {
            card += "Trained in search \(best.searchID) (\(searchRec.strategy), target \(searchRec.target)), trial \(best.trialID), attempt \(best.attempt), "
            card += "worker \(best.workerID ?? "?"), fidelity \(ChoiceValue.formatDouble(best.fidelity)).\n\n"
        } else {
            card += "No completed training trial is stored for this candidate.\n\n"
        }
        card += "## Metrics\n\n| metric | value |\n|---|---|\n"
        for (k, v) in metrics?.objectPairs ?? [] where k != "info" {
            card += "| \(k) | \(v.doubleValue.map { String(format: "%.6g", $0) } ?? v.canonical) |\n"
        }
        card += "\n## Cost (from the compressed graph)\n\n| figure | value |\n|---|---|\n"
        card += "| MACs | \(Format.grouped(cost.macs)) |\n| parameters | \(Format.grouped(cost.params)) (\(Format.grouped(cost.nonzeroParams)) non-zero) |\n"
        card += "| size on disk | \(Format.grouped(cost.sizeBytes)) bytes |\n| peak activations | \(Format.grouped(cost.peakActivationBytes)) bytes |\n"
        card += "\n## Latency\n\n"
        if latencies.isEmpty {
            card += "No latency figures are stored.\n"
        } else {
            card += "| target | source | ms | by |\n|---|---|---|---|\n"
            for m in latencies { card += "| \(m.target) | \(m.source.rawValue) | \(String(format: "%.4g", m.latencyMs)) | \(m.recordedBy) |\n" }
        }
        card += "\n## Files\n\n- candidate.json — the candidate (decode with `topiary candidate cost candidate.json --space SPACE`)\n"
        card += "- graph.json — the compressed network graph the trainer built\n- \(onnxNote)\n"
        try write("MODEL_CARD.md", card)
        print("exported candidate \(id) to \(out): candidate.json, graph.json, MODEL_CARD.md" + (onnxNote.hasPrefix("model.onnx") ? ", model.onnx" : ""))
    }
}
