import Foundation
import TopiaryArtifacts
import TopiaryCore

/// Everything exported for one candidate (`topiary export`, the dashboard's candidate page):
/// the candidate, its compressed graph and cost, its best training result, its latency
/// figures, the trained model file if it is on this machine, and the model card.
public struct CandidateExport: Sendable {
    public let record: CandidateRecord
    public let candidate: Candidate
    public let space: SearchSpace
    public let graph: NetworkGraph
    public let cost: CostReport
    /// The completed training trial it is exported from, and its search.
    public let trial: TrialRecord?
    public let search: SearchRecord?
    public let metrics: JSONValue?
    public let latencies: [MeasurementRecord]
    /// The trained model: the uploaded copy in the artifacts directory when there is one,
    /// else where the trainer wrote it (only readable on that worker's machine).
    public let modelPath: String?
    public var modelHere: Bool { modelPath.map { FileManager.default.fileExists(atPath: $0) } ?? false }
    /// Every file of the trial that reached the coordinator (name → path), digests checked on arrival.
    public let uploaded: [(name: String, path: String, record: ArtifactRecord)]

    /// Reads candidate `id` from the store; nil when there is no such candidate. Uploaded
    /// files are looked for in `artifacts` (default: beside the database).
    public init?(store: Store, id: String, artifacts: ArtifactDirectory? = nil) throws {
        guard let rec = try store.candidate(id) else { return nil }
        guard let yaml = try store.spaceYAML(named: rec.spaceName) else {
            throw CandidateExportError("the space '\(rec.spaceName)' of candidate \(id) is not stored in \(store.path)")
        }
        record = rec
        space = try SearchSpace.parse(yaml: yaml, file: "stored space \(rec.spaceName)")
        candidate = try space.decode(json: rec.canonicalJSON)
        graph = NetworkGraph.build(compressed: candidate, in: space)
        cost = graph.cost()
        let trials = try store.trials(candidate: id)
        trial = trials.filter { $0.state == .completed && $0.kind == .train }
            .max { ($0.fidelity, $0.accuracy ?? -.infinity) < ($1.fidelity, $1.accuracy ?? -.infinity) }
        metrics = trial?.metrics.flatMap { try? JSONText.parse($0) }
        latencies = try store.measurements(candidate: id)
        search = try trial.flatMap { try store.search($0.searchID) }
        let directory = artifacts ?? ArtifactDirectory.beside(database: store.path)
        let rows = try trial.map { t in try store.artifacts(trial: t.trialID).filter { $0.attempt == t.attempt && $0.state == .stored } } ?? []
        uploaded = rows.map { ($0.name, directory.path(of: $0.sha256), $0) }.filter { FileManager.default.fileExists(atPath: $0.1) }
        modelPath = uploaded.first { $0.name == "model.onnx" }?.path
            ?? metrics?["info"]?["onnx"]?.stringValue ?? metrics?["info"]?["model"]?.stringValue
    }

    public var candidateJSON: String { candidate.json.text(pretty: true, sorted: true) + "\n" }
    public var graphJSON: String { graph.json.text() + "\n" }

    /// What the export says about the trained model file.
    public var modelNote: String {
        guard let modelPath else { return "no trained model was exported by the trainer" }
        if let up = uploaded.first(where: { $0.name == "model.onnx" }) {
            return "model.onnx (uploaded by worker \(up.record.workerID), SHA-256 \(up.record.sha256))"
        }
        return modelHere ? "model.onnx (from \(modelPath))" : "the trainer wrote \(modelPath) on its worker; it is not on this machine (no upload reached the coordinator)"
    }

    /// The model card (Markdown).
    public var modelCard: String {
        var card = "# Model card: candidate \(record.id)\n\n"
        card += "Space `\(record.spaceName)`; compression: \(candidate.compression.summary).\n\n"
        if let trial, let search {
            card += "Trained in search \(trial.searchID) (\(search.strategy), target \(search.target)), trial \(trial.trialID), attempt \(trial.attempt), "
            card += "worker \(trial.workerID ?? "?"), fidelity \(ChoiceValue.formatDouble(trial.fidelity)).\n\n"
            card += trial.phase == .final
                ? "These figures are **final**: the search's final phase trained the candidate again at full fidelity once its budget was spent.\n\n"
                : "These figures are a **search-time estimate** (the fidelity the search ranked candidates at), not a final training.\n\n"
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
        card += "- graph.json — the compressed network graph the trainer built\n- \(modelNote)\n"
        for up in uploaded where up.name != "model.onnx" {
            let what = Self.fileKinds[up.name].map { $0 + ", " } ?? ""
            card += "- \(up.name) — \(what)uploaded by worker \(up.record.workerID) (\(Format.grouped(up.record.bytes)) bytes, SHA-256 \(up.record.sha256))\n"
        }
        return card
    }
}

extension CandidateExport {
    /// What the reference trainer's files are, for the model card.
    static let fileKinds: [String: String] = [
        "model.tflite": "the float32 network for LiteRT (TFLite): phones, Raspberry Pis",
        "model_int8.tflite": "the int8 network for LiteRT (TFLite): int8 weights, activations, input and output, for integer-only runtimes such as TFLite Micro",
        "model.tpym": "the packed weights in the format the cost model counts",
        "model.pt": "the PyTorch state dict",
        "model_int8.pt": "the PyTorch state dict of the int8 model",
    ]
}

public struct CandidateExportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
