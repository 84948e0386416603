import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite struct ASHATests {
    func make(_ options: String, seed: UInt64 = 1) throws -> ASHA {
        let space = try loadSpace("nas-bench-macro")
        let p = SearchProblem(space: space, seed: seed, fidelity: 9, objectives: [.accuracy])
        return try #require(try Strategies.make("asha", options: StrategyOptions(text: options), problem: p) as? ASHA)
    }

    @Test func rungsGrowByEtaUpToTheSearchFidelity() throws {
        #expect(try make("min_fidelity=1").rungs == [1, 3, 9])
        #expect(try make("min_fidelity=1,eta=2").rungs == [1, 2, 4, 8, 9])
        #expect(try make("").rungs == [9.0 / 27, 1, 3, 9])
    }

    @Test func promotesTheTopThirdOfEachRungAsResultsArriveHighestRungFirst() throws {
        var s = try make("min_fidelity=1")
        // Nine trials at the bottom rung; nothing to promote before results.
        let bottom = s.suggest(count: 9)
        #expect(bottom.allSatisfy { $0.fidelity == 1 && $0.promotedFrom == nil })
        // Results arrive one by one with accuracies 10, 20, ..., 90 in a scrambled order.
        let order = [4, 0, 8, 2, 6, 1, 7, 3, 5]
        var promoted: [TrialKey] = []
        for (n, i) in order.enumerated() {
            try s.tell(bottom[i].key, .completed(["accuracy": Double(10 * (i + 1))]))
            // After every result, one slot frees: ASHA promotes when a trial is in the top
            // third of the completed ones at its rung, else starts a new bottom trial.
            let next = s.suggest(count: 1)[0]
            if let from = next.promotedFrom {
                #expect(next.fidelity == 3)
                #expect(from.fidelity == 1)
                promoted.append(from)
            } else {
                #expect(next.fidelity == 1)
            }
            // Brute force: the completed so far, ranked; the top floor(n/3) must all have been
            // promoted by now, and a promotion only ever takes one of them (no barrier, no demotion).
            let done = order.prefix(n + 1).sorted { $0 > $1 }
            let top = done.prefix((n + 1) / 3).map { bottom[$0].key }
            #expect(Set(top).isSubset(of: Set(promoted)), "after \(n + 1) results")
            if let last = next.promotedFrom { #expect(top.contains(last)) }
        }
        // Promoted as they qualified: 90 (after 3 results), 70 (after 6), 80 (after 7).
        #expect(promoted == [bottom[8].key, bottom[6].key, bottom[7].key])
        // The three at rung 3 finish; the best goes to rung 9 before anything else.
        for (k, acc) in zip(promoted, [95.0, 99.0, 97.0]) {
            try s.tell(TrialKey(candidateID: k.candidateID, fidelity: 3), .completed(["accuracy": acc]))
        }
        let top = s.suggest(count: 1)[0]
        #expect(top.fidelity == 9 && top.promotedFrom == TrialKey(candidateID: bottom[6].key.candidateID, fidelity: 3))
        try s.tell(top.key, .completed(["accuracy": 99.5]))
        #expect(s.best?.key == top.key)
    }

    @Test func stopModeStopsTrialsOutsideTheTopThirdAtEachRung() throws {
        var s = try make("min_fidelity=1,mode=stop")
        let trials = s.suggest(count: 7)
        #expect(trials.allSatisfy { $0.fidelity == 9 })
        // Reports at step 1 (rung 0) arrive with these accuracies, in this order.
        let acc = [50.0, 60, 40, 70, 55, 80, 30]
        var decisions: [Bool] = []
        for (t, a) in zip(trials, acc) {
            decisions.append(try s.report(t.key, ProgressReport(step: 1, metrics: ["accuracy": a])))
        }
        // Brute force: a trial goes on when fewer than max(1, n/3) of the n values so far beat it.
        var expected: [Bool] = []
        for i in acc.indices {
            let seen = acc.prefix(i + 1)
            expected.append(!(seen.filter { $0 > acc[i] }.count < max(1, seen.count / 3)))
        }
        #expect(decisions == expected)
        #expect(decisions == [false, false, true, false, true, false, true])
        // A later report below the next rung decides nothing; reaching rung 3 decides again.
        #expect(try s.report(trials[0].key, ProgressReport(step: 2, metrics: ["accuracy": 10])) == false)
        #expect(try s.report(trials[1].key, ProgressReport(step: 3, metrics: ["accuracy": 65])) == false)  // first at rung 3
        #expect(try s.report(trials[3].key, ProgressReport(step: 3, metrics: ["accuracy": 75])) == false)
        #expect(try s.report(trials[0].key, ProgressReport(step: 3, metrics: ["accuracy": 52])) == true)
        // The catch-up list (after a restart) names every pending trial that fails its latest rung.
        for (t, d) in zip(trials, decisions) where d { try s.tell(t.key, .stopped) }
        // Trial 1 passed rung 3 when it arrived first, but 75 and 52 came since: 1 of 3 beats it.
        #expect(s.trialsToStop() == [trials[0].key, trials[1].key])
    }

    @Test func optionsAreChecked() {
        #expect(throws: StrategyError.self) { try self.make("eta=1") }
        #expect(throws: StrategyError.self) { try self.make("min_fidelity=10") }
        #expect(throws: StrategyError.self) { try self.make("mode=halve") }
        #expect(throws: StrategyError.self) { try self.make("sampler=bayes") }
        #expect(throws: StrategyError.self) { try self.make("random_fraction=2") }
    }

    @Test("BOHB (sampler=tpe, and bo's process with sampler=bo) finds better candidates than random sampling under successive halving, in both modes")
    func modelSamplerBeatsRandom() throws {
        let space = try loadSpace("fashion-mobilenet")
        func mean(_ options: String) throws -> Double {
            var total = 0.0
            for seed in UInt64(0)..<8 {
                let p = SearchProblem(space: space, seed: seed, fidelity: 9, objectives: [.accuracy])
                var s = try Strategies.make("asha", options: StrategyOptions(text: options), problem: p)
                var sim = Simulator(space: space, seed: seed, workers: 3)
                sim.noise = 0.5
                try sim.run(&s, trials: 160)
                total += sim.objective.value(try #require(s.best).candidate)
            }
            return total / 8
        }
        for mode in ["promote", "stop"] {
            let random = try mean("min_fidelity=1,mode=\(mode)")
            for sampler in ["tpe", "bo"] {
                let model = try mean("min_fidelity=1,mode=\(mode),sampler=\(sampler)")
                #expect(model > random + 0.5, "\(mode): sampler \(sampler) \(model) vs random \(random)")
            }
        }
    }
}
