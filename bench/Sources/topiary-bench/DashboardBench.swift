import Foundation
import Logging
import TopiaryCore
import TopiaryDashboard
import TopiaryHardware
import TopiaryStore

/// Server time of the dashboard's pages on one search of 100,000 trials (default): each page
/// rendered in this process as `topiary dashboard` renders it (no HTTP), min and median over
/// repeats, beside the plain store reads a page builds on (trial counts and the top 10).
/// Prints figures; asserts nothing.
enum DashboardBench {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(_ args: [String]) throws {
        var trials = 100_000, repeats = 7
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--trials": guard let v = it.next().flatMap(Int.init), v >= 10 else { throw Failure(description: "--trials needs a number >= 10") }; trials = v
            case "--repeats": guard let v = it.next().flatMap(Int.init), v >= 1 else { throw Failure(description: "--repeats needs a positive number") }; repeats = v
            default: throw Failure(description: "unknown option \(a); use --trials N --repeats R")
            }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path)
        guard let targetYAML = BuiltinTargets.files["raspberry-pi-4.yaml"] else { throw Failure(description: "no built-in raspberry-pi-4") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-dashboard-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bench.sqlite").path
        let quiet = Logger(label: "topiary.dashboard.bench", factory: { _ in SwiftLogNoOpLogHandler() })

        // One search: `trials` trials, 90% completed, 5% failed, the rest queued; predicted
        // latencies on the target; progress reports for every 100th trial.
        var clock = ContinuousClock.now
        let store = try Store(path: path, durability: .normal, logger: quiet)
        let search = try store.createSearch(NewSearch(space: space, target: "raspberry-pi-4", strategy: "evolution",
                                                      strategySettings: .object([("target_yaml", .string(targetYAML))]),
                                                      objectives: ["accuracy:max"], seed: 1)).id!
        var rng = SeededGenerator(seed: 7)
        var seen = Set<String>()
        var requests: [TrialRequest] = []
        while requests.count < trials {
            let c = space.sample(using: &rng)
            if seen.insert(c.id).inserted { requests.append(TrialRequest(candidate: CandidateRecord(c, in: space), fidelity: 1)) }
        }
        for start in stride(from: 0, to: requests.count, by: 2_000) {
            let chunk = Array(requests[start..<min(start + 2_000, requests.count)])
            _ = try store.enqueue(search: search, chunk)
            try store.recordMeasurements(chunk.map { r in
                MeasurementRecord(candidateID: r.candidate.id, target: "raspberry-pi-4", source: .predicted,
                                  latencyMs: 0.05 + Double(r.candidate.macs) / 8e5, recordedBy: "model", recordedAt: Date())
            })
        }
        let maxMACs = log(Double(requests.map(\.candidate.macs).max() ?? 2))
        let macs = Dictionary(uniqueKeysWithValues: requests.map { ($0.candidate.id, $0.candidate.macs) })
        var ended = 0
        while ended < trials * 95 / 100 {
            let claimed = try store.claim(limit: 2_000, worker: "bench-\(ended / 2_000 % 8)")
            if claimed.isEmpty { break }
            var results: [TrialResult] = []
            var failures: [(Int64, Int)] = []
            var progress: [TrialProgress] = []
            for t in claimed {
                ended += 1
                if ended % 19 == 0 {
                    failures.append((t.trialID, t.attempt))
                    continue
                }
                let acc = 100 * min(0.97, 0.55 + 0.35 * log(Double(max(macs[t.candidateID] ?? 1, 1))) / maxMACs + 0.04 * (rng.unit() - 0.5))
                results.append(TrialResult(trial: t.trialID, attempt: t.attempt, metrics: .object([("accuracy", .double(acc))])))
                if t.trialID % 100 == 0 {
                    for step in 1...10 { progress.append(TrialProgress(trial: t.trialID, attempt: t.attempt, step: step, metrics: .object([("accuracy", .double(acc * Double(step) / 10))]))) }
                }
            }
            _ = try store.recordProgress(progress)
            _ = try store.recordResults(results)
            for f in failures { _ = try store.recordFailure(trial: f.0, attempt: f.1, error: "trainer exited with status 1") }
        }
        print("dashboard benchmark: one search of \(Format.grouped(trials)) trials (\(Format.grouped(ended)) ended) prepared in "
              + String(format: "%.1f s", seconds(ContinuousClock.now - clock)) + "; server time per page, \(repeats) repeats")

        let reader = try Store(path: path, mode: .readOnly, logger: quiet)
        let dashboard = Dashboard(store: reader)
        let best = try reader.leaderboard(LeaderboardQuery(search: search, limit: 1)).first!
        let trial = (try reader.trials(search: search, state: .completed, limit: 1, offset: 99)).first!.trialID / 100 * 100
        let pages: [(String, String, [String: String])] = [
            ("searches", "/", [:]),
            ("search", "/search/\(search)", [:]),
            ("search, sorted by accuracy", "/search/\(search)", ["sort": "accuracy", "order": "desc"]),
            ("search, filtered, page 20", "/search/\(search)", ["state": "completed", "max_params": "200000", "page": "20"]),
            ("search, Pareto against size", "/search/\(search)", ["axis": "size"]),
            ("  its plots (live reload)", "/search/\(search)/plots", [:]),
            ("  its parameter importance", "/search/\(search)/importance", [:]),
            ("  its trial table", "/search/\(search)/trials", [:]),
            ("status (live)", "/api/search/\(search)", [:]),
            ("trial with learning curve", "/trial/\(trial)", [:]),
            ("candidate", "/candidate/\(best.candidateID)", ["search": String(search)]),
        ]
        print("page".padding(toLength: 36, withPad: " ", startingAt: 0) + "   min ms  median ms    KiB")
        func time(_ label: String, _ kib: Int?, _ body: () throws -> Void) rethrows {
            var wall: [Double] = []
            for _ in 0..<repeats {
                clock = .now
                try body()
                wall.append(seconds(ContinuousClock.now - clock) * 1000)
            }
            wall.sort()
            print(label.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + String(format: "%9.1f %10.1f %6@", wall[0], wall[wall.count / 2], kib.map { String($0) } ?? "-"))
        }
        for (label, path, query) in pages {
            let r = dashboard.respond(path: path, query: query)
            guard r.status == 200 else { throw Failure(description: "\(path) answered \(r.status): \(r.text.prefix(300))") }
            time(label, r.body.count / 1024) { _ = dashboard.respond(path: path, query: query) }
        }
        print("parts:")
        var ids: [String] = []
        try time("  leaderboard top 4000", nil) { ids = try reader.leaderboard(LeaderboardQuery(search: search, target: "raspberry-pi-4", limit: 4_000)).map(\.candidateID) }
        var texts: [String: String] = [:]
        try time("  candidate JSON of 4000", nil) { texts = try reader.candidateJSON(ids) }
        try time("  parse + flatten 4000", nil) { for t in texts.values { _ = FlatChoices.of(try JSONText.parse(t)) } }
        try time("  completed in order", nil) { _ = try reader.completedInOrder(search: search) }
        try time("  trial table page", nil) { _ = try reader.trialTable(TrialTableQuery(search: search)) }
        print("baseline (plain store reads):")
        try time("  trial counts + top 10", nil) {
            _ = try reader.trialCounts(search: search)
            _ = try reader.leaderboard(LeaderboardQuery(search: search, limit: 10))
        }
        try time("  Pareto front (accuracy, latency)", nil) {
            _ = try reader.paretoFront(LeaderboardQuery(search: search, target: "raspberry-pi-4"), objectives: [.accuracy, .latency])
        }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
