import Foundation
import Synchronization
import TopiaryArtifacts
import TopiaryCore
import TopiaryStore

/// An HTTP answer, before any server sends it.
public struct DashboardResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Extra headers (e.g. `Content-Disposition` for downloads).
    public var headers: [(String, String)] = []

    static func html(_ text: String, status: Int = 200) -> DashboardResponse {
        DashboardResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
    }

    static func json(_ value: JSONValue) -> DashboardResponse {
        DashboardResponse(status: 200, contentType: "application/json", body: Array(value.text().utf8))
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A page that cannot be shown: 404 for what does not exist, 400 for a bad parameter.
struct DashboardError: Error {
    var status: Int
    var message: String
}

/// The web dashboard's pages, from the store alone (read-only, safe while a daemon writes):
/// searches with live progress, per search the best-so-far curve, the Pareto front per
/// target, parameter importance and the trial table; per trial its learning curve; per
/// candidate its layers, cost, predicted latency, metrics, model card and files. The HTTP
/// server (`topiary dashboard`) only hands paths and queries to `respond`.
public final class Dashboard: Sendable {
    let store: Store
    /// Results read for the parameter-importance table, at most (a sample by candidate id).
    let importanceSample: Int
    /// Candidates' flattened choices by id: a candidate never changes, so each is parsed once.
    let choices = ChoiceCache()
    /// Where uploaded artifacts are (nil: beside the database).
    let artifacts: ArtifactDirectory?

    public init(store: Store, importanceSample: Int = 2_000, artifacts: ArtifactDirectory? = nil) {
        self.store = store
        self.importanceSample = importanceSample
        self.artifacts = artifacts
    }

    /// The answer to `GET path?query`.
    public func respond(path: String, query: [String: String]) -> DashboardResponse {
        let parts = path.split(separator: "/").map(String.init)
        do {
            switch parts.first {
            case nil: return .html(try SearchesPage(store: store).render())
            case "static":
                guard parts.count == 2, let asset = Assets.files[parts[1]] else { throw DashboardError(status: 404, message: "no such file") }
                return DashboardResponse(status: 200, contentType: asset.type, body: Array(asset.text.utf8),
                                         headers: [("Cache-Control", "max-age=60")])
            case "search":
                guard parts.count >= 2, let id = Int64(parts[1]) else { throw DashboardError(status: 404, message: "no such search") }
                let page = try SearchPage(store: store, id: id, query: query, importanceSample: importanceSample, choices: choices)
                if parts.count == 3 {
                    switch parts[2] {
                    case "plots": return .html(try page.plots())
                    case "importance": return .html(try page.importance())
                    case "trials": return .html(try page.trialTable())
                    default: throw DashboardError(status: 404, message: "no such page")
                    }
                }
                guard parts.count == 2 else { throw DashboardError(status: 404, message: "no such page") }
                return .html(try page.render())
            case "trial":
                guard parts.count == 2, let id = Int64(parts[1]) else { throw DashboardError(status: 404, message: "no such trial") }
                return .html(try TrialPage(store: store, id: id).render())
            case "candidate":
                guard parts.count >= 2 else { throw DashboardError(status: 404, message: "no such candidate") }
                let page = try CandidatePage(store: store, id: parts[1], query: query, artifacts: artifacts)
                if parts.count == 4 && parts[2] == "file" { return try page.file(parts[3]) }
                guard parts.count == 2 else { throw DashboardError(status: 404, message: "no such page") }
                return .html(page.render())
            case "api":
                return .json(try api(Array(parts.dropFirst()), query: query))
            default:
                throw DashboardError(status: 404, message: "no such page")
            }
        } catch let e as DashboardError {
            return .html(HTML.page(title: "error", body: "<p class=\"error\">\(HTML.escape(e.message))</p><p><a href=\"/\">all searches</a></p>"), status: e.status)
        } catch {
            return .html(HTML.page(title: "error", body: "<p class=\"error\">\(HTML.escape("\(error)"))</p>"), status: 500)
        }
    }

    /// `/api/searches`, `/api/search/ID`, `/api/search/ID/pareto`.
    func api(_ parts: [String], query: [String: String]) throws -> JSONValue {
        switch parts.first {
        case "searches":
            return .array(try store.searches().map { try SearchStatus.read(store, $0).json })
        case "search":
            guard parts.count >= 2, let id = Int64(parts[1]), let rec = try store.search(id) else {
                throw DashboardError(status: 404, message: "no such search")
            }
            if parts.count == 3 && parts[2] == "pareto" {
                let page = try SearchPage(store: store, id: id, query: query, importanceSample: importanceSample, choices: choices)
                return .array(try page.paretoEntries().map { e in
                    .object([("candidate_id", .string(e.candidateID)), ("accuracy", e.accuracy.map { .double($0) } ?? .null),
                             ("x", page.axisValue(e).map { .double($0) } ?? .null)])
                })
            }
            return try SearchStatus.read(store, rec).json
        default:
            throw DashboardError(status: 404, message: "no such API")
        }
    }

    /// `/api/search/ID?since=N`: answers when the number of ended trials differs from `since`
    /// or the search is no longer active, else after `timeout` seconds — the live page
    /// waits here instead of polling.
    public func waitForChange(search id: Int64, since: Int, timeout: Double) async -> DashboardResponse {
        let until = Date().addingTimeInterval(min(max(timeout, 0), 30))
        while true {
            do {
                guard let rec = try store.search(id) else { return respond(path: "/api/search/\(id)", query: [:]) }
                let status = try SearchStatus.read(store, rec)
                if status.ended != since || rec.state != .active || Date() >= until { return .json(status.json) }
            } catch {
                return respond(path: "/api/search/\(id)", query: [:])
            }
            try? await Task.sleep(nanoseconds: 250_000_000)
        }
    }
}

/// Flattened choices of candidates by id (`FlatChoices`), bounded (cleared when full).
final class ChoiceCache: Sendable {
    private let table = Mutex<[String: [String: String]]>([:])
    static let capacity = 200_000

    /// The choices of these candidates, parsing only those not seen before.
    func choices(_ ids: [String], store: Store) throws -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var missing: [String] = []
        table.withLock { t in
            for id in ids { if let c = t[id] { out[id] = c } else { missing.append(id) } }
        }
        guard !missing.isEmpty else { return out }
        var parsed: [String: [String: String]] = [:]
        for (id, text) in try store.candidateJSON(missing) {
            if let v = try? JSONText.parse(text) { parsed[id] = FlatChoices.of(v) }
        }
        table.withLock { t in
            if t.count + parsed.count > Self.capacity { t.removeAll() }
            t.merge(parsed) { a, _ in a }
        }
        return out.merging(parsed) { a, _ in a }
    }
}

/// A search's progress as the pages and the live updates show it.
struct SearchStatus {
    var record: SearchRecord
    var counts: [TrialState: Int]
    var best: LeaderboardEntry?

    static func read(_ store: Store, _ rec: SearchRecord) throws -> SearchStatus {
        SearchStatus(record: rec, counts: try store.trialCounts(search: rec.id!),
                     best: try store.leaderboard(LeaderboardQuery(search: rec.id!, limit: 1)).first)
    }

    var ended: Int { [TrialState.completed, .failed, .pruned, .cancelled].reduce(0) { $0 + (counts[$1] ?? 0) } }
    var total: Int { counts.values.reduce(0, +) }

    var json: JSONValue {
        .object([
            ("search", .int(Int(record.id!))), ("space", .string(record.spaceName)), ("target", .string(record.target)),
            ("strategy", .string(record.strategy)), ("state", .string(record.state.rawValue)),
            ("budget", record.budget.map { .int($0) } ?? .null), ("ended", .int(ended)), ("trials", .int(total)),
            ("counts", .object(TrialState.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })),
            ("best_accuracy", best?.accuracy.map { .double($0) } ?? .null),
            ("best_candidate", best.map { .string($0.candidateID) } ?? .null),
        ])
    }

    /// The progress bar and counts, updated in place by the live page.
    var progressHTML: String {
        let budget = max(record.budget ?? total, 1)
        let pct = min(100, Double(ended) * 100 / Double(budget))
        var out = "<div class=\"progress\"><div class=\"bar\" style=\"width:\(String(format: "%.1f", pct))%\"></div></div>"
        out += "<p class=\"counts\"><span class=\"ended\">\(ended)</span> of \(record.budget.map(String.init) ?? "?") ended · "
        out += TrialState.allCases.map { "<span class=\"count-\($0.rawValue)\">\(counts[$0] ?? 0)</span> \($0.rawValue)" }.joined(separator: " · ")
        out += " · state <span class=\"state\">\(record.state.rawValue)</span>"
        out += " · best <span class=\"best\">\(HTML.number(best?.accuracy))</span></p>"
        return out
    }
}
