import Foundation
import Testing
import TopiaryArtifacts
import TopiaryStore

/// The Python environment of `scripts/setup.sh --python`, if made: `python` has numpy, onnx
/// and onnxruntime; `agent` has pyzmq (for the Python worker agent).
enum PythonEnv {
    static let venvPython: String = (ProcessInfo.processInfo.environment["TOPIARY_VENV"] ?? (NSHomeDirectory() + "/.cache/topiary/venv")) + "/bin/python"
    static let python: String? = imports("numpy, onnx, onnxruntime")
    static let agent: String? = imports("zmq")

    static func imports(_ modules: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: venvPython) else { return nil }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: venvPython)
        check.arguments = ["-c", "import \(modules)"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return nil }
        check.waitUntilExit()
        return check.terminationStatus == 0 ? venvPython : nil
    }
}

/// A network namespace with its own address, joined to this one by a veth pair: a worker
/// run inside it reaches the coordinator as another host would.
final class NetworkNamespace {
    let name: String
    let hostAddress: String
    let peerAddress: String
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why namespaces cannot be made here, or nil when they can.
    static let unavailable: String? = {
        guard let ip else { return "iproute2's `ip` is not installed (apt-get install iproute2)" }
        let probe = "tpyprobe\(getpid() % 10_000)"
        guard run(ip, ["netns", "add", probe]) == 0 else { return "`ip netns add` is not permitted here (needs root or CAP_SYS_ADMIN)" }
        _ = run(ip, ["netns", "del", probe])
        return nil
    }()

    init() throws {
        let n = Int.random(in: 1..<250)
        name = "tpy\(getpid() % 10_000)x\(n)"
        hostAddress = "10.231.\(n).1"
        peerAddress = "10.231.\(n).2"
        let ip = Self.ip!
        let host = "tpyh\(n)x\(getpid() % 1000)", peer = "tpyw\(n)x\(getpid() % 1000)"
        for args in [["netns", "add", name], ["link", "add", host, "type", "veth", "peer", "name", peer], ["link", "set", peer, "netns", name],
                     ["addr", "add", "\(hostAddress)/30", "dev", host], ["link", "set", host, "up"],
                     ["netns", "exec", name, "ip", "addr", "add", "\(peerAddress)/30", "dev", peer],
                     ["netns", "exec", name, "ip", "link", "set", peer, "up"], ["netns", "exec", name, "ip", "link", "set", "lo", "up"]] {
            guard Self.run(ip, args) == 0 else {
                _ = Self.run(ip, ["netns", "del", name])
                throw HarnessError("ip \(args.joined(separator: " ")) failed")
            }
        }
    }

    deinit { _ = Self.run(Self.ip!, ["netns", "del", name]) }  // the veth pair goes with it

    static func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

@Suite("A worker on another host", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct RemoteWorkerTests {
    @Test("a worker in its own network namespace, over CURVE: after the search its directory is deleted, and export still writes a model.onnx that runs in ONNX Runtime and matches the stored hash",
          .enabled(if: NetworkNamespace.unavailable == nil, "network namespaces are not available here: \(NetworkNamespace.unavailable ?? "")"),
          .enabled(if: PythonEnv.python != nil, "needs the Python environment with onnx and onnxruntime (bash scripts/setup.sh --python)"))
    func remoteWorker() throws {
        let ns = try NetworkNamespace()
        let c = try Cluster()
        let keys = c.dir.appendingPathComponent("keys")
        for (name, dir) in [("coordinator", keys), ("remote", keys.appendingPathComponent("workers"))] {
            let r = try c.run(["keys", "generate", name, "--dir", dir.path])
            #expect(r.status == 0, "\(r.err)")
        }
        let port = freePort()
        c.daemon = try c.launch(["serve", "--db", c.db, "--bind", "tcp://\(ns.hostAddress):\(port)", "--control", c.controlEndpoint,
                                 "--key", keys.appendingPathComponent("coordinator.key").path, "--allow", keys.appendingPathComponent("workers").path,
                                 "--heartbeat-ms", "200", "--log-level", "info"], log: "daemon.log")
        try waitUntil(10, "the daemon answers") { (try? c.control(["workers"])) != nil }

        // The worker: in the namespace, its own HOME and work directory.
        let home = c.dir.appendingPathComponent("remote-home")
        let work = home.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let trainer = Paths.repo.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/onnx_trainer.py").path
        let worker = try c.launch(["netns", "exec", ns.name, "env", "HOME=\(home.path)", Paths.binary, "worker",
                                   "--connect", "tcp://\(ns.hostAddress):\(port)", "--name", "remote", "--slots", "2",
                                   "--key", keys.appendingPathComponent("workers/remote.key").path,
                                   "--server-key", keys.appendingPathComponent("coordinator.pub").path,
                                   "--trainer", "onnx=\(PythonEnv.python!) \(trainer)", "--work-dir", work.path, "--heartbeat-ms", "200"],
                                  log: "worker-remote.log", executable: NetworkNamespace.ip!)
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        try waitUntil(20, "the remote worker joins") { (try? c.control(["workers"]))?.contains("remote") == true }
        let workers = try c.control(["workers", "--json"])
        #expect(workers.contains(ns.peerAddress) || workers.contains("remote"), "\(workers)")

        try c.control(["search", "start", Paths.macroSpace, "--budget", "4", "--trainer", "onnx"])
        try c.waitForState(1, "completed", timeout: 120)
        try waitUntil(30, "every model is uploaded") {
            let rows = try Store(path: c.db, mode: .readOnly).artifacts()
            return rows.count == 4 && rows.allSatisfy { $0.state == .stored }
        }
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        try FileManager.default.removeItem(at: home)

        let out = c.dir.appendingPathComponent("best").path
        let exported = try c.run(["export", "--db", c.db, "--search", "1", "--out", out])
        #expect(exported.status == 0, "\(exported.err)")
        let store = try Store(path: c.db, mode: .readOnly)
        let best = try #require(try store.leaderboard(LeaderboardQuery(search: 1, limit: 1)).first)
        let row = try #require(try store.storedArtifact(trial: best.trialID, name: "model.onnx"))
        #expect(try ArtifactHasher.file(out + "/model.onnx").sha256 == row.sha256)
        let run = try c.run([PythonEnv.python!, "-c", """
            import numpy as np, onnxruntime as ort, sys
            s = ort.InferenceSession(sys.argv[1]); i = s.get_inputs()[0]
            y = s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)})[0]
            print("output", y.shape, bool(np.isfinite(y).all()))
            """, out + "/model.onnx"], executable: "/usr/bin/env")
        #expect(run.status == 0 && run.out.contains("output (1, 10) True"), "\(run.out)\(run.err)")
        #expect(try String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8).contains("uploaded by worker remote"))
    }
}
