import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// A worker with GPUs (`topiary worker --gpus`, `topiary-worker --gpus`): it says `cuda` in
/// its tags and gives each running job a GPU of its own through CUDA_VISIBLE_DEVICES. No GPU
/// is needed: the ids are what the worker hands out, and the fixture trainer reports the one
/// it was given.
@Suite("Workers with GPUs", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct WorkerGPUTests {
    /// A worker started with `gpus`, a search of `budget` fixture trials (fidelity mode=gpu)
    /// run to the end: each trial's `gpu` metric, and the `workers --json` listing.
    func run(_ agent: Agent, gpus: String, slots: Int, budget: Int) throws -> (gpus: [Int], workers: String) {
        let c = try Cluster(agent: agent)
        try c.startDaemon()
        try c.startWorker("g", slots: slots, trainer: "bad", extra: ["--gpus", gpus])
        try c.control(["search", "start", Paths.macroSpace, "--budget", String(budget), "--trainer", "bad", "--seed", "1", "--fidelity", "mode=gpu"])
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        return (trials.compactMap { t in t.metrics.flatMap { try? JSONText.parse($0) }?["gpu"]?.intValue }, try c.control(["workers", "--json"]))
    }

    @Test("a worker given two GPUs is tagged cuda and runs two jobs at once, one on each GPU", arguments: Agent.available)
    func eachJobItsOwnGPU(agent: Agent) throws {
        let r = try run(agent, gpus: "4,7", slots: 2, budget: 2)
        #expect(r.gpus.sorted() == [4, 7], "each of the two overlapping jobs gets its own GPU")
        #expect(r.workers.contains("\"cuda\""), "the worker's tags say it has GPUs: \(r.workers)")
    }

    @Test("--gpus none keeps the tags as given and leaves CUDA_VISIBLE_DEVICES as it was", arguments: Agent.available)
    func noGPUs(agent: Agent) throws {
        let r = try run(agent, gpus: "none", slots: 1, budget: 1)
        let inherited = Int(ProcessInfo.processInfo.environment["CUDA_VISIBLE_DEVICES"] ?? "") ?? -1
        #expect(r.gpus == [inherited], "the trainer saw the environment the worker was started with")
        #expect(!r.workers.contains("\"cuda\""), "\(r.workers)")
    }
}
