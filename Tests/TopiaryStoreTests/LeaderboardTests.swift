import Foundation
import Testing
import TopiaryCore
@testable import TopiaryStore

/// Random searches, trials and latency figures, stored through the public API and kept
/// in plain arrays, so every leaderboard answer can be recomputed by brute force.
struct RandomWorld {
    struct Result { var search: Int64; var candidate: String; var trial: Int64; var fidelity: Double; var accuracy: Double? }

    var candidates: [String: CandidateRecord] = [:]
    var results: [Result] = []
    /// (candidate, target, source) -> the latest figure.
    var latency: [String: [String: [LatencySource: Double]]] = [:]
    var searches: [Int64] = []
    let targets = ["cpu", "gpu", "mcu"]

    init(store: Store, seed: UInt64, candidates n: Int = 240) throws {
        var rng = SeededGenerator(seed: seed)
        searches = try (0..<3).map { _ in try store.createSearch(newSearch()).id! }
        let pool = (0..<n).map { i in
            syntheticCandidate(i, size: 1000 + rng.index(below: 9000), peak: 100 + rng.index(below: 900),
                               weightBits: [4, 8, 16, 32][rng.index(below: 4)], activationBits: [8, 32][rng.index(below: 2)],
                               pruning: ["none", "magnitude", "channel"][rng.index(below: 3)])
        }
        for c in pool { candidates[c.id] = c }
        try store.addCandidates(Array(pool.prefix(20)))  // some stored before any trial uses them
        var measurements: [MeasurementRecord] = []
        func figure(_ c: String, _ target: String, _ source: LatencySource, _ rng: inout SeededGenerator) {
            let ms = Double(1 + rng.index(below: 400)) / 10   // coarse values, so ties happen
            latency[c, default: [:]][target, default: [:]][source] = ms
            measurements.append(MeasurementRecord(candidateID: c, target: target, source: source, latencyMs: ms,
                                                  recordedBy: source == .measured ? "worker" : "model", recordedAt: Date(timeIntervalSince1970: 0)))
        }
        // Half the figures arrive before the results, half after; some are overwritten.
        for (i, c) in pool.enumerated() where i % 2 == 0 {
            for target in targets where rng.chance(0.7) { figure(c.id, target, .predicted, &rng) }
        }
        try store.recordMeasurements(Array(pool.prefix(20).flatMap { c in measurements.filter { $0.candidateID == c.id } }))
        measurements.removeAll { m in pool.prefix(20).contains { $0.id == m.candidateID } }

        for s in searches {
            let chosen = pool.filter { _ in rng.chance(0.5) }
            var requests: [TrialRequest] = []
            for c in chosen {
                for _ in 0..<(1 + rng.index(below: 3)) {
                    requests.append(TrialRequest(candidate: c, fidelity: [1, 3, 9][rng.index(below: 3)]))
                }
            }
            let trials = try store.enqueue(search: s, requests)
            for t in try store.claim(limit: trials.count, worker: "w") {
                let roll = rng.unit()
                if roll < 0.1 {
                    try store.recordFailure(trial: t.trialID, attempt: t.attempt, error: "crashed")
                } else if roll < 0.15 {
                    try store.prune(trial: t.trialID, attempt: t.attempt, reason: "pruned")
                } else {
                    let accuracy: Double? = rng.chance(0.05) ? nil : Double(50 + rng.index(below: 50)) / 100
                    var metrics: [(String, JSONValue)] = [("loss", .double(rng.unit()))]
                    if let accuracy { metrics.append(("accuracy", .double(accuracy))) }
                    try store.recordResult(TrialResult(trial: t.trialID, attempt: t.attempt, metrics: .object(metrics)))
                    results.append(Result(search: s, candidate: t.candidateID, trial: t.trialID, fidelity: t.fidelity, accuracy: accuracy))
                }
            }
        }
        try store.addCandidates(pool)   // figures may come for candidates no search trained (e.g. infeasible ones)
        try store.recordMeasurements(measurements)
        measurements = []
        for (i, c) in pool.enumerated() where i % 2 == 1 {
            for target in targets where rng.chance(0.7) { figure(c.id, target, .predicted, &rng) }
        }
        for c in pool {
            for target in targets where rng.chance(0.25) { figure(c.id, target, .measured, &rng) }
        }
        for c in pool.prefix(30) { figure(c.id, "cpu", .predicted, &rng) }   // overwrite: latest figure wins
        try store.recordMeasurements(measurements)
    }

    func effectiveLatency(_ c: String, _ target: String) -> Double? {
        latency[c]?[target].flatMap { $0[.measured] ?? $0[.predicted] }
    }

    /// The best result per candidate in the scope: highest fidelity, then accuracy, then lowest trial id.
    func best(scope: Int64?) -> [Result] {
        var best: [String: Result] = [:]
        for r in results where scope == nil || r.search == scope {
            guard let b = best[r.candidate] else { best[r.candidate] = r; continue }
            let ra = r.accuracy ?? -.infinity, ba = b.accuracy ?? -.infinity
            if r.fidelity > b.fidelity || (r.fidelity == b.fidelity && (ra > ba || (ra == ba && r.trial < b.trial))) {
                best[r.candidate] = r
            }
        }
        return Array(best.values)
    }

    func value(_ o: Objective, _ r: Result, target: String?) -> Double? {
        let c = candidates[r.candidate]!
        switch o {
        case .accuracy: return r.accuracy
        case .latency: return target.flatMap { effectiveLatency(r.candidate, $0) }
        case .size: return Double(c.sizeBytes)
        case .memory: return Double(c.peakActivationBytes)
        case .macs: return Double(c.macs)
        case .params: return Double(c.params)
        }
    }

    func passes(_ r: Result, _ q: LeaderboardQuery) -> Bool {
        let c = candidates[r.candidate]!
        if let m = q.maxLatencyMs { guard let l = effectiveLatency(r.candidate, q.target!), l <= m else { return false } }
        if q.orderBy == .latency && effectiveLatency(r.candidate, q.target!) == nil { return false }
        if let m = q.maxSizeBytes, c.sizeBytes > m { return false }
        if let m = q.maxPeakActivationBytes, c.peakActivationBytes > m { return false }
        if let m = q.minAccuracy { guard let a = r.accuracy, a >= m else { return false } }
        if let m = q.minFidelity, r.fidelity < m { return false }
        if let s = q.weightBits, !s.contains(c.weightBits) { return false }
        if let s = q.activationBits, !s.contains(c.activationBits) { return false }
        if let s = q.pruningMethods, !s.contains(c.pruningMethod) { return false }
        return true
    }

    func topK(_ q: LeaderboardQuery) -> [Result] {
        let rows = best(scope: q.search).filter { passes($0, q) }
        return rows.sorted { a, b in
            if q.orderBy != .accuracy {
                let x = value(q.orderBy, a, target: q.target)!, y = value(q.orderBy, b, target: q.target)!
                if x != y { return x < y }
            }
            let x = a.accuracy ?? -.infinity, y = b.accuracy ?? -.infinity
            if x != y { return x > y }
            return a.candidate < b.candidate
        }.prefix(q.limit).map { $0 }
    }

    /// O(n^2) Pareto front: rows with every objective that no other such row dominates.
    func front(_ q: LeaderboardQuery, _ objectives: [Objective]) -> Set<String> {
        var q = q
        q.orderBy = .accuracy
        let rows = best(scope: q.search).filter { passes($0, q) }.compactMap { r -> (String, [Double])? in
            var v: [Double] = []
            for o in objectives {
                guard let x = value(o, r, target: q.target) else { return nil }
                v.append(o.maximize ? -x : x)
            }
            return (r.candidate, v)
        }
        return Set(rows.filter { p in
            !rows.contains { o in zip(o.1, p.1).allSatisfy { $0 <= $1 } && zip(o.1, p.1).contains { $0 < $1 } }
        }.map(\.0))
    }
}

@Suite struct LeaderboardTests {
    static func randomQuery(_ rng: inout SeededGenerator, _ world: RandomWorld) -> LeaderboardQuery {
        var q = LeaderboardQuery()
        q.search = rng.chance(0.4) ? nil : world.searches[rng.index(below: world.searches.count)]
        q.target = rng.chance(0.25) ? nil : world.targets[rng.index(below: world.targets.count)]
        let orders: [Objective] = q.target == nil ? [.accuracy, .size, .memory, .macs] : Objective.allCases
        q.orderBy = rng.chance(0.5) ? .accuracy : orders[rng.index(below: orders.count)]
        q.limit = 1 + rng.index(below: 25)
        if q.target != nil && rng.chance(0.5) { q.maxLatencyMs = Double(rng.index(below: 400)) / 10 }
        if rng.chance(0.4) { q.maxSizeBytes = 1000 + rng.index(below: 9000) }
        if rng.chance(0.3) { q.maxPeakActivationBytes = 100 + rng.index(below: 900) }
        if rng.chance(0.4) { q.minAccuracy = Double(50 + rng.index(below: 50)) / 100 }
        if rng.chance(0.2) { q.minFidelity = [1.0, 3, 9][rng.index(below: 3)] }
        if rng.chance(0.3) { q.weightBits = Set([4, 8, 16, 32].filter { _ in rng.chance(0.5) }) }
        if rng.chance(0.2) { q.activationBits = [8] }
        if rng.chance(0.3) { q.pruningMethods = Set(["none", "magnitude", "channel"].filter { _ in rng.chance(0.5) }) }
        return q
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func topKUnderConstraintsMatchesBruteForce(seed: UInt64) throws {
        let t = try TestStore()
        defer { t.remove() }
        let world = try RandomWorld(store: t.store, seed: seed)
        var rng = SeededGenerator(seed: seed &* 31)
        var nonEmpty = 0
        for _ in 0..<150 {
            let q = Self.randomQuery(&rng, world)
            let got = try t.store.leaderboard(q)
            let want = world.topK(q)
            #expect(got.map(\.candidateID) == want.map(\.candidate), "query \(q)")
            for (g, w) in zip(got, want) {
                #expect(g.trialID == w.trial && g.accuracy == w.accuracy && g.fidelity == w.fidelity && g.searchID == w.search)
                #expect(g.latencyMs == q.target.flatMap { world.effectiveLatency(w.candidate, $0) })
                #expect(g.sizeBytes == world.candidates[w.candidate]!.sizeBytes)
            }
            #expect(got.map(\.rank) == Array(1...max(1, got.count)).prefix(got.count).map { $0 })
            if !got.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 50, "the random queries should mostly find something")
    }

    @Test(arguments: [4, 5, 6] as [UInt64])
    func paretoFrontMatchesBruteForce(seed: UInt64) throws {
        let t = try TestStore()
        defer { t.remove() }
        let world = try RandomWorld(store: t.store, seed: seed)
        var rng = SeededGenerator(seed: seed &* 17)
        let objectiveSets: [[Objective]] = [[.accuracy, .latency, .size], [.accuracy, .latency], [.accuracy, .size],
                                            [.latency, .memory], [.accuracy, .size, .memory, .macs], [.accuracy]]
        for _ in 0..<60 {
            var q = Self.randomQuery(&rng, world)
            let objectives = objectiveSets[rng.index(below: objectiveSets.count)]
            if objectives.contains(.latency) && q.target == nil { q.target = "cpu" }
            let got = try t.store.paretoFront(q, objectives: objectives)
            #expect(Set(got.map(\.candidateID)) == world.front(q, objectives), "query \(q) objectives \(objectives)")
            #expect(got.count == Set(got.map(\.candidateID)).count)
            let first = objectives[0]
            let firsts = got.map { $0.value(of: first)! }
            #expect(firsts == (first.maximize ? firsts.sorted(by: >) : firsts.sorted()), "ordered by \(first)")
        }
    }

    @Test func rerankingForAnotherTargetUsesItsFiguresWithoutRetraining() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch(target: "cpu"))
        let cands = (0..<5).map { syntheticCandidate($0, size: 1000) }
        let trials = try t.store.enqueue(search: s.id!, cands.map { TrialRequest(candidate: $0, fidelity: 9) })
        let accuracy = [0.9, 0.8, 0.7, 0.6, 0.5]
        for (tr, a) in zip(trials, accuracy) { try complete(t.store, tr, accuracy: a) }
        let cpu = [9.0, 7, 5, 3, 1], mcu = [40.0, 80, 20, 60, 10]
        try t.store.recordMeasurements(zip(cands, cpu).map {
            MeasurementRecord(candidateID: $0.id, target: "cpu", source: .predicted, latencyMs: $1, recordedBy: "model", recordedAt: Date())
        })
        #expect(try t.store.candidatesWithoutLatency(target: "mcu") == cands.map(\.id).sorted())
        let onCPU = try t.store.leaderboard(LeaderboardQuery(target: "cpu", maxLatencyMs: 6))
        #expect(onCPU.map(\.candidateID) == [cands[2].id, cands[3].id, cands[4].id])

        // Figures for a new target arrive (predicted for all, one measured); no trial runs.
        try t.store.recordMeasurements(zip(cands, mcu).map {
            MeasurementRecord(candidateID: $0.id, target: "mcu", source: .predicted, latencyMs: $1, recordedBy: "model", recordedAt: Date())
        } + [MeasurementRecord(candidateID: cands[1].id, target: "mcu", source: .measured, latencyMs: 30, recordedBy: "mcu-1", recordedAt: Date())])
        #expect(try t.store.candidatesWithoutLatency(target: "mcu").isEmpty)
        let onMCU = try t.store.leaderboard(LeaderboardQuery(target: "mcu", maxLatencyMs: 45))
        #expect(onMCU.map(\.candidateID) == [cands[0].id, cands[1].id, cands[2].id, cands[4].id])
        #expect(onMCU.map(\.accuracy) == [0.9, 0.8, 0.7, 0.5])
        #expect(onMCU[1].latencyMs == 30 && onMCU[1].predictedMs == 80 && onMCU[1].measuredMs == 30)
        let fastest = try t.store.leaderboard(LeaderboardQuery(target: "mcu", orderBy: .latency, limit: 2))
        #expect(fastest.map(\.candidateID) == [cands[4].id, cands[2].id])
        let front = try t.store.paretoFront(LeaderboardQuery(target: "mcu"), objectives: [.accuracy, .latency])
        #expect(front.map(\.candidateID) == [cands[0].id, cands[1].id, cands[2].id, cands[4].id])
        #expect(try t.store.trialCounts(search: s.id!) == [.completed: 5])
        // Without a latency constraint every candidate is listed, with its figure for the target.
        let all = try t.store.leaderboard(LeaderboardQuery(target: "mcu"))
        #expect(all.map(\.latencyMs) == [40, 30, 20, 60, 10])
    }

    @Test func aCandidateWithoutAFigureIsListedButNeverPassesALatencyConstraint() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let cands = (0..<2).map { syntheticCandidate($0) }
        for (tr, a) in zip(try t.store.enqueue(search: s.id!, cands.map { TrialRequest(candidate: $0, fidelity: 1) }), [0.9, 0.8]) {
            try complete(t.store, tr, accuracy: a)
        }
        try t.store.recordMeasurements([MeasurementRecord(candidateID: cands[1].id, target: "cpu", source: .predicted, latencyMs: 5,
                                                          recordedBy: "m", recordedAt: Date())])
        let listed = try t.store.leaderboard(LeaderboardQuery(target: "cpu"))
        #expect(listed.map(\.candidateID) == cands.map(\.id) && listed[0].latencyMs == nil && listed[0].target == "cpu")
        #expect(try t.store.leaderboard(LeaderboardQuery(target: "cpu", maxLatencyMs: 1000)).map(\.candidateID) == [cands[1].id])
        #expect(throws: StoreError.self) { try t.store.leaderboard(LeaderboardQuery(maxLatencyMs: 5)) }
        #expect(throws: StoreError.self) { try t.store.paretoFront(LeaderboardQuery(), objectives: [.accuracy, .latency]) }
        #expect(throws: StoreError.self) { try t.store.paretoFront(LeaderboardQuery(), objectives: []) }
    }

    @Test func higherFidelityWinsOverHigherAccuracyAtLowerFidelity() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s1 = try t.store.createSearch(newSearch()), s2 = try t.store.createSearch(newSearch())
        let c = syntheticCandidate(1)
        let a = try t.store.enqueue(search: s1.id!, [TrialRequest(candidate: c, fidelity: 1), TrialRequest(candidate: c, fidelity: 9)])
        let b = try t.store.enqueue(search: s2.id!, [TrialRequest(candidate: c, fidelity: 3)])
        try complete(t.store, a[0], accuracy: 0.95)
        try complete(t.store, b[0], accuracy: 0.85)
        #expect(try t.store.leaderboard(LeaderboardQuery()).map(\.trialID) == [b[0].trialID])
        try complete(t.store, a[1], accuracy: 0.80)
        #expect(try t.store.leaderboard(LeaderboardQuery()).map(\.trialID) == [a[1].trialID])
        #expect(try t.store.leaderboard(LeaderboardQuery(search: s2.id!)).map(\.trialID) == [b[0].trialID])
        #expect(try t.store.leaderboard(LeaderboardQuery(minFidelity: 10)).isEmpty)
    }

    @Test func theSameFigureAgainKeepsItsTimeAndANewFigureReachesEveryScope() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let c = syntheticCandidate(1)
        let trials = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: c, fidelity: 1)])
        func figure(_ ms: Double, at seconds: Double, by who: String = "model") throws {
            try t.store.recordMeasurements([MeasurementRecord(candidateID: c.id, target: "cpu", source: .predicted, latencyMs: ms,
                                                              recordedBy: who, recordedAt: Date(timeIntervalSince1970: seconds))])
        }
        // Before any result there is no row to carry the figure.
        try figure(5, at: 10)
        #expect(try t.store.leaderboard(LeaderboardQuery(target: "cpu")).isEmpty)
        try complete(t.store, trials[0], accuracy: 0.9)
        #expect(try t.store.leaderboard(LeaderboardQuery(target: "cpu")).map(\.latencyMs) == [5])
        // The same figure from the same source again (a second search queueing the candidate).
        try figure(5, at: 20)
        #expect(try t.store.measurements(candidate: c.id).map(\.recordedAt) == [Date(timeIntervalSince1970: 10)])
        // A new figure, or the same from another source, replaces it and reaches both scopes.
        try figure(7, at: 30)
        #expect(try t.store.measurements(candidate: c.id).map { [$0.latencyMs, $0.recordedAt.timeIntervalSince1970] } == [[7, 30]])
        #expect(try t.store.leaderboard(LeaderboardQuery(target: "cpu")).map(\.latencyMs) == [7])
        #expect(try t.store.leaderboard(LeaderboardQuery(search: s.id!, target: "cpu")).map(\.latencyMs) == [7])
        try figure(7, at: 40, by: "recalibrated model")
        #expect(try t.store.measurements(candidate: c.id).map(\.recordedBy) == ["recalibrated model"])
    }
}
