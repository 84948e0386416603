import Foundation
import Testing
import TopiaryArtifacts
import TopiaryCore
import TopiaryStore

/// The Python worker agent (`pip install ./Workers/python`, `topiary-worker`) against the real
/// daemon, beside the Swift worker: the cases the parametrised Swift tests do not cover.
@Suite("Python worker agent", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"),
       .enabled(if: PythonEnv.agent != nil, "needs the Python environment with pyzmq (bash scripts/setup.sh --python)"))
struct PythonAgentTests {
    @Test("a search with Swift and Python workers completes; both do trials, each recorded once")
    func mixed() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("swift", slots: 2, trainer: "sleepy", agent: .swift)
        try c.startWorker("python", slots: 2, trainer: "sleepy", agent: .python)
        try c.control(["search", "start", Paths.macroSpace, "--budget", "30", "--trainer", "sleepy", "--fidelity", "sleep_s=0.2"])
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .readOnly).trials(search: 1)
        #expect(trials.count == 30 && trials.allSatisfy { $0.state == .completed && $0.attempt == 1 })
        #expect(Set(trials.compactMap(\.workerID)) == ["swift", "python"])
        // Progress from both reached the store.
        let withProgress = try trials.filter { !(try Store(path: c.db, mode: .readOnly).progress(trial: $0.trialID)).isEmpty }
        #expect(Set(withProgress.compactMap(\.workerID)) == ["swift", "python"])
    }

    @Test("CURVE: an allowed Python worker runs a search; one with a key not on the list is refused, says why and exits 1")
    func curve() throws {
        let c = try Cluster(agent: .python)
        for (name, sub) in [("coordinator", "keys"), ("w1", "keys/workers"), ("stranger", "keys/other")] {
            #expect(try c.run(["keys", "generate", name, "--dir", c.dir.appendingPathComponent(sub).path]).status == 0)
        }
        func key(_ rel: String) -> String { c.dir.appendingPathComponent(rel).path }
        try c.startDaemon(["--key", key("keys/coordinator.key"), "--allow", key("keys/workers")])
        try c.startWorker("w1", extra: ["--key", key("keys/workers/w1.key"), "--server-key", key("keys/coordinator.pub")])
        try c.control(["search", "start", Paths.macroSpace, "--budget", "10"])
        try c.waitForState(1, "completed", timeout: 30)
        let stranger = try c.run(["-m", "topiary.worker", "--connect", c.workerEndpoint, "--name", "stranger", "--trainer", "table=table:\(Paths.table)",
                                  "--key", key("keys/other/stranger.key"), "--server-key", key("keys/coordinator.pub")],
                                 timeout: 30, executable: PythonEnv.agent!, env: ["PYTHONPATH": Paths.pythonPackage])
        #expect(stranger.status == 1 && stranger.err.contains("refused this worker's key"), "\(stranger.err)")
        let listed = try JSONText.parse(try c.control(["workers", "--json"])).arrayValue ?? []
        #expect(listed.map { $0["worker"]?.stringValue } == ["w1"])
    }

    @Test("cancelling a search stops the Python worker's trainers; the worker serves the next search")
    func cancel() throws {
        let c = try Cluster(agent: .python)
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad", extra: ["--kill-grace", "1"])
        try c.control(["search", "start", Paths.macroSpace, "--budget", "2", "--trainer", "bad", "--fidelity", "mode=hang"])
        try waitUntil(20, "both trials run") { (try c.show(1)["counts"]?["running"]?.intValue ?? 0) == 2 }
        try c.control(["search", "cancel", "1"])
        try waitUntil(15, "the trainers are gone") {
            // Trainer processes only: their command line starts with python3 and the script (the
            // worker's names it after --trainer; the bracket keeps this command's own line out).
            let ps = try c.run(["-c", "import subprocess; print(subprocess.run(['pgrep', '-f', '^[^ ]*python3 [^ ]*misbehaving_traine[r]'], capture_output=True, text=True).stdout)"],
                               executable: PythonEnv.agent!)
            return ps.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
        try c.control(["search", "start", Paths.macroSpace, "--budget", "2", "--trainer", "bad", "--fidelity", "mode=ok", "--seed", "2"])
        try c.waitForState(2, "completed", timeout: 30)
        #expect(try c.completed(2) == 2)
    }

    @Test("the Python worker uploads what its trainer declares and fetches what its jobs need")
    func artifacts() throws {
        let c = try Cluster(agent: .python)
        try c.startDaemon()
        try c.startWorker("p", trainer: "art")
        let input = c.dir.appendingPathComponent("input.bin")
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 5) }).write(to: input)
        let sha = String(try c.run(["artifacts", "add", input.path, "--db", c.db]).out.prefix(64))
        let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "3", "--trainer", "art", "--fidelity", "size_mb=2",
                           "--artifact", "input=\(sha)", "--follow", "--control", c.controlEndpoint], timeout: 60)
        #expect(r.status == 0, "\(r.err)")
        let store = try Store(path: c.db, mode: .readOnly)
        try waitUntil(20, "the uploads are stored") { try store.artifacts().filter { $0.state == .stored }.count == 3 }
        for t in try store.trials(search: 1) { #expect((try JSONText.parse(t.metrics ?? "{}"))["input_bytes"]?.doubleValue == 300_000) }
        for a in try store.artifacts() {
            #expect(try ArtifactHasher.file(ArtifactDirectory.beside(database: c.db).path(of: a.sha256)).sha256 == a.sha256)
        }
    }
}
