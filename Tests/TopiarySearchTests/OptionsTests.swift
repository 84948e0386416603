import Foundation
import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite struct OptionsTests {
    let space: SearchSpace
    init() throws { space = try loadSpace("nas-bench-macro") }

    func make(_ name: String, _ text: String, objectives: [SearchObjective] = [.accuracy]) throws -> any SearchStrategy {
        try Strategies.make(name, options: StrategyOptions(text: text), problem: SearchProblem(space: space, seed: 1, objectives: objectives))
    }

    @Test func keyValueAndJSONFormsReadTheSameSettings() throws {
        let a = try StrategyOptions(keyValues: ["population=50", "sample=10"])
        let b = try StrategyOptions(text: #"{"population": 50, "sample": "10"}"#)
        let c = try StrategyOptions(text: "population=50, sample=10")
        #expect(a["population"] == "50" && b["population"] == "50" && c["sample"] == "10")
        let p = SearchProblem(space: space, seed: 1)
        #expect(try RegularizedEvolution.Settings(options: a, problem: p) == RegularizedEvolution.Settings(options: b, problem: p))
        // Round trip through the JSON a search stores.
        #expect(try StrategyOptions(json: a.json) == a)
    }

    @Test func unknownOptionNamesTheClosestOne() throws {
        do {
            _ = try make("evolution", "populaton=50")
            Issue.record("accepted an unknown option")
        } catch {
            #expect("\(error)".contains("did you mean 'population'"))
            #expect("\(error)".contains("sample"))
        }
    }

    @Test(arguments: [("evolution", "population=1"), ("evolution", "sample=30"), ("evolution", "population=abc"),
                      ("nsga2", "crossover=2"), ("nsga2", "acquisition=ehvi"), ("asha", "eta=1"), ("evolution", "smoother=knn"), ("random", "reward_target=-1")])
    func invalidValuesSayWhatIsExpected(name: String, options: String) throws {
        let objectives: [SearchObjective] = name == "nsga2" ? [.accuracy, .macs] : [.accuracy]
        do {
            _ = try make(name, options, objectives: objectives)
            Issue.record("accepted \(options)")
        } catch {
            #expect("\(error)".contains("expected"), "\(error)")
            #expect("\(error)".contains(String(options.split(separator: "=")[0])))
        }
    }

    @Test func malformedOptionsAndUnknownStrategiesAreErrors() {
        #expect(throws: StrategyError.malformedOptions("population")) { try StrategyOptions(keyValues: ["population"]) }
        #expect(throws: StrategyError.unknownStrategy("bayes")) { try self.make("bayes", "") }
        #expect((StrategyError.unknownStrategy("bayes")).description.contains("random, evolution, tpe, bo, nsga2, asha"))
    }

    @Test func nsga2NeedsTwoObjectives() {
        #expect(throws: StrategyError.self) { try self.make("nsga2", "") }
        #expect(throws: Never.self) { try self.make("nsga2", "", objectives: [.accuracy, .latency]) }
    }

    @Test func objectivesParse() throws {
        #expect(try SearchObjective.parse("accuracy") == .accuracy)
        #expect(try SearchObjective.parse("latency_ms:min") == .latency)
        #expect(try SearchObjective.parse("params") == .params)
        #expect(try SearchObjective.parse("top5:max") == SearchObjective("top5", maximize: true))
        #expect(throws: StrategyError.self) { try SearchObjective.parse("accuracy:up") }
    }

    @Test func mnasNetRewardScalesAccuracyByLatencyOverTarget() throws {
        var r = StrategyOptions.Reader("random", try StrategyOptions(text: "reward_target=10"))
        let soft = try Fitness(objective: .accuracy, reading: &r)
        #expect(soft.score(80, figure: 10) == 80)
        #expect(abs(soft.score(80, figure: 20) - 80 * Foundation.pow(2, -0.07)) < 1e-9)
        #expect(abs(soft.score(80, figure: 5) - 80 * Foundation.pow(0.5, -0.07)) < 1e-9)
        #expect(soft.score(80, figure: nil) == 80)
        var h = StrategyOptions.Reader("random", try StrategyOptions(text: "reward_target=10,reward_alpha=0,reward_beta=-1"))
        let hard = try Fitness(objective: .accuracy, reading: &h)
        #expect(hard.score(80, figure: 5) == 80)
        #expect(abs(hard.score(80, figure: 20) - 40) < 1e-9)
    }

    @Test func theRewardChangesWhichTrialIsBest() throws {
        // Two trials: the more accurate one is three times over the latency target.
        let latency: @Sendable (Candidate) -> Double? = { c in c.choices.values.filter { $0 == .string("mb_e6_k5") }.count > 4 ? 30 : 10 }
        let p = SearchProblem(space: space, seed: 1, objectives: [.accuracy],
                              predictor: CostFigures.predictor(space: space, latency: latency))
        for (options, expectFast) in [("", false), ("reward_target=10,reward_alpha=0,reward_beta=-1", true)] {
            let slow = try space.decode(benchmarkKey: "22222222")
            let fast = try space.decode(benchmarkKey: "11111111")
            // Restored from a history with both, as the daemon would.
            let s = try Strategies.make("random", options: StrategyOptions(text: options), problem: p, history: [
                Trial(candidate: slow, fidelity: 1, status: .completed(["accuracy": 93])),
                Trial(candidate: fast, fidelity: 1, status: .completed(["accuracy": 90])),
            ])
            #expect(s.best?.candidate == (expectFast ? fast : slow))
        }
    }

    @Test func historyWithADuplicateOrAForeignCandidateIsRejected() throws {
        let c = try space.decode(benchmarkKey: "01201201")
        #expect(throws: StrategyError.duplicateTrial(TrialKey(candidateID: c.id, fidelity: 1))) {
            try Strategies.make("random", problem: SearchProblem(space: space, seed: 1),
                                history: [Trial(candidate: c, fidelity: 1), Trial(candidate: c, fidelity: 1)])
        }
        let other = try loadSpace("nas-bench-201")
        let foreign = other.sample(count: 1, seed: 1)[0]
        #expect(throws: StrategyError.foreignCandidate(position: 0, candidateID: foreign.id)) {
            try Strategies.make("random", problem: SearchProblem(space: space, seed: 1), history: [Trial(candidate: foreign, fidelity: 1)])
        }
    }

    @Test("auto picks NSGA-II for several objectives, random for tiny budgets, bo up to 500 trials, then TPE")
    func auto() {
        #expect(Strategies.auto(objectives: 2, budget: 100).name == "nsga2")
        #expect(Strategies.auto(objectives: 1, budget: 10).name == "random")
        #expect(Strategies.auto(objectives: 1, budget: 100).name == "bo")
        #expect(Strategies.auto(objectives: 1, budget: 500).name == "bo")
        #expect(Strategies.auto(objectives: 1, budget: 1_000).name == "tpe")
        #expect(Strategies.auto(objectives: 1, budget: 6_000).name == "random")
    }
}
