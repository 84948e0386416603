import ArgumentParser
import Foundation
import TopiaryCoordinator
import TopiaryCore
import TopiaryStore

struct LeaderboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard",
        abstract: "Rank trained candidates: the top K under constraints, or the Pareto front.",
        discussion: """
            Each candidate appears once, with its best result: the highest fidelity it was trained at, then the \
            highest accuracy. Latency is on --target: measured where a worker timed it, else predicted; ranking \
            for another target re-uses the same results. Sizes are in KiB (1024 bytes).
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: "Rank one search's results (default: all searches).") var search: Int64?
    @Option(help: "Hardware target for latency figures and constraints.") var target: String?
    @Option(help: "How many candidates to list (default 10; with --pareto, the whole front).") var top: Int?
    @Option(help: ArgumentHelp("What to rank by: \(Objective.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "objective"))
    var by: String = "accuracy"
    @Option(help: "Latency limit on --target, in milliseconds.") var maxLatencyMs: Double?
    @Option(help: "Model size limit, in KiB.") var maxSizeKb: Double?
    @Option(help: "Peak activation memory limit, in KiB.") var maxMemoryKb: Double?
    @Option(help: "Lowest accuracy to list.") var minAccuracy: Double?
    @Option(help: "Only results at least this fidelity (e.g. epochs).") var minFidelity: Double?
    @Option(help: ArgumentHelp("Only these weight bit widths, e.g. 8 or 4,8.", valueName: "bits")) var weightBits: String?
    @Option(help: ArgumentHelp("Only these activation bit widths, e.g. 8.", valueName: "bits")) var activationBits: String?
    @Option(help: ArgumentHelp("Only these pruning methods: none, magnitude, channel (comma-separated).", valueName: "methods"))
    var pruning: String?
    @Flag(help: "List the Pareto front instead of the top K.") var pareto = false
    @Option(help: ArgumentHelp("Pareto objectives, comma-separated (default accuracy,latency,size with --target, else accuracy,size).",
                               valueName: "list"))
    var objectives: String?
    @Option(help: "Output format: table, json or csv.") var format: OutputFormat = .table

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
        for (flag, v) in [("--max-latency-ms", maxLatencyMs), ("--max-size-kb", maxSizeKb), ("--max-memory-kb", maxMemoryKb),
                          ("--min-fidelity", minFidelity)] {
            if let v, !(v.isFinite && v >= 0) { throw ValidationError("\(flag) must be a non-negative number, got \(v)") }
        }
        if let minAccuracy, !minAccuracy.isFinite { throw ValidationError("--min-accuracy must be a number") }
        _ = try query()
        _ = try paretoObjectives()
        if maxLatencyMs != nil && target == nil { throw ValidationError("--max-latency-ms needs --target (latency depends on the hardware)") }
        if !pareto && objectives != nil { throw ValidationError("--objectives applies only with --pareto") }
    }

    func query() throws -> LeaderboardQuery {
        guard let order = Objective(rawValue: by) else {
            throw ValidationError("--by: unknown objective '\(by)' (one of \(Objective.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if order == .latency && target == nil { throw ValidationError("--by latency needs --target") }
        var q = LeaderboardQuery(search: search, target: target, orderBy: order, limit: top ?? 10)
        q.maxLatencyMs = maxLatencyMs
        q.maxSizeBytes = maxSizeKb.map { Int(($0 * 1024).rounded(.down)) }
        q.maxPeakActivationBytes = maxMemoryKb.map { Int(($0 * 1024).rounded(.down)) }
        q.minAccuracy = minAccuracy
        q.minFidelity = minFidelity
        q.weightBits = try weightBits.map { try Self.bits($0, flag: "--weight-bits") }
        q.activationBits = try activationBits.map { try Self.bits($0, flag: "--activation-bits") }
        if let pruning {
            let methods = Self.list(pruning)
            let known = CompressionConfig.PruningMethod.allCases.map(\.rawValue)
            if let bad = methods.first(where: { !known.contains($0) }) {
                throw ValidationError("--pruning: unknown method '\(bad)' (one of \(known.joined(separator: ", ")))")
            }
            q.pruningMethods = Set(methods)
        }
        return q
    }

    func paretoObjectives() throws -> [Objective] {
        guard let objectives else { return target == nil ? [.accuracy, .size] : [.accuracy, .latency, .size] }
        let names = Self.list(objectives)
        let parsed = try names.map { n in
            guard let o = Objective(rawValue: n) else {
                throw ValidationError("--objectives: unknown objective '\(n)' (one of \(Objective.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return o
        }
        if parsed.isEmpty { throw ValidationError("--objectives: name at least one objective") }
        if Set(parsed).count != parsed.count { throw ValidationError("--objectives: each objective may appear once") }
        if parsed.contains(.latency) && target == nil { throw ValidationError("--objectives latency needs --target") }
        return parsed
    }

    static func list(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func bits(_ s: String, flag: String) throws -> Set<Int> {
        let parts = list(s)
        if parts.isEmpty { throw ValidationError("\(flag): give bit widths, e.g. 8 or 4,8") }
        return Set(try parts.map { p in
            guard let b = Int(p), (1...32).contains(b) else { throw ValidationError("\(flag): '\(p)' is not a bit width between 1 and 32") }
            return b
        })
    }

    func run() async throws {
        let db = try store.openForReading()
        let q = try query()
        if let search, try mappingStoreErrors({ try db.search(search) }) == nil {
            let known = try mappingStoreErrors { try db.searches() }.compactMap(\.id)
            throw InputError("--search \(search): no such search in \(store.db)"
                             + (known.isEmpty ? " (it has no searches yet)" : " (searches: \(known.map(String.init).joined(separator: ", ")))"))
        }
        if let target {
            let targets = try mappingStoreErrors { try db.latencyTargets() }.map(\.target)
            if !targets.contains(target) {
                throw InputError("--target \(target): no latency figures for this target in \(store.db)"
                                 + (targets.isEmpty ? " (none recorded yet)" : " (targets with figures: \(targets.joined(separator: ", ")))"))
            }
        }
        var entries: [LeaderboardEntry]
        let objectives = pareto ? try paretoObjectives() : [q.orderBy]
        if pareto {
            entries = try mappingStoreErrors { try db.paretoFront(q, objectives: objectives) }
            if let top { entries = Array(entries.prefix(top)) }
        } else {
            entries = try mappingStoreErrors { try db.leaderboard(q) }
        }
        // JSON and CSV carry each candidate's choices: what to build is in the output.
        let choices = format == .table ? [:] : try mappingStoreErrors { try db.choices(of: entries) }
        switch format {
        case .json: print(Self.json(entries, choices: choices).text(pretty: true))
        case .csv: Self.printCSV(entries, choices: choices)
        case .table:
            print(describe(q, objectives: objectives))
            if entries.isEmpty {
                print("no candidate meets these constraints")
            } else {
                print(Self.table(entries, target: target).render())
            }
            // The strategy's own answer can differ from the best observed result (it discounts
            // a lucky evaluation): say which it is.
            if let search, let rec = try? Recommendation.candidate(store: db, search: search) {
                let rank = entries.first { $0.candidateID == rec }.map { " (#\($0.rank) above)" } ?? ""
                print("recommended by search \(search)'s strategy: \(rec)\(rank)")
            }
        }
    }

    /// One line saying what the table shows.
    func describe(_ q: LeaderboardQuery, objectives: [Objective]) -> String {
        var parts: [String] = []
        parts.append(pareto ? "Pareto front over \(objectives.map(\.rawValue).joined(separator: ", "))" : "top \(q.limit) by \(q.orderBy)")
        parts.append(q.search.map { "search \($0)" } ?? "all searches")
        if let t = q.target { parts.append("target \(t)") }
        if let v = q.maxLatencyMs { parts.append("latency <= \(v.shortText) ms") }
        if let v = maxSizeKb { parts.append("size <= \(v.shortText) KiB") }
        if let v = maxMemoryKb { parts.append("peak memory <= \(v.shortText) KiB") }
        if let v = q.minAccuracy { parts.append("accuracy >= \(v.shortText)") }
        if let v = q.minFidelity { parts.append("fidelity >= \(v.shortText)") }
        if let s = q.weightBits { parts.append("weights \(s.sorted().map { "\($0)-bit" }.joined(separator: "/"))") }
        if let s = q.activationBits { parts.append("activations \(s.sorted().map { "\($0)-bit" }.joined(separator: "/"))") }
        if let s = q.pruningMethods { parts.append("pruning \(s.sorted().joined(separator: "/"))") }
        return parts.joined(separator: ", ")
    }

    static func number(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "-" }

    static func table(_ entries: [LeaderboardEntry], target: String?) -> TextTable {
        var headers = ["#", "candidate", "search", "trial", "fidelity", "accuracy", "figures"]
        if target != nil { headers += ["latency ms", "predicted", "measured"] }
        headers += ["size", "peak mem", "MACs", "compression"]
        var t = TextTable(headers)
        for e in entries {
            var row = [String(e.rank), e.candidateID, String(e.searchID), String(e.trialID),
                       e.fidelity.shortText, number(e.accuracy, "%.4f"), e.isFinal ? "final" : "search"]
            if target != nil { row += [number(e.latencyMs, "%.3f"), number(e.predictedMs, "%.3f"), number(e.measuredMs, "%.3f")] }
            row += [Format.bytes(e.sizeBytes), Format.bytes(e.peakActivationBytes), Format.count(e.macs), e.compressionSummary]
            t.add(row)
        }
        t.rightAligned = Set(0..<(headers.count - 1)).subtracting([1, 6])
        return t
    }

    static let csvHeader = ["rank", "candidate_id", "search_id", "trial_id", "fidelity", "accuracy", "target", "latency_ms",
                            "predicted_ms", "measured_ms", "size_bytes", "peak_activation_bytes", "macs", "params",
                            "weight_bits", "activation_bits", "pruning_method", "compression", "final"]

    /// The CSV has a column per choice (`arch.s1.width`, `compression.pruning.method`),
    /// over every candidate listed (empty where a candidate's space lacks it).
    static func printCSV(_ entries: [LeaderboardEntry], choices: [String: JSONValue]) {
        let flat = choices.mapValues(FlatChoices.of)
        let columns = Set(flat.values.flatMap(\.keys)).sorted { a, b in
            (a.hasPrefix("arch.") ? 0 : 1, a) < (b.hasPrefix("arch.") ? 0 : 1, b)
        }
        print(CSV.line(csvHeader + columns))
        func d(_ v: Double?) -> String { v.map { $0.shortText } ?? "" }
        for e in entries {
            let f = flat[e.candidateID] ?? [:]
            print(CSV.line([String(e.rank), e.candidateID, String(e.searchID), String(e.trialID), d(e.fidelity), d(e.accuracy),
                            e.target ?? "", d(e.latencyMs), d(e.predictedMs), d(e.measuredMs), String(e.sizeBytes),
                            String(e.peakActivationBytes), String(e.macs), String(e.params), String(e.weightBits),
                            String(e.activationBits), e.pruningMethod, e.compressionSummary, e.isFinal ? "true" : "false"] + columns.map { f[$0] ?? "" }))
        }
    }

    static func json(_ entries: [LeaderboardEntry], choices: [String: JSONValue] = [:]) -> JSONValue {
        .array(entries.map { $0.json(choices: choices[$0.candidateID]) })
    }
}
