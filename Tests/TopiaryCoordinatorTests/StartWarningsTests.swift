import Testing
import TopiaryCore
import TopiaryWire
@testable import TopiaryCoordinator

@Suite("search start warns of settings that waste the budget")
struct StartWarningsTests {
    func request(_ space: SearchSpace, options: [String: String], fidelity: [String: FidelityValue] = [:]) -> StartSearchRequest {
        var r = StartSearchRequest(spaceYAML: space.yamlText, budget: 20)
        r.strategy = "asha"
        r.strategyOptions = options
        r.fidelity = fidelity
        return r
    }

    @Test("ASHA stopping by epochs of a network compressed only after training is warned of, with the fix")
    func stopModeOnNetworksCutAfterTraining() throws {
        let space = try RepoFiles.space("fashion-mobilenet")
        #expect(StartWarnings.cutsAfterTraining(space))
        let warned = StartWarnings.warning(request(space, options: ["mode": "stop"]), space: space, strategy: "asha", trainer: "pytorch")
        #expect(warned?.contains("--fidelity from_scratch=1") == true, "\(warned ?? "nil")")
        // Not when the compressed architecture trains from the start, nor in promote mode, nor for other strategies.
        #expect(StartWarnings.warning(request(space, options: ["mode": "stop"], fidelity: ["from_scratch": .int(1)]), space: space,
                                      strategy: "asha", trainer: "pytorch") == nil)
        #expect(StartWarnings.warning(request(space, options: [:]), space: space, strategy: "asha", trainer: "pytorch") == nil)
        #expect(StartWarnings.warning(request(space, options: ["mode": "stop"]), space: space, strategy: "tpe", trainer: "pytorch") == nil)
        // A space whose compression is never structural: nothing to warn of.
        let plain = try RepoFiles.space("fashion-mobilenet") {
            $0.replacingOccurrences(of: "method: [none, magnitude, channel]", with: "method: [none, magnitude]")
                .replacingOccurrences(of: "rank_ratio: [1.0, 0.5, 0.25]", with: "rank_ratio: [1.0]")
        }
        #expect(!StartWarnings.cutsAfterTraining(plain))
        #expect(StartWarnings.warning(request(plain, options: ["mode": "stop"]), space: plain, strategy: "asha", trainer: "pytorch") == nil)
    }

    @Test("ASHA on a table is warned of: the table answers the same at every fidelity")
    func ashaOnATable() throws {
        let space = try RepoFiles.space("nas-bench-macro")
        let warned = StartWarnings.warning(request(space, options: [:]), space: space, strategy: "asha", trainer: "table")
        #expect(warned?.contains("the table trainer answers the same at every fidelity") == true)
    }
}
