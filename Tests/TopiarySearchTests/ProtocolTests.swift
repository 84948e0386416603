import Testing
import TopiaryCore
@testable import TopiarySearch

/// The ask/tell contract, for every strategy.
@Suite struct ProtocolTests {
    static let spaces = ["nas-bench-macro", "fashion-mobilenet"]

    @Test(arguments: Config.all, spaces)
    func suggestionsStayInTheSpaceAndNeverRepeatACandidateAtAFidelity(config: Config, spaceName: String) throws {
        let space = try loadSpace(spaceName)
        var s = try config.make(problem(space, seed: 11))
        var sim = Simulator(space: space, seed: 11)
        try sim.run(&s, trials: 60)
        #expect(sim.suggested.count == 60)
        var keys: Set<TrialKey> = []
        for sug in sim.suggested {
            #expect(space.contains(sug.candidate), "\(sug.candidate.canonicalJSON) is not in \(spaceName)")
            #expect(keys.insert(sug.key).inserted, "\(sug.key) suggested twice")
            #expect(sug.fidelity > 0 && sug.fidelity <= 9)
        }
        #expect(s.history.count == 60)
        #expect(s.history.trials.allSatisfy { !$0.status.isPending })
        #expect(s.best != nil)
    }

    @Test(arguments: Config.all)
    func constraintIsNeverBroken(config: Config) throws {
        let space = try loadSpace("nas-bench-macro")
        // About a third of the space: MACs at most the 33rd percentile of a sample.
        let macs = space.sample(count: 300, seed: 3).map { NetworkGraph.build(compressed: $0, in: space).cost().macs }.sorted()
        let limit = macs[100]
        let p = problem(space, seed: 5, constraint: { NetworkGraph.build(compressed: $0, in: space).cost().macs <= limit })
        var s = try config.make(p)
        var sim = Simulator(space: space, seed: 5)
        try sim.run(&s, trials: 60)
        #expect(sim.suggested.count == 60)
        for sug in sim.suggested {
            #expect(NetworkGraph.build(compressed: sug.candidate, in: space).cost().macs <= limit)
        }
    }

    @Test(arguments: Config.all)
    func sameSeedSameSuggestionsOtherSeedOtherSuggestions(config: Config) throws {
        let space = try loadSpace("fashion-mobilenet")
        func ids(_ seed: UInt64) throws -> [String] {
            var s = try config.make(problem(space, seed: seed))
            var sim = Simulator(space: space, seed: 1)
            try sim.run(&s, trials: 40)
            return sim.suggested.map { $0.key.description }
        }
        let a = try ids(21)
        #expect(a == (try ids(21)))
        #expect(a != (try ids(22)))
    }

    @Test(arguments: Config.all)
    func restoredFromHistoryItContinuesExactlyAsTheUninterruptedRun(config: Config) throws {
        let space = try loadSpace("nas-bench-macro")
        let p = problem(space, seed: 8)
        // Uninterrupted: 50 trials through 3 slots.
        var a = try config.make(p)
        var simA = Simulator(space: space, seed: 8)
        try simA.run(&a, trials: 50)

        // Interrupted after 25 suggestions with trials still running, then rebuilt from the
        // history alone (statuses and progress reports included) and driven on identically.
        var b = try config.make(p)
        var simB = Simulator(space: space, seed: 8)
        try simB.run(&b, trials: 25, drain: false)
        #expect(b.history.trials.contains { $0.status.isPending })
        var restored = try config.make(p, history: b.history.trials)
        #expect(restored.history.count == 25)
        #expect(restored.trialsToStop() == b.trialsToStop())
        try simB.run(&restored, trials: 50)
        #expect(simB.suggested.map(\.key) == simA.suggested.map(\.key))
        #expect(simB.stopped == simA.stopped)
        #expect(restored.best?.key == a.best?.key)
    }

    @Test(arguments: Config.all)
    func aBatchEqualsTheSameNumberOfSingleSuggestions(config: Config) throws {
        let space = try loadSpace("nas-bench-macro")
        let p = problem(space, seed: 4)
        var warm = try config.make(p)
        var sim = Simulator(space: space, seed: 4)
        try sim.run(&warm, trials: 30)
        var one = try config.make(p, history: warm.history.trials)
        var many = try config.make(p, history: warm.history.trials)
        let batch = many.suggest(count: 5).map(\.key)
        let singles = (0..<5).compactMap { _ in one.suggest(count: 1).first?.key }
        #expect(batch.count == 5)
        #expect(batch == singles)
    }

    @Test(arguments: Config.all)
    func tellingAnUnknownTrialIsAnError(config: Config) throws {
        let space = try loadSpace("nas-bench-macro")
        var s = try config.make(problem(space, seed: 1))
        let key = TrialKey(candidateID: "0123456789abcdef", fidelity: 9)
        #expect(throws: StrategyError.unknownTrial(key)) { try s.tell(key, .completed(["accuracy": 1])) }
        #expect(throws: StrategyError.unknownTrial(key)) { _ = try s.report(key, ProgressReport(step: 1, metrics: [:])) }
    }

    @Test(arguments: Config.all)
    func aSmallSpaceRunsDryInsteadOfRepeating(config: Config) throws {
        // Two layers of three ops fixed by a constraint to 9 candidates... expressed through the
        // constraint: only candidates whose last six layers are identity are admitted.
        let space = try loadSpace("nas-bench-macro")
        let admitted: @Sendable (Candidate) -> Bool = { c in
            guard let key = try? space.encodeBenchmarkKey(c) else { return false }
            return key.hasSuffix("000000")
        }
        var s = try config.make(problem(space, seed: 2, constraint: admitted))
        var sim = Simulator(space: space, seed: 2)
        try sim.run(&s, trials: 100)
        let perFidelity = Dictionary(grouping: sim.suggested, by: \.fidelity).mapValues { Set($0.map(\.candidate.id)).count }
        for (f, n) in perFidelity { #expect(n == sim.suggested.filter { $0.fidelity == f }.count && n <= 9) }
        #expect(Set(sim.suggested.map(\.key)).count == sim.suggested.count)
    }

    @Test(arguments: Config.all)
    func onlyRandomSearchMayBeAskedFarAhead(config: Config) throws {
        // The daemon queues far ahead only for strategies whose suggestions do not depend on
        // what they were told: drawing ahead would cost the others what they learn meanwhile.
        let s = try config.make(problem(try loadSpace("nas-bench-macro"), seed: 3))
        #expect(s.learnsFromResults == (config.name != "random"))
    }

    @Test func theHistoryKnowsACandidateByValueAsByID() throws {
        let space = try loadSpace("fashion-mobilenet")
        var s = try Config(name: "random", options: "").make(problem(space, seed: 5))
        let drawn = s.suggest(count: 20)
        let again = space.sample(count: 400, seed: 5)
        for c in again {
            // A candidate sampled anew is a different value with its own memo: known by value
            // exactly when known by id.
            #expect(s.history.containsCandidate(c) == s.history.containsCandidate(c.id))
        }
        for d in drawn {
            let copy = try space.decode(json: d.candidate.canonicalJSON)
            #expect(s.history.containsCandidate(copy))
        }
    }
}
