import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// `topiary supernet train` trains a space's supernet on a worker and stores its checkpoint;
/// `search start --evaluator supernet` evaluates candidates by inheriting its weights, and the
/// finalists are fine-tuned from it.
@Suite("Supernets", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct SupernetTests {
    static let fashionSpace = Paths.repo.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path

    @Test("a supernet for a benchmark space, an evaluator with no supernet trained, and a malformed evaluator are refused (exit 2) before anything is stored")
    func refusals() throws {
        let c = try Cluster()
        try c.startDaemon()
        let a = try c.run(["supernet", "train", Paths.macroSpace, "--control", c.controlEndpoint])
        #expect(a.status == 2 && a.err.contains("evaluated by the benchmark's table"), "\(a.err)")
        let b = try c.run(["search", "start", Self.fashionSpace, "--budget", "3", "--evaluator", "supernet", "--control", c.controlEndpoint])
        #expect(b.status == 2 && b.err.contains("no trained supernet for the space 'fashion-mobilenet'") && b.err.contains("topiary supernet train"), "\(b.err)")
        let d = try c.run(["search", "start", Self.fashionSpace, "--budget", "3", "--evaluator", "weights", "--control", c.controlEndpoint])
        #expect(d.status == 2 && d.err.contains("--evaluator 'weights'"), "\(d.err)")
        let e = try c.run(["search", "start", Self.fashionSpace, "--budget", "3", "--evaluator", "supernet:7", "--control", c.controlEndpoint])
        #expect(e.status == 2 && e.err.contains("search 7 does not train a supernet"), "\(e.err)")
        #expect(try Store(path: c.db, mode: .readOnly).searches().isEmpty)
        let l = try c.run(["supernet", "list", "--db", c.db])
        #expect(l.status == 0 && l.out.contains("no supernets"), "\(l.out)")
    }

    @Test("train a supernet on a worker, list it, then a search evaluates by inheritance and fine-tunes its finalist from it",
          .enabled(if: PythonEnv.imports("torch, onnx") != nil, "needs the Python environment with torch (bash scripts/setup.sh --python)"))
    func trainThenInherit() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 1, trainer: "pytorch")
        let tiny = ["--fidelity", "val_fraction=0.03", "--fidelity", "test_fraction=0.01"]
        let t = try c.run(["supernet", "train", Self.fashionSpace, "--epochs", "1", "--data-fraction", "0.01", "--pool", "4", "--follow",
                           "--control", c.controlEndpoint] + tiny, timeout: 400)
        #expect(t.status == 0, "\(t.out)\n\(t.err)\n\(c.log("worker-a.log").suffix(3000))")
        let store = try Store(path: c.db, mode: .readOnly)
        let supernets = try store.supernets()
        #expect(supernets.count == 1 && supernets[0].isReady, "\(supernets.map { ($0.trial?.state, $0.checkpoint?.state) })")
        #expect(supernets.first?.trial?.candidateID == (try SearchSpace.load(path: Self.fashionSpace)).extremeNetwork(largest: true).id)
        let l = try c.run(["supernet", "list", "--db", c.db])
        #expect(l.status == 0 && l.out.contains("fashion-mobilenet") && l.out.contains("completed"), "\(l.out)")

        let s = try c.run(["search", "start", Self.fashionSpace, "--budget", "3", "--strategy", "random", "--seed", "2", "--evaluator", "supernet",
                           "--fidelity", "data_fraction=0.01", "--finalists", "1", "--final-fidelity", "epochs=1", "--follow",
                           "--control", c.controlEndpoint] + tiny, timeout: 600)
        #expect(s.status == 0, "\(s.out)\n\(s.err)\n\(c.log("worker-a.log").suffix(3000))")
        let trials = try store.trials(search: 2)
        #expect(trials.count == 4 && trials.allSatisfy { $0.state == .completed }, "\(trials.map { ($0.state, $0.error ?? "") })")
        for trial in trials {
            let metrics = try JSONText.parse(trial.metrics ?? "{}")
            #expect(metrics["info"]?["inherited"]?["supernet_space"]?.stringValue == "fashion-mobilenet", "\(metrics.text().prefix(300))")
            // Search trials train nothing; the finalist is fine-tuned from the supernet (one
            // epoch of training, then whatever fine-tuning its compression asks for).
            let trained = metrics["info"]?["phases"]?.arrayValue?.first { $0["name"]?.stringValue == "train" }?["epochs"]?.intValue
            let done = metrics["epochs_done"]?.intValue ?? -1
            if trial.phase == .final {
                #expect(trained == 1 && done >= 1, "\(metrics.text().prefix(600))")
            } else {
                #expect(trained == 0 && done == 0, "\(metrics.text().prefix(600))")
            }
        }
        // The final phase does not take the evaluator's 0 epochs or tenth of the test set.
        let settings = try JSONText.parse(try store.search(2)?.strategySettings ?? "{}")
        #expect(settings["fidelity"]?["epochs"]?.intValue == 0 && settings["final_fidelity"]?["epochs"]?.intValue == 1, "\(settings.text())")
        #expect(settings["final_fidelity"]?["test_fraction"]?.doubleValue == 0.01, "\(settings.text())")
        let shown = try c.control(["search", "show", "2"])
        #expect(shown.contains("evaluator: supernet:1"), "\(shown)")
    }
}
