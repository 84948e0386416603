import Foundation
import TopiaryArtifacts
import TopiaryCore
import TopiaryHardware
import TopiaryStore

/// `/candidate/ID[?search=S]`: the candidate's choices, cost, layers with their predicted
/// latency on the search's target, metrics, model card and its files to download (the same
/// files `topiary export` writes).
struct CandidatePage {
    let export: CandidateExport
    /// The search whose target predicts per-layer latency: `search=` or the best trial's.
    let search: SearchRecord?

    init(store: Store, id: String, query: [String: String], artifacts: ArtifactDirectory?) throws {
        let e: CandidateExport?
        do { e = try CandidateExport(store: store, id: id, artifacts: artifacts) } catch let error as CandidateExportError {
            throw DashboardError(status: 500, message: error.description)
        }
        guard let e else { throw DashboardError(status: 404, message: "no candidate \(id) in this database") }
        export = e
        if let s = query["search"], !s.isEmpty {
            guard let sid = Int64(s), let rec = try store.search(sid) else { throw DashboardError(status: 404, message: "no search \(s)") }
            search = rec
        } else {
            search = e.search
        }
    }

    /// The latency model of the search's target, as the daemon used it (profile and the
    /// calibration that travelled with the search).
    var model: LatencyModel? {
        guard let search, let settings = try? JSONText.parse(search.strategySettings),
              let yaml = settings["target_yaml"]?.stringValue,
              let target = try? HardwareTarget.parse(yaml: yaml, file: "target \(search.target)") else { return nil }
        let calibration = settings["target_calibration"]?.stringValue.flatMap { try? Calibration.parse(json: $0, file: "calibration") }
        return LatencyModel(target: target, calibration: calibration)
    }

    func render() -> String {
        let e = export
        let id = e.record.id
        var body = "<h1>Candidate \(HTML.escape(id)) <small>\(HTML.escape(e.record.spaceName))</small></h1>"
        body += "<p class=\"meta\">compression: \(HTML.escape(e.candidate.compression.summary))"
        if let t = e.trial { body += " · best result: trial <a href=\"/trial/\(t.trialID)\">\(t.trialID)</a>, accuracy \(HTML.number(t.accuracy, digits: 3))" }
        body += "</p>"
        body += "<p class=\"downloads\">download: " + files.map { "<a href=\"/candidate/\(HTML.percent(id))/file/\($0)\" download>\($0)</a>" }.joined(separator: " · ")
        if !e.modelHere { body += " · <span class=\"meta\">\(HTML.escape(e.modelNote))</span>" }
        body += "</p><div class=\"columns\"><section><h2>Choices</h2>"
        let flat = FlatChoices.of(e.candidate.json).sorted { $0.key < $1.key }
        body += HTML.table(["choice", "value"], flat.map { [HTML.escape($0.key), HTML.escape($0.value)] }, id: "choices")
        body += "</section><section><h2>Cost</h2>"
        let c = e.cost
        body += HTML.table(["figure", "value"], [
            ["MACs", Format.grouped(c.macs)], ["parameters", "\(Format.grouped(c.params)) (\(Format.grouped(c.nonzeroParams)) non-zero)"],
            ["size on disk", Format.bytes(c.sizeBytes)], ["peak activations", Format.bytes(c.peakActivationBytes)],
        ], id: "cost")
        body += "<h2>Metrics</h2>"
        let metrics = (e.metrics?.objectPairs ?? []).filter { $0.0 != "info" }
        body += metrics.isEmpty ? "<p>No completed training result.</p>"
            : HTML.table(["metric", "value"], metrics.map { [HTML.escape($0.0), HTML.escape($0.1.doubleValue.map { String(format: "%.6g", $0) } ?? $0.1.canonical)] }, id: "metrics")
        body += "<h2>Latency figures</h2>"
        body += e.latencies.isEmpty ? "<p>None stored.</p>"
            : HTML.table(["target", "source", "ms", "by"], e.latencies.map { [HTML.escape($0.target), $0.source.rawValue, HTML.ms($0.latencyMs), HTML.escape($0.recordedBy)] }, id: "latencies")
        body += "</section></div>"
        body += layers()
        body += "<h2>Model card</h2><pre class=\"card\">\(HTML.escape(e.modelCard))</pre>"
        return HTML.page(title: "candidate \(id)", body: body, data: ["page": "candidate"])
    }

    /// Each fused layer with its cost and predicted time on the target.
    func layers() -> String {
        guard let model else {
            return "<h2>Layers</h2><p>No target profile travelled with \(search.map { "search \($0.id!)" } ?? "a search of this candidate"): per-layer latency is not predicted.</p>"
                + layerCostTable()
        }
        let r = model.predict(export.graph)
        var out = "<h2>Layers on \(HTML.escape(model.target.name))</h2><p class=\"meta\">predicted \(HTML.ms(r.milliseconds)) ms per inference"
        out += " (\(HTML.ms(r.fixedMilliseconds)) ms fixed), \(HTML.ms(r.energyMillijoules)) mJ, weights at \(r.precision.rawValue)"
        out += r.fits ? "" : " · <span class=\"error\">does not fit: \(HTML.escape(r.problems.map(\.description).joined(separator: "; ")))</span>"
        out += "</p>"
        let maxMs = r.layers.map(\.milliseconds).max() ?? 1
        let rows = r.layers.map { l in
            [HTML.escape(l.name), HTML.escape(export.graph.nodes[l.nodes].map(\.opName).joined(separator: "+")), l.kind.rawValue, l.precision.rawValue,
             Format.grouped(l.macs), Format.grouped(l.bytes), HTML.ms(l.milliseconds),
             "<span class=\"share\"><span style=\"width:\(String(format: "%.0f", l.milliseconds / max(maxMs, 1e-12) * 100))%\"></span></span>", l.bound]
        }
        return out + HTML.table(["layer", "ops", "kind", "precision", "MACs", "bytes", "ms", "", "bound"], rows, id: "layers", numeric: [4, 5, 6])
    }

    func layerCostTable() -> String {
        HTML.table(["layer", "MACs", "params", "bytes"], export.cost.layers.map { l in
            [HTML.escape(l.name), Format.grouped(l.macs), Format.grouped(l.params), Format.grouped(l.sizeBytes)]
        }, id: "layers", numeric: [1, 2, 3])
    }

    var files: [String] {
        var names = ["candidate.json", "graph.json", "MODEL_CARD.md"] + export.uploaded.map(\.name)
        if export.modelHere && !names.contains("model.onnx") { names.append("model.onnx") }
        return names
    }

    func file(_ name: String) throws -> DashboardResponse {
        let body: [UInt8]
        let type: String
        switch name {
        case "candidate.json": body = Array(export.candidateJSON.utf8); type = "application/json"
        case "graph.json": body = Array(export.graphJSON.utf8); type = "application/json"
        case "MODEL_CARD.md": body = Array(export.modelCard.utf8); type = "text/markdown; charset=utf-8"
        case _ where export.uploaded.contains { $0.name == name }:
            guard let path = export.uploaded.first(where: { $0.name == name })?.path, let data = FileManager.default.contents(atPath: path) else {
                throw DashboardError(status: 404, message: "\(name) is not readable here")
            }
            body = Array(data)
            type = "application/octet-stream"
        case "model.onnx":
            guard let path = export.modelPath, export.modelHere, let data = FileManager.default.contents(atPath: path) else {
                throw DashboardError(status: 404, message: export.modelNote)
            }
            body = Array(data)
            type = "application/octet-stream"
        default: throw DashboardError(status: 404, message: "no file '\(name)'; the files are \(files.joined(separator: ", "))")
        }
        return DashboardResponse(status: 200, contentType: type, body: body,
                                 headers: [("Content-Disposition", "attachment; filename=\"\(export.record.id)-\(name)\"")])
    }
}
