import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryStore

struct TrialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trials",
        abstract: "List a search's trials with their state, attempt, worker, timings and results.")

    @OptionGroup var store: StoreOptions
    @Option(help: "The search whose trials to list.") var search: Int64
    @Option(help: ArgumentHelp("Only trials in this state: \(TrialState.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "state"))
    var state: String?
    @Option(help: "How many trials to list (0 for all).") var limit = 50
    @Option(help: "Skip this many trials first.") var offset = 0
    @Option(help: "Output format: table, json or csv.") var format: OutputFormat = .table

    func validate() throws {
        if let state, TrialState(rawValue: state) == nil {
            throw ValidationError("--state: unknown state '\(state)' (one of \(TrialState.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard offset >= 0 else { throw ValidationError("--offset must not be negative") }
    }

    func run() async throws {
        let db = try store.openForReading()
        guard let s = try mappingStoreErrors({ try db.search(search) }) else {
            throw InputError("--search \(search): no such search in \(store.db)")
        }
        let wanted = state.flatMap(TrialState.init(rawValue:))
        let trials = try mappingStoreErrors {
            try db.trials(search: search, state: wanted, limit: limit == 0 ? nil : limit, offset: offset)
        }
        let counts = try mappingStoreErrors { try db.trialCounts(search: search) }
        switch format {
        case .json:
            print(JSONValue.array(trials.map(Self.json)).text(pretty: true))
        case .csv:
            print(CSV.line(["id", "candidate_id", "kind", "fidelity", "state", "attempt", "worker", "queued_at", "started_at",
                            "finished_at", "accuracy", "error"]))
            for t in trials {
                let started: String = t.startedAt.map(Self.iso) ?? ""
                let finished: String = t.finishedAt.map(Self.iso) ?? ""
                let accuracy: String = t.accuracy.map { $0.shortText } ?? ""
                let fields: [String] = [String(t.trialID), t.candidateID, t.kind.rawValue, t.fidelity.shortText, t.state.rawValue,
                                        String(t.attempt), t.workerID ?? "", Self.iso(t.queuedAt), started, finished, accuracy, t.error ?? ""]
                print(CSV.line(fields))
            }
        case .table:
            print("search \(search): \(s.spaceName) for \(s.target), \(s.strategy), \(s.state)")
            let summary = TrialState.allCases.compactMap { st in counts[st].map { "\(Format.grouped($0)) \(st)" } }
            print("trials: " + (summary.isEmpty ? "none" : summary.joined(separator: ", ")))
            if trials.isEmpty { return }
            var table = TextTable(["id", "candidate", "kind", "fidelity", "state", "attempt", "worker", "queued", "took", "accuracy", "error"])
            for t in trials {
                var took = "-"
                if let start = t.startedAt, let end = t.finishedAt { took = Self.duration(end.timeIntervalSince(start)) }
                let error = (t.error ?? "").replacingOccurrences(of: "\n", with: " ")
                let shortError = error.count > 60 ? String(error.prefix(57)) + "..." : error
                let accuracy = t.accuracy.map { String(format: "%.4f", $0) } ?? "-"
                table.add([String(t.trialID), t.candidateID, t.kind.rawValue, t.fidelity.shortText, t.state.rawValue,
                           String(t.attempt), t.workerID ?? "-", Self.time(t.queuedAt), took, accuracy, shortError])
            }
            table.rightAligned = [0, 3, 5, 8, 9]
            print(table.render())
            let total = wanted.map { counts[$0] ?? 0 } ?? counts.values.reduce(0, +)
            if offset + trials.count < total {
                print("showing \(offset + 1)-\(offset + trials.count) of \(Format.grouped(total)); use --limit and --offset for more")
            }
        }
    }

    static func json(_ t: TrialRecord) -> JSONValue {
        .object([
            ("id", .int(Int(t.trialID))), ("candidate_id", .string(t.candidateID)), ("kind", .string(t.kind.rawValue)),
            ("fidelity", .double(t.fidelity)), ("state", .string(t.state.rawValue)), ("attempt", .int(t.attempt)),
            ("worker", t.workerID.map { .string($0) } ?? .null), ("queued_at", .string(iso(t.queuedAt))),
            ("started_at", t.startedAt.map { .string(iso($0)) } ?? .null),
            ("finished_at", t.finishedAt.map { .string(iso($0)) } ?? .null),
            ("accuracy", t.accuracy.map { .double($0) } ?? .null),
            ("metrics", t.metrics.flatMap { try? JSONText.parse($0) } ?? .null),
            ("error", t.error.map { .string($0) } ?? .null),
        ])
    }

    static func iso(_ d: Date) -> String { d.formatted(.iso8601) }

    static func time(_ d: Date) -> String {
        String(iso(d).replacingOccurrences(of: "T", with: " ").dropLast())   // 2026-01-31 12:00:00, UTC
    }

    static func duration(_ s: TimeInterval) -> String {
        if s < 60 { return String(format: "%.1fs", s) }
        if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
    }
}
