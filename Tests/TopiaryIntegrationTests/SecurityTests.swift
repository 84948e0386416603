import Foundation
import Testing
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// CURVE authentication, key files and the limits a hostile peer meets, against real
/// daemon and worker processes.
@Suite("Security", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct SecurityTests {
    /// Generates key pairs with the CLI under the cluster's directory.
    func keys(_ c: Cluster, _ names: [(String, String)]) throws {
        for (name, sub) in names {
            let r = try c.run(["keys", "generate", name, "--dir", c.dir.appendingPathComponent(sub).path])
            #expect(r.status == 0, "keys generate \(name): \(r.err)")
        }
    }

    func path(_ c: Cluster, _ rel: String) -> String { c.dir.appendingPathComponent(rel).path }

    @Test("CURVE: an allowed worker runs a search; unknown keys, plain workers and a wrong coordinator key are refused with clear errors; the allow-list is re-read")
    func curveEndToEnd() throws {
        let c = try Cluster()
        try keys(c, [("coordinator", "keys"), ("w1", "keys/workers"), ("stranger", "keys/other"), ("thief", "keys/other")])
        try c.startDaemon(["--key", path(c, "keys/coordinator.key"), "--allow", path(c, "keys/workers")])
        let coordinatorPub = path(c, "keys/coordinator.pub")
        try c.startWorker("w1", extra: ["--key", path(c, "keys/workers/w1.key"), "--server-key", coordinatorPub])
        try c.control(["search", "start", Paths.macroSpace, "--budget", "10"])
        try c.waitForState(1, "completed", timeout: 30)
        #expect(c.log("daemon.log").contains("security=CURVE, 1 worker keys allowed"))

        // A key not on the list: the handshake is refused; the worker says why and exits 1.
        let table = "table=table:\(Paths.table)"
        let stranger = try c.run(["worker", "--connect", c.workerEndpoint, "--name", "stranger", "--trainer", table,
                                  "--key", path(c, "keys/other/stranger.key"), "--server-key", coordinatorPub])
        #expect(stranger.status == 1)
        #expect(stranger.err.contains("refused this worker's key"), "\(stranger.err)")
        #expect(c.log("daemon.log").contains("refused a connection: its key is not on the allow-list"))

        // No CURVE at all, and CURVE against the wrong server key: logged clearly while retrying.
        let plain = try c.launch(["worker", "--connect", c.workerEndpoint, "--name", "plain", "--trainer", table], log: "plain.log")
        let wrong = try c.launch(["worker", "--connect", c.workerEndpoint, "--name", "wrong", "--trainer", table,
                                  "--key", path(c, "keys/workers/w1.key"), "--server-key", path(c, "keys/other/stranger.pub")], log: "wrong.log")
        defer { for p in [plain, wrong] where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        // (Which side notices the mismatch first depends on timing: the worker names it, or
        // sees the coordinator close the connection before it is set up.)
        try waitUntil(30, "the plain worker explains") {
            c.log("plain.log").contains("the coordinator requires CURVE") || c.log("plain.log").contains("do both sides agree on CURVE")
        }
        try waitUntil(30, "the worker with a wrong server key explains") { c.log("wrong.log").contains("is --server-key the coordinator's public key") }
        let listed = try JSONText.parse(try c.control(["workers", "--json"])).arrayValue ?? []
        #expect(listed.map { $0["worker"]?.stringValue } == ["w1"], "only the authenticated worker joined")
        #expect(listed.first?["key"]?.stringValue == "w1", "listed with its allow-list name")

        // Adding a .pub file admits the stranger without a restart.
        try FileManager.default.copyItem(atPath: path(c, "keys/other/stranger.pub"), toPath: path(c, "keys/workers/stranger.pub"))
        try waitUntil(30, "the allow-list is reloaded") { c.log("daemon.log").contains("allow-list reloaded") }
        try c.startWorker("stranger", extra: ["--key", path(c, "keys/other/stranger.key"), "--server-key", coordinatorPub])
        try waitUntil(30, "the stranger joins") {
            (try JSONText.parse(try c.control(["workers", "--json"])).arrayValue ?? []).contains { $0["worker"]?.stringValue == "stranger" }
        }

        // Another allowed key cannot take over a connected worker's name.
        try FileManager.default.copyItem(atPath: path(c, "keys/other/thief.pub"), toPath: path(c, "keys/workers/thief.pub"))
        try waitUntil(30, "the allow-list is reloaded again") { c.log("daemon.log").components(separatedBy: "allow-list reloaded").count >= 3 }
        let thief = try c.run(["worker", "--connect", c.workerEndpoint, "--name", "w1", "--trainer", table,
                               "--key", path(c, "keys/other/thief.key"), "--server-key", coordinatorPub])
        #expect(thief.status == 1)
        #expect(thief.err.contains("in use by another key"), "\(thief.err)")

        // One key sending HELLO after HELLO is told to retry later after five in 10 s.
        let raw = try RawPeer(c.workerEndpoint, curve: (try KeyFiles.loadPublic(coordinatorPub), try KeyFiles.loadPair(path(c, "keys/other/thief.key"))))
        for i in 0..<8 { try raw.send("HELLO", RawPeer.helloBody("thief-\(i)", trainers: ["none"])) }
        let replies = try raw.drain(for: 2)
        // (The thief's attempt on w1's name above was its first HELLO in this window.)
        let welcomed = replies.filter { $0.command == .welcome }.count
        let throttled = replies.filter { $0.command == .bye && ($0.body["reason"]?.stringValue ?? "").contains("more than 5 HELLOs") }.count
        #expect(welcomed <= 5 && throttled >= 3 && welcomed + throttled == 8, "welcomed \(welcomed), throttled \(throttled)")

        // Removing a key drops its worker: it is told and exits.
        try FileManager.default.removeItem(atPath: path(c, "keys/workers/w1.pub"))
        try waitUntil(30, "w1 is dropped") { c.workers["w1"]?.isRunning == false }
        #expect(c.workers["w1"]?.terminationStatus == 1)
        #expect(c.log("worker-w1.log").contains("removed from the coordinator's allow-list"))
        #expect(c.daemon?.isRunning == true)
    }

    @Test("key files are written 0600 and refused when others can read them; plain TCP beyond loopback needs --insecure")
    func keyFilesAndPlainRefusal() throws {
        let c = try Cluster()
        try keys(c, [("w", "k")])
        var st = stat()
        #expect(stat(path(c, "k/w.key"), &st) == 0)
        let secretMode: mode_t = st.st_mode & 0o777
        #expect(secretMode == 0o600)
        #expect(stat(path(c, "k/w.pub"), &st) == 0)
        let publicMode: mode_t = st.st_mode & 0o777
        #expect(publicMode == 0o644)
        let again = try c.run(["keys", "generate", "w", "--dir", path(c, "k")])
        #expect(again.status == 2 && again.err.contains("--force"))
        #expect(try c.run(["keys", "show", path(c, "k/w.key")]).out == c.run(["keys", "show", path(c, "k/w.pub")]).out)

        chmod(path(c, "k/w.key"), 0o640)
        let table = "table=table:\(Paths.table)"
        let loose = try c.run(["worker", "--key", path(c, "k/w.key"), "--server-key", path(c, "k/w.pub"), "--trainer", table])
        #expect(loose.status == 2)
        #expect(loose.err.contains("readable by group or others") && loose.err.contains("chmod 600"), "\(loose.err)")
        chmod(path(c, "k/w.key"), 0o600)

        // A key file whose public key does not match its secret is refused.
        let text = try String(contentsOfFile: path(c, "k/w.key"), encoding: .utf8)
        let other = try CurveKeyPair.generate().publicKey
        let tampered = text.split(separator: "\n").map { $0.hasPrefix("public-key") ? "public-key = \"\(other)\"" : String($0) }.joined(separator: "\n")
        try tampered.write(toFile: path(c, "k/w.key"), atomically: true, encoding: .utf8)
        chmod(path(c, "k/w.key"), 0o600)
        let bad = try c.run(["worker", "--key", path(c, "k/w.key"), "--server-key", path(c, "k/w.pub"), "--trainer", table])
        #expect(bad.status == 2 && bad.err.contains("does not belong to the secret-key"), "\(bad.err)")

        let open = try c.run(["serve", "--db", c.db, "--bind", "tcp://*:\(c.workerPort)", "--control", c.controlEndpoint])
        #expect(open.status == 2 && open.err.contains("reachable from other machines"), "\(open.err)")
        let control = try c.run(["serve", "--db", c.db, "--bind", c.workerEndpoint, "--control", "tcp://0.0.0.0:\(c.controlPort)"])
        #expect(control.status == 2 && control.err.contains("--insecure"))
        let dial = try c.run(["worker", "--connect", "tcp://192.0.2.1:5555", "--trainer", table])
        #expect(dial.status == 2 && dial.err.contains("plain TCP"), "\(dial.err)")
        #expect(!FileManager.default.fileExists(atPath: c.db), "nothing was created before the refusal")
    }

    @Test("limits: slots are capped, HELLO floods are throttled, workers past the maximum are turned away, oversized frames drop the peer; a real worker is served after")
    func limits() throws {
        let c = try Cluster()
        try c.startDaemon(["--max-workers", "3", "--max-slots-per-worker", "4", "--hello-rate", "5"])
        let greedy = try RawPeer(c.workerEndpoint)
        try greedy.send("HELLO", RawPeer.helloBody("greedy", slots: 1000, trainers: ["none"]))
        let welcome = try greedy.receive(timeout: 5)
        #expect(welcome?.command == .welcome)
        #expect(welcome?.body["slots"]?.intValue == 4)

        // 40 HELLOs at once from 40 peers: the rate limit answers most with "retry later",
        // the worker limit turns the rest away (also "retry later"); at most 3 workers in all.
        let context = ZMQContext()
        let flood = try (0..<40).map { _ in try RawPeer(c.workerEndpoint, context: context) }
        for (i, p) in flood.enumerated() { try p.send("HELLO", RawPeer.helloBody("flood-\(i)", trainers: ["none"])) }
        var answers: [Command: Int] = [:]
        for p in flood { if let e = try p.receive(timeout: 2) { answers[e.command, default: 0] += 1 } }
        #expect((answers[.welcome] ?? 0) <= 2)
        #expect((answers[.bye] ?? 0) >= 25, "throttled: \(answers)")
        let answered: Int = answers.values.reduce(0, +)
        #expect(answered == 40, "\(answers)")
        #expect(c.log("daemon.log").contains("too many HELLOs"))

        // A frame over the 1 MiB limit: libzmq drops that connection, nothing else.
        let big = try RawPeer(c.workerEndpoint)
        try big.send([Array(Wire.tag.utf8), Array("RESULT".utf8), [UInt8](repeating: 0x20, count: 2 << 20)])
        Thread.sleep(forTimeInterval: 0.5)
        #expect(c.daemon?.isRunning == true)

        // The fake workers never heartbeat: they are dropped, and a real worker gets in.
        try c.startWorker("real")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "10"])
        try c.waitForState(1, "completed", timeout: 30)
        #expect(c.daemon?.isRunning == true)
    }
}
