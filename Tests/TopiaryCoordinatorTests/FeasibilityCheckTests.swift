import Foundation
import Testing
import TopiaryCore
import TopiaryHardware
@testable import TopiaryCoordinator

/// The repository's spaces and targets.
enum RepoFiles {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func space(_ name: String, edit: (String) -> String = { $0 }) throws -> SearchSpace {
        let yaml = try String(contentsOf: repo.appendingPathComponent("SearchSpaces/\(name).yaml"), encoding: .utf8)
        return try SearchSpace.parse(yaml: edit(yaml), file: name)
    }
    static func model(_ target: String) throws -> LatencyModel {
        let yaml = try String(contentsOf: repo.appendingPathComponent("SearchSpaces/targets/\(target).yaml"), encoding: .utf8)
        return LatencyModel(target: try HardwareTarget.parse(yaml: yaml, file: target))
    }
}

@Suite("Feasibility check: a search nothing can satisfy is refused, with the reason and the fix")
struct FeasibilityCheckTests {
    static func floatOnly(_ yaml: String) -> String {
        yaml.replacingOccurrences(of: "weight_bits: [32, 16, 8, 4]", with: "weight_bits: [32]")
            .replacingOccurrences(of: "activation_bits: [32, 8]", with: "activation_bits: [32]")
    }

    @Test("a float-only space on an int8-only accelerator: refused, naming the precision and the setting to change")
    func precision() throws {
        let space = try RepoFiles.space("fashion-mobilenet", edit: Self.floatOnly)
        var check = FeasibilityCheck(space: space, target: "edge-tpu", model: try RepoFiles.model("edge-tpu"), constraints: [])
        check.limit = 500
        let outcome = check.run(seed: 1)
        #expect(outcome.feasible == 0 && outcome.sampled == 500)
        #expect(outcome.infeasible["precision"] == 500)
        #expect(throws: FeasibilityError.self) { try check.check(seed: 1) }
        do { try check.check(seed: 1) } catch {
            #expect(error.description.contains("0 of 500 sampled candidates run on edge-tpu"))
            #expect(error.description.contains("runs only int8"))
            #expect(error.description.contains("weight_bits 8"))
        }
    }

    @Test("a latency limit nothing meets: refused, suggesting a limit that the best sampled candidate meets")
    func constraint() throws {
        let space = try RepoFiles.space("fashion-mobilenet")
        let limit = try Constraint.parse("latency_ms<=0.001")
        var check = FeasibilityCheck(space: space, target: "raspberry-pi-4", model: try RepoFiles.model("raspberry-pi-4"), constraints: [limit])
        check.limit = 300
        let o = check.run(seed: 3)
        #expect(o.feasible == 0 && o.broken["latency_ms<=0.001"] == 300 - o.infeasible.values.reduce(0, +))
        let best = try #require(o.bestFigure["latency_ms<=0.001"])
        let message = FeasibilityCheck.explain(o, target: "raspberry-pi-4", constraints: [limit])
        #expect(message.contains("raise the limit to about"))
        // The suggested limit admits the best candidate seen (rounded up, never down).
        let suggested = try #require(Double(message.components(separatedBy: "raise the limit to about ")[1].split(separator: " ")[0]))
        #expect(suggested >= best && suggested <= best * 1.01)
        // Raising the limit to it makes the search feasible.
        var relaxed = check
        relaxed = FeasibilityCheck(space: space, target: "raspberry-pi-4", model: check.model, constraints: [try Constraint.parse("latency_ms<=\(suggested)")])
        relaxed.limit = 300
        #expect(relaxed.run(seed: 3).feasible == 1)
    }

    @Test("a feasible search stops sampling at the first candidate that passes")
    func feasibleStopsEarly() throws {
        let space = try RepoFiles.space("fashion-mobilenet")
        let o = FeasibilityCheck(space: space, target: "raspberry-pi-4", model: try RepoFiles.model("raspberry-pi-4"), constraints: []).run(seed: 1)
        #expect(o.feasible == 1 && o.sampled == 1)
        let tiny = try Constraint.parse("params<=1")
        var noModel = FeasibilityCheck(space: space, target: "x", model: nil, constraints: [tiny])
        noModel.limit = 200
        let o2 = noModel.run(seed: 1)
        #expect(o2.feasible == 0 && o2.sampled == 200 && o2.broken[tiny.description] == 200)
    }

    @Test("metric names: built-in trainers' names are checked with a suggestion; an unknown trainer's are not")
    func metricNames() throws {
        #expect(throws: MetricNameError.self) { try MetricCatalog.check(objectives: ["acc:max"], trainer: "pytorch", kind: .train, benchmark: nil) }
        do { try MetricCatalog.check(objectives: ["accuracy:max", "latncy_ms:min"], trainer: "pytorch", kind: .train, benchmark: nil) } catch {
            #expect(error.description.contains("did you mean 'latency_ms'?"))
        }
        try MetricCatalog.check(objectives: ["accuracy:max", "latency_ms:min", "params:min"], trainer: "pytorch", kind: .train, benchmark: nil)
        try MetricCatalog.check(objectives: ["mean_acc:max"], trainer: "table", kind: .train, benchmark: "nas-bench-macro")
        try MetricCatalog.check(objectives: ["anything:max"], trainer: "my-trainer", kind: .train, benchmark: nil)
        #expect(throws: MetricNameError.self) { try MetricCatalog.check(objectives: ["accuracy:max"], trainer: "onnxruntime", kind: .measure, benchmark: nil) }
        #expect(throws: ConstraintError.self) { try Constraint.parse("param<=5") }
        do { _ = try Constraint.parse("param<=5") } catch { #expect("\(error)".contains("did you mean 'params'?")) }
    }
}
