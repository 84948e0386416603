import Foundation
import Logging
import TopiaryCore
import TopiaryStore

/// Fills a database the way the coordinator will (batched enqueue with predicted latencies,
/// claim + batched results, then figures for the other targets), then times leaderboard
/// and Pareto queries. Prints figures; asserts nothing.
enum StoreBench {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(_ args: [String]) throws {
        var trials = 1_000_000, candidates = 100_000, searches = 4, batch = 1000, repeats = 15
        var path: String?
        var keep = false, reuse = false
        var it = args.makeIterator()
        func int(_ flag: String) throws -> Int {
            guard let v = it.next().flatMap(Int.init), v > 0 else { throw Failure(description: "\(flag) needs a positive whole number") }
            return v
        }
        while let a = it.next() {
            switch a {
            case "--trials": trials = try int(a)
            case "--candidates": candidates = try int(a)
            case "--searches": searches = try int(a)
            case "--batch": batch = try int(a)
            case "--repeats": repeats = try int(a)
            case "--db": path = it.next(); keep = true
            case "--reuse": reuse = true
            default:
                throw Failure(description: "unknown option \(a); use --trials N --candidates M --searches S --batch B --repeats R --db PATH [--reuse]")
            }
        }
        guard trials >= candidates else { throw Failure(description: "--trials must be at least --candidates") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-store-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let dbPath = path ?? dir.appendingPathComponent("bench.sqlite").path
        defer { try? FileManager.default.removeItem(at: dir) }
        let exists = FileManager.default.fileExists(atPath: dbPath)
        if exists && !reuse { throw Failure(description: "\(dbPath) exists; the benchmark fills a new database (--reuse times queries on it)") }
        if !exists && reuse { throw Failure(description: "--reuse needs --db naming a database an earlier run kept") }
        let targets = [Target(name: "cpu-x86", macsPerMs: 4e6), Target(name: "arm-a72", macsPerMs: 8e5),
                       Target(name: "jetson-gpu", macsPerMs: 1.2e7), Target(name: "mcu-m7", macsPerMs: 6e4)]

        print("store benchmark: \(grouped(trials)) trials over \(grouped(candidates)) candidates, \(searches) searches, "
              + "\(targets.count) targets, batches of \(grouped(batch))")

        // Candidates from the real space with their real costs (not timed: that is Core's work).
        var clock = ContinuousClock.now
        var rng = SeededGenerator(seed: 42)
        var seen = Set<String>()
        var pool: [CandidateRecord] = []
        pool.reserveCapacity(candidates)
        while pool.count < candidates {
            let c = space.sample(using: &rng)
            if seen.insert(c.id).inserted { pool.append(CandidateRecord(c, in: space)) }
        }
        print("prepared \(grouped(candidates)) candidates (sampled and costed) in \(seconds(since: clock)); not part of the timings")

        let quiet = Logger(label: "topiary.store.bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let store = try Store(path: dbPath, durability: .full, logger: quiet)
        let searchIDs = reuse ? try store.searches().compactMap(\.id) : try (0..<searches).map { s in
            try store.createSearch(NewSearch(space: space, target: targets[s % targets.count].name, strategy: "asha",
                                             objectives: ["accuracy:max", "latency:min"], seed: UInt64(s))).id!
        }

        if !reuse {
            // Enqueue: each candidate goes to two searches with a fidelity ladder; a batch is one
            // search's trials, sent with the predicted latencies of its new candidates.
            let perCandidate = trials / candidates
            let fidelities: [Double] = [1, 3, 9, 27]
            var plan: [[TrialRequest]] = Array(repeating: [], count: searches)
            var planned = 0
            for (i, c) in pool.enumerated() {
                let extra = i < trials % candidates ? 1 : 0
                for k in 0..<(perCandidate + extra) {
                    let s = (i + k % 2) % searches
                    plan[s].append(TrialRequest(candidate: c, fidelity: fidelities[min(k / 2, fidelities.count - 1)]))
                    planned += 1
                }
            }
            var predicted = 0
            var predictedFor: [Set<String>] = Array(repeating: [], count: searches)
            clock = .now
            var cpu = cpuMilliseconds()
            for s in 0..<searches {
                let target = targets[s % targets.count]
                var start = 0
                while start < plan[s].count {
                    let chunk = Array(plan[s][start..<min(start + batch, plan[s].count)])
                    start += chunk.count
                    _ = try store.enqueue(search: searchIDs[s], chunk)
                    var figures: [MeasurementRecord] = []
                    for r in chunk where predictedFor[s].insert(r.candidate.id).inserted {
                        figures.append(MeasurementRecord(candidateID: r.candidate.id, target: target.name, source: .predicted,
                                                         latencyMs: target.predict(r.candidate), recordedBy: "model", recordedAt: Date()))
                    }
                    try store.recordMeasurements(figures)
                    predicted += figures.count
                }
            }
            let enqueueTime = ContinuousClock.now - clock
            print("enqueue   \(grouped(planned)) trials + \(grouped(predicted)) predicted latencies in \(fmt(enqueueTime)): "
                  + "\(grouped(rate(planned, enqueueTime))) trials/s (cpu \(cpuSeconds(since: &cpu)))")

            // Run: claim a batch, report its results in one transaction, as the store writer will.
            let byID = Dictionary(uniqueKeysWithValues: pool.map { ($0.id, $0) })
            let maxMACs = Double(pool.map(\.macs).max() ?? 1)
            var done = 0
            var claimTime = Duration.zero, resultTime = Duration.zero
            clock = .now
            cpu = cpuMilliseconds()
            while true {
                let claimStart = ContinuousClock.now
                let claimed = try store.claim(limit: batch, worker: "bench-\(done / batch % 16)")
                claimTime += ContinuousClock.now - claimStart
                if claimed.isEmpty { break }
                let results = claimed.map { t in
                    TrialResult(trial: t.trialID, attempt: t.attempt,
                                metrics: .object([("accuracy", .double(accuracy(byID[t.candidateID]!, fidelity: t.fidelity, maxMACs: maxMACs, &rng))),
                                                  ("loss", .double(rng.unit()))]))
                }
                let resultStart = ContinuousClock.now
                _ = try store.recordResults(results)
                resultTime += ContinuousClock.now - resultStart
                done += claimed.count
            }
            let runTime = ContinuousClock.now - clock
            print("run       \(grouped(done)) trials claimed and completed in \(fmt(runTime)): \(grouped(rate(done, runTime))) results/s "
                  + "(claim \(fmt(claimTime)), results \(fmt(resultTime)); cpu \(cpuSeconds(since: &cpu)) including the bench's own work)")

            // Figures for every target, so any target can be ranked: predictions for the targets
            // a candidate lacks, and measurements for 10% of candidates on each target.
            clock = .now
            cpu = cpuMilliseconds()
            var figures = 0
            for target in targets {
                var chunk: [MeasurementRecord] = []
                for (i, c) in pool.enumerated() {
                    let searchesOfC = [i % searches, (i + 1) % searches]
                    if !searchesOfC.contains(where: { targets[$0 % targets.count].name == target.name }) {
                        chunk.append(MeasurementRecord(candidateID: c.id, target: target.name, source: .predicted,
                                                       latencyMs: target.predict(c), recordedBy: "model", recordedAt: Date()))
                    }
                    if i % 10 == 0 {
                        chunk.append(MeasurementRecord(candidateID: c.id, target: target.name, source: .measured,
                                                       latencyMs: target.predict(c) * (0.9 + 0.2 * rng.unit()), recordedBy: "worker", recordedAt: Date()))
                    }
                    if chunk.count >= batch {
                        try store.recordMeasurements(chunk)
                        figures += chunk.count
                        chunk = []
                    }
                }
                try store.recordMeasurements(chunk)
                figures += chunk.count
            }
            let figureTime = ContinuousClock.now - clock
            print("figures   \(grouped(figures)) latency figures in \(fmt(figureTime)): \(grouped(rate(figures, figureTime))) figures/s (cpu \(cpuSeconds(since: &cpu)))")
        }
        let check = try Store.check(path: dbPath)
        let counts = Dictionary(uniqueKeysWithValues: check.rowCounts.map { ($0.table, $0.rows) })
        let bytes = (try? FileManager.default.attributesOfItem(atPath: dbPath)[.size] as? Int) ?? 0
        print("database  \(String(format: "%.0f", Double(bytes) / 1_048_576)) MiB; rows: " + ["trials", "candidates", "measurements", "leaderboard", "events"]
                .map { "\($0) \(grouped(counts[$0] ?? 0))" }.joined(separator: ", ") + "; integrity \(check.integrity == ["ok"] ? "ok" : "FAILED"), SQLite \(check.sqliteVersion)")

        // Constraints at percentiles of the data, so the queries select what they say.
        let t0 = targets[0].name, t3 = targets[3].name
        let lat0 = pool.map { targets[0].predict($0) }.sorted(), sizes = pool.map(\.sizeBytes).sorted()
        let peaks = pool.map(\.peakActivationBytes).sorted()
        func pct<T>(_ a: [T], _ p: Double) -> T { a[min(a.count - 1, Int(Double(a.count) * p))] }
        var queries: [(String, () throws -> Int)] = []
        func top(_ label: String, _ q: LeaderboardQuery) { queries.append((label, { try store.leaderboard(q).count })) }
        func front(_ label: String, _ q: LeaderboardQuery, _ o: [Objective]) { queries.append((label, { try store.paretoFront(q, objectives: o).count })) }
        top("top-10 accuracy, all searches, no constraint", LeaderboardQuery())
        top("top-10 accuracy, \(t0) latency<=p50, size<=p50, mem<=p75",
            LeaderboardQuery(target: t0, maxLatencyMs: pct(lat0, 0.5), maxSizeBytes: pct(sizes, 0.5), maxPeakActivationBytes: pct(peaks, 0.75)))
        top("top-10 accuracy, \(t0) latency<=p5, size<=p10 (tight)",
            LeaderboardQuery(target: t0, maxLatencyMs: pct(lat0, 0.05), maxSizeBytes: pct(sizes, 0.10)))
        top("top-10 accuracy, one search, int8 weights, channel pruning",
            LeaderboardQuery(search: searchIDs[0], maxSizeBytes: pct(sizes, 0.5), weightBits: [8], pruningMethods: ["channel"]))
        top("top-10 accuracy, min accuracy 0.9, fidelity>=27", LeaderboardQuery(minAccuracy: 0.9, minFidelity: 27))
        top("top-10 by latency on \(t0), accuracy>=0.85", LeaderboardQuery(target: t0, orderBy: .latency, minAccuracy: 0.85))
        top("re-rank: top-10 accuracy on \(t3), latency<=p50",
            LeaderboardQuery(target: t3, maxLatencyMs: pct(pool.map { targets[3].predict($0) }.sorted(), 0.5)))
        front("Pareto accuracy/latency/size, all searches, \(t0)", LeaderboardQuery(target: t0), [.accuracy, .latency, .size])
        front("Pareto accuracy/latency, one search, \(t0)", LeaderboardQuery(search: searchIDs[0], target: t0), [.accuracy, .latency])
        front("Pareto accuracy/latency/size, \(t0), size<=p50", LeaderboardQuery(target: t0, maxSizeBytes: pct(sizes, 0.5)),
              [.accuracy, .latency, .size])
        front("Pareto accuracy/latency/size/memory, \(t3)", LeaderboardQuery(target: t3), [.accuracy, .latency, .size, .memory])

        // Wall time is what a user waits; process CPU time (all threads: the query runs on a
        // reader thread) is what the query costs, and does not grow when other work shares the cores.
        print("query (\(repeats) runs each, after one warm-up)                     rows  wall min  wall median  cpu median (ms)")
        for (label, q) in queries {
            let rows = try q()
            var wall: [Double] = [], cpu: [Double] = []
            for _ in 0..<repeats {
                let (start, cpuStart) = (ContinuousClock.now, cpuMilliseconds())
                _ = try q()
                wall.append(ms(ContinuousClock.now - start))
                cpu.append(cpuMilliseconds() - cpuStart)
            }
            wall.sort()
            cpu.sort()
            print(label.padding(toLength: 64, withPad: " ", startingAt: 0)
                  + String(format: "%6d %9.1f %12.1f %11.1f", rows, wall[0], wall[wall.count / 2], cpu[cpu.count / 2]))
        }
        try store.close()
        if keep { print("kept \(dbPath)") }
    }

    /// A hardware target for the benchmark: latency from MACs, faster with fewer bits.
    struct Target {
        let name: String
        let macsPerMs: Double
        func predict(_ c: CandidateRecord) -> Double {
            let speedup = c.weightBits <= 8 && c.activationBits <= 8 ? 2.5 : 1.0
            return 0.05 + Double(c.macs) / macsPerMs / speedup
        }
    }

    /// A plausible accuracy: bigger networks and longer training do better, with noise.
    static func accuracy(_ c: CandidateRecord, fidelity: Double, maxMACs: Double, _ rng: inout SeededGenerator) -> Double {
        let capacity = log(Double(max(c.macs, 1))) / log(maxMACs)
        let training = log(fidelity + 1) / log(28)
        let quantLoss = c.weightBits <= 4 ? 0.03 : 0
        return min(0.97, max(0.1, 0.55 + 0.3 * capacity + 0.1 * training - quantLoss + 0.03 * (rng.unit() - 0.5)))
    }

    /// CPU time used by the whole process so far.
    static func cpuMilliseconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
    }

    /// CPU seconds since `start`, as text; moves `start` to now.
    static func cpuSeconds(since start: inout Double) -> String {
        let now = cpuMilliseconds()
        defer { start = now }
        return String(format: "%.1f s", (now - start) / 1000)
    }

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    static func fmt(_ d: Duration) -> String { String(format: "%.1f s", ms(d) / 1000) }
    static func seconds(since start: ContinuousClock.Instant) -> String { fmt(ContinuousClock.now - start) }
    static func rate(_ n: Int, _ d: Duration) -> Int { Int(Double(n) / max(ms(d) / 1000, 1e-9)) }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }
}
