import Foundation
import Testing
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// The daemon and workers as real processes on loopback. Needs the built `topiary`
/// binary (`swift build` first; scripts/test.sh does) and ../shared's NAS-Bench-Macro table.
@Suite("Daemon and workers", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct DaemonTests {
    func tableAccuracy() throws -> [String: (runs: [Double], mean: Double)] { try tableRuns() }

    @Test("a daemon and three workers run a 200-trial search to completion, every result from the table", arguments: Agent.available)
    func twoHundredTrials(agent: Agent) throws {
        // auto picks bo for 200 trials; in a debug build a draw of ten of its suggestions
        // can hold the loop for about a second, the whole liveness window at 200 ms beats.
        let c = try Cluster(heartbeatMs: 500, agent: agent)
        try c.startDaemon()
        for w in ["a", "b", "c"] { try c.startWorker(w) }
        let out = try c.control(["search", "start", Paths.macroSpace, "--budget", "200", "--seed", "3"])
        #expect(out.contains("search 1 started"))
        try c.waitForState(1, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let trials = try store.trials(search: 1)
        #expect(trials.count == 200)
        #expect(trials.allSatisfy { $0.state == .completed && $0.attempt == 1 })
        #expect(Set(trials.map(\.candidateID)).count == 200, "a candidate is never evaluated twice in a search")
        // Each accuracy is one of the three recorded runs of that architecture.
        let table = try tableAccuracy()
        let space = try SearchSpace.load(path: Paths.macroSpace)
        for t in trials.prefix(50) {
            let cand = try space.decode(json: try #require(try store.candidate(t.candidateID)).canonicalJSON)
            let key = try space.encodeBenchmarkKey(cand)
            #expect(table[key]!.runs.contains(try #require(t.accuracy)))
        }
        let workersUsed = Set(trials.compactMap(\.workerID))
        #expect(workersUsed == ["a", "b", "c"])
        // Under a loaded machine a worker can go silent past the liveness window and be
        // dropped for a moment; it registers again on its next heartbeat, so wait for that.
        try waitUntil(15, "the workers list names a, b and c") {
            let list = try c.control(["workers"])
            return list.contains("a") && list.contains("b") && list.contains("c")
        }
    }

    @Test("a worker killed with SIGKILL mid-trial: its trials finish elsewhere, each recorded exactly once", arguments: Agent.available)
    func workerKilled(agent: Agent) throws {
        let c = try Cluster(agent: agent)
        try c.startDaemon()
        try c.startWorker("doomed", slots: 2, trainer: "sleepy")
        try c.startWorker("survivor", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "24", "--trainer", "sleepy", "--fidelity", "sleep_s=0.4"])
        try waitUntil(20, "the doomed worker runs a trial") {
            let w = try JSONText.parse(try c.control(["workers", "--json"]))
            return w.arrayValue?.contains { $0["worker"]?.stringValue == "doomed" && ($0["running"]?.intValue ?? 0) > 0 } ?? false
        }
        c.killWorker("doomed")
        try c.waitForState(1, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let trials = try store.trials(search: 1)
        #expect(trials.count == 24)
        #expect(trials.allSatisfy { $0.state == .completed })
        let retried = trials.filter { $0.attempt > 1 }
        #expect(!retried.isEmpty, "the killed worker's trials ran again")
        #expect(retried.allSatisfy { $0.workerID == "survivor" })
        // Exactly once: one row per trial, and one requeue event per extra attempt.
        let requeues = try store.events(search: 1).filter { $0.kind == "trial.requeued" }
        #expect(requeues.count == retried.reduce(0) { $0 + $1.attempt - 1 })
        #expect(c.log("daemon.log").contains("worker lost"))
    }

    @Test("the daemon killed with SIGKILL and restarted: the search completes its budget, no committed result lost", arguments: Agent.available)
    func daemonKilled(agent: Agent) throws {
        let c = try Cluster(agent: agent)
        try c.startDaemon()
        try c.startWorker("w1", slots: 2, trainer: "sleepy")
        try c.startWorker("w2", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "40", "--trainer", "sleepy", "--fidelity", "sleep_s=0.2"])
        try waitUntil(30, "ten trials complete") { try c.completed(1) >= 10 }
        c.killDaemon()
        let before = try Store(path: c.db, mode: .mustExist).trials(search: 1, state: .completed)
        #expect(before.count >= 10)
        try c.startDaemon()
        try c.waitForState(1, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let after = try store.trials(search: 1)
        #expect(after.count == 40)
        #expect(after.allSatisfy { $0.state == .completed })
        let afterByID = Dictionary(uniqueKeysWithValues: after.map { ($0.trialID, $0) })
        for t in before {
            #expect(afterByID[t.trialID]?.metrics == t.metrics, "committed result of trial \(t.trialID) kept")
            #expect(afterByID[t.trialID]?.attempt == t.attempt)
        }
        #expect(try Store.check(path: c.db).isIntact)
    }

    @Test("a worker joining mid-search receives work within one heartbeat")
    func lateJoiner() throws {
        let c = try Cluster(heartbeatMs: 500)
        try c.startDaemon()
        try c.startWorker("early", slots: 1, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "20", "--trainer", "sleepy", "--fidelity", "sleep_s=0.5"])
        try waitUntil(20, "the search is running") { try c.completed(1) >= 1 }
        try c.startWorker("late", slots: 2, trainer: "sleepy")
        var joinedAt: Date?
        try waitUntil(20, "the late worker runs a trial") {
            let w = try JSONText.parse(try c.control(["workers", "--json"]))
            guard let late = w.arrayValue?.first(where: { $0["worker"]?.stringValue == "late" }) else { return false }
            if joinedAt == nil { joinedAt = Date().addingTimeInterval(-Double(late["connected_s"]?.intValue ?? 0)) }
            return (late["running"]?.intValue ?? 0) + (late["done"]?.intValue ?? 0) > 0
        }
        let store = try Store(path: c.db, mode: .mustExist)
        let first = try store.trials(search: 1).filter { $0.workerID == "late" }.compactMap(\.startedAt).min()
        let registered = try store.workers().first { $0.id == "late" }
        let start = try #require(first)
        if let since = registered?.firstSeen {
            #expect(start.timeIntervalSince(since) < 0.5, "first job \(start.timeIntervalSince(since)) s after joining")
        }
        _ = joinedAt
    }

    @Test("malformed frames and unknown commands are logged and dropped; the daemon keeps serving")
    func malformedFrames() throws {
        let c = try Cluster()
        try c.startDaemon()
        let ctx = ZMQContext()
        let s = try ZMQSocket(ctx, .dealer)
        try s.connect(c.workerEndpoint)
        let garbage: [[[UInt8]]] = [
            [[0xFF, 0x00]],
            [Array("TPY1".utf8), Array("HELLO".utf8)],
            [Array("TPY9".utf8), Array("HELLO".utf8), Array("{}".utf8)],
            [Array("TPY1".utf8), Array("EXPLODE".utf8), Array("{}".utf8)],
            [Array("TPY1".utf8), Array("HELLO".utf8), Array("{not json".utf8)],
            [Array("TPY1".utf8), Array("HELLO".utf8), Array(#"{"worker":7,"slots":"many"}"#.utf8)],
            [Array("TPY1".utf8), Array("RESULT".utf8), Array(#"{"trial":99999,"attempt":1,"metrics":{}}"#.utf8)],
            [Array("TPY1".utf8), Array("RESULT".utf8), Array("[1,2,3]".utf8)],
            // Log injection: a name and a tag that would start lines of their own.
            [Array("TPY1".utf8), Array("HELLO".utf8),
             Array(#"{"worker":"evil\nFORGED LINE","host":"h\r","slots":1,"tags":["t\nFORGED TAG"],"trainers":["table"],"version":99}"#.utf8)],
        ]
        for m in garbage { try s.send(m) }
        try waitUntil(5, "the daemon has read the garbage") { c.log("daemon.log").contains("EXPLODE") }
        s.close()
        try c.startWorker("real")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "10"])
        try c.waitForState(1, "completed", timeout: 30)
        #expect(c.daemon?.isRunning == true)
        let log = c.log("daemon.log")
        #expect(log.contains("dropped a malformed message") || log.contains("rejected a bad HELLO"))
        #expect(log.contains("unknown command 'EXPLODE'"))
        #expect(log.contains("TPY9"))
        #expect(log.contains(#"evil\nFORGED LINE"#), "the name is written escaped")
        #expect(!log.split(separator: "\n").contains { $0.hasPrefix("FORGED") }, "no forged line")
        #expect(!log.contains("\r"), "no raw carriage return")
    }

    @Test("the daemon enforces deadlines: an attempt held past its deadline and the grace is cancelled at its worker and failed")
    func deadlineEnforced() throws {
        let c = try Cluster()
        try c.startDaemon(["--deadline-grace", "0.5"])
        try c.startWorker("w")
        // The table answers after 3 s; the deadline is 1 s (the table trainer itself does not enforce it).
        try c.control(["search", "start", Paths.macroSpace, "--budget", "2", "--deadline", "1", "--fidelity", "sleep_s=3"])
        try c.waitForState(1, "completed", timeout: 30)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        #expect(trials.count == 2)
        for t in trials {
            #expect(t.state == .failed, "\(t.state)")
            #expect(t.error?.contains("no result within the deadline of 1 s") == true, "\(t.error ?? "")")
        }
        #expect(c.log("daemon.log").contains("trial past its deadline"))
        try waitUntil(10, "the worker was told to cancel") { c.log("worker-w.log").contains("job cancelled") }
        Thread.sleep(forTimeInterval: 3)  // past the table's 3 s: no answer changes anything
        #expect(try Store(path: c.db, mode: .mustExist).trials(search: 1).allSatisfy { $0.state == .failed })
    }

    @Test("a worker refuses a command trainer named 'table' (table searches' jobs carry no graph), naming the fix, with exit 2")
    func commandTrainerNamedTable() throws {
        let c = try Cluster()
        let r = try c.run(["worker", "--connect", c.workerEndpoint, "--trainer", "table=python3 train.py"], timeout: 10)
        #expect(r.status == 2)
        #expect(r.err.contains("'table' is the name of benchmark-table trainers") && r.err.contains("give this command another name"), "\(r.err)")
    }

    @Test("bad control requests get a clear error and the daemon keeps serving")
    func badControl() throws {
        let c = try Cluster()
        try c.startDaemon()
        #expect(throws: HarnessError.self) { try c.control(["search", "show", "42"]) }
        #expect(throws: HarnessError.self) { try c.control(["search", "start", Paths.macroSpace, "--budget", "5", "--strategy", "magic"]) }
        #expect(try c.control(["search", "list"]).contains("id"))
    }

    @Test("search start: strategy options in the comma form reach the daemon; bad options and values are refused by name with exit 2")
    func typedStartRequest() throws {
        let c = try Cluster()
        try c.startDaemon()
        let out = try c.control(["search", "start", Paths.macroSpace, "--budget", "5", "--strategy", "evolution",
                                 "--strategy-option", "population=10,sample=3", "--fidelity", "sleep_s=0.1", "--seed", "18446744073709551615"])
        #expect(out.contains("search 1 started"))
        let stored = try Store(path: c.db, mode: .readOnly).search(1)
        #expect(stored?.seedValue == UInt64.max, "the full unsigned seed is kept")
        let settings = try JSONText.parse(stored?.strategySettings ?? "{}")
        #expect(settings["strategy_options"]?["population"]?.stringValue == "10" && settings["strategy_options"]?["sample"]?.stringValue == "3")
        #expect(settings["fidelity"]?["sleep_s"]?.doubleValue == 0.1)
        for (args, message) in [(["--budget", "0"], "--budget must be an integer from 1"),
                                (["--budget", "5", "--objective", "acc:maximum"], "--objective 'acc:maximum'"),
                                (["--budget", "5", "--strategy-option", "population"], "--strategy-option"),
                                (["--budget", "5", "--strategy", "evolution", "--strategy-option", "population=1"], "population=1 is invalid")] {
            let r = try c.run(["search", "start", Paths.macroSpace] + args + ["--control", c.controlEndpoint])
            #expect(r.status == 2, "\(args)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
        }
    }
}

@Suite("Hardware-aware searches and export", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct HardwareAwareSearchTests {
    @Test("a latency budget admits only candidates predicted under it, and what cannot fit the target is never trained")
    func latencyBudgetAndFeasibility() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "40", "--target", "raspberry-pi-4", "--constraint", "latency_ms<=8"])
        try c.waitForState(1, "completed", timeout: 60)
        try c.control(["search", "start", Paths.macroSpace, "--budget", "20", "--target", "cortex-m7"])
        try c.waitForState(2, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let first = try store.trials(search: 1)
        #expect(first.count == 40)
        for t in first {
            let predicted = try store.measurements(candidate: t.candidateID).filter { $0.target == "raspberry-pi-4" && $0.source == .predicted }
            #expect(predicted.count == 1)
            #expect((predicted.first?.latencyMs ?? .infinity) <= 8)
        }
        // Cortex-M7: 2 MiB of flash; every trained candidate's stored model fits it.
        for t in try store.trials(search: 2) {
            let cand = try #require(try store.candidate(t.candidateID))
            #expect(cand.sizeBytes <= 2 * 1024 * 1024)
        }
        let show = try c.show(2)
        #expect((show["infeasible_on_target"]?.intValue ?? 0) > 0)
        #expect(show["last_infeasibility"]?.stringValue?.contains("flash") == true || show["last_infeasibility"]?.stringValue?.contains("storage") == true
                || show["last_infeasibility"]?.stringValue != nil)
    }

    @Test("the calibration saved beside a target travels with the search and scales its latency predictions")
    func savedCalibrationTravelsWithTheSearch() throws {
        let c = try Cluster()
        // A targets directory with the Raspberry Pi profile and a calibration saying the
        // device runs at half the profile's time, with main-memory traffic 6x as slow and
        // convolutions' arithmetic 2.5x as fast (proportions a few measurements alone could
        // not find); another with a calibration of another version of the profile, which
        // the search refuses to use.
        let targets = c.dir.appendingPathComponent("targets"), stale = c.dir.appendingPathComponent("stale")
        for d in [targets, stale] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("SearchSpaces/targets/raspberry-pi-4.yaml").path,
                                             toPath: d.appendingPathComponent("raspberry-pi-4.yaml").path)
        }
        let cal = #"{"format":1,"target":"raspberry-pi-4","profile":"","samples":20,"lambda":100,"scale":0.5,"coefficients":{"memory.main":3,"compute.conv.fp32":0.2}}"#
        try cal.write(to: targets.appendingPathComponent("raspberry-pi-4.calibration.json"), atomically: true, encoding: .utf8)
        try cal.replacingOccurrences(of: #""profile":"""#, with: #""profile":"0123456789abcdef""#)
            .write(to: stale.appendingPathComponent("raspberry-pi-4.calibration.json"), atomically: true, encoding: .utf8)
        /// The CLI's prediction for a stored candidate: with the saved calibration, or the profile alone.
        func predicted(_ store: Store, _ id: String, uncalibrated: Bool) throws -> Double {
            let cand = try #require(try store.candidate(id))
            let r = try c.run(["candidate", "latency", "-", "--space", Paths.macroSpace, "--target", "raspberry-pi-4", "--targets", targets.path,
                               "--json"] + (uncalibrated ? ["--uncalibrated"] : []), stdin: cand.canonicalJSON)
            return try #require(try JSONText.parse(r.out)["milliseconds"]?.doubleValue)
        }
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "6", "--seed", "3", "--target", "raspberry-pi-4", "--targets", targets.path])
        try c.waitForState(1, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let trials = try store.trials(search: 1)
        #expect(trials.count == 6)
        for t in trials {
            let stored = try #require(try store.measurements(candidate: t.candidateID).first { $0.target == "raspberry-pi-4" && $0.source == .predicted })
            let calibrated = try predicted(store, t.candidateID, uncalibrated: false)
            #expect(abs(stored.latencyMs - calibrated) < 1e-6 * calibrated, "stored \(stored.latencyMs), calibrated \(calibrated)")
            #expect(abs(stored.latencyMs / (try predicted(store, t.candidateID, uncalibrated: true)) - 0.5) > 0.01)
        }
        // Six measurements of the device in the store, each half the saved calibration's
        // prediction: the next search fits them starting from the saved calibration, so it
        // keeps those proportions and predicts half of what the calibration says.
        c.killDaemon()
        do {
            let db = try Store(path: c.db, mode: .mustExist)
            try db.recordMeasurements(trials.map { t in
                let stored = try! db.measurements(candidate: t.candidateID).first { $0.source == .predicted }!
                return MeasurementRecord(candidateID: t.candidateID, target: "raspberry-pi-4", source: .measured, latencyMs: stored.latencyMs / 2,
                                         recordedBy: "pi-1", recordedAt: Date())
            })
        }
        try c.startDaemon()
        try c.control(["search", "start", Paths.macroSpace, "--budget", "6", "--seed", "11", "--target", "raspberry-pi-4", "--targets", targets.path])
        try c.waitForState(2, "completed", timeout: 60)
        let again = try Store(path: c.db, mode: .mustExist)
        var checked = 0
        for t in try again.trials(search: 2) where !trials.contains(where: { $0.candidateID == t.candidateID }) {
            let stored = try #require(try again.measurements(candidate: t.candidateID).first { $0.target == "raspberry-pi-4" && $0.source == .predicted })
            let calibrated = try predicted(again, t.candidateID, uncalibrated: false)
            #expect(abs(stored.latencyMs / calibrated - 0.5) < 0.01, "stored \(stored.latencyMs), saved calibration \(calibrated)")
            checked += 1
        }
        #expect(checked >= 3)
        // A calibration of another profile version is not used: the search warns and predicts with the profile.
        let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "2", "--target", "raspberry-pi-4", "--targets", stale.path,
                           "--control", c.controlEndpoint])
        #expect(r.status == 0)
        #expect(r.err.contains("not using") && r.err.contains("another version"), "\(r.err)")
    }

    @Test("target calibrate writes a calibration, and --prior starts a new fit from it")
    func calibrateFromTheCommandLineWithAPrior() throws {
        let c = try Cluster()
        let targets = c.dir.appendingPathComponent("targets")
        try FileManager.default.createDirectory(at: targets, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("SearchSpaces/targets/raspberry-pi-4.yaml").path,
                                         toPath: targets.appendingPathComponent("raspberry-pi-4.yaml").path)
        // Measurements that are the profile's predictions times a factor, as a CSV.
        let sample = try c.run(["space", "sample", Paths.macroSpace, "--count", "24", "--seed", "5", "--json"])
        #expect(sample.status == 0)
        let candidates = sample.out.split(separator: "\n").map(String.init)
        func csv(_ name: String, factor: Double, rows: ArraySlice<String>) throws -> String {
            var lines = ["measured_ms,candidate"]
            for cand in rows {
                let r = try c.run(["candidate", "latency", "-", "--space", Paths.macroSpace, "--target", "raspberry-pi-4", "--targets", targets.path,
                                   "--uncalibrated", "--json"], stdin: cand)
                let ms = try #require(try JSONText.parse(r.out)["milliseconds"]?.doubleValue)
                lines.append("\(factor * ms),\"" + cand.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
            }
            let path = c.dir.appendingPathComponent(name).path
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let first = try csv("first.csv", factor: 0.5, rows: candidates.prefix(20))
        var r = try c.run(["target", "calibrate", "raspberry-pi-4", "--targets", targets.path, "--measurements", first, "--space", Paths.macroSpace])
        #expect(r.status == 0, "\(r.err)")
        let saved = targets.appendingPathComponent("raspberry-pi-4.calibration.json").path
        let cal = try JSONText.parse(String(contentsOfFile: saved, encoding: .utf8))
        #expect(abs((cal["scale"]?.doubleValue ?? 0) - 0.5) < 0.01)
        // Four later measurements, 20% slower: starting from the saved calibration.
        let later = try csv("later.csv", factor: 0.6, rows: candidates.suffix(4))
        let out = c.dir.appendingPathComponent("refined.json").path
        r = try c.run(["target", "calibrate", "raspberry-pi-4", "--targets", targets.path, "--measurements", later, "--space", Paths.macroSpace,
                       "--holdout", "0", "--prior", "saved", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("starting from \(saved)"), "\(r.out)")
        let refined = try JSONText.parse(String(contentsOfFile: out, encoding: .utf8))
        #expect(abs((refined["scale"]?.doubleValue ?? 0) - 0.6) < 0.01)
        // A prior that is not a calibration of this target is refused, naming the file.
        let bad = c.dir.appendingPathComponent("bad.json").path
        try #"{"format":1,"target":"jetson-nano","scale":1,"lambda":1,"samples":2,"coefficients":{}}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        r = try c.run(["target", "calibrate", "raspberry-pi-4", "--targets", targets.path, "--measurements", later, "--space", Paths.macroSpace,
                       "--prior", bad, "--dry-run"])
        #expect(r.status == 2)
        #expect(r.err.contains("jetson-nano"), "\(r.err)")
    }

    @Test("export writes the candidate, its graph and a model card with metrics, cost and latency")
    func export() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "15", "--target", "raspberry-pi-4"])
        try c.waitForState(1, "completed", timeout: 60)
        let out = c.dir.appendingPathComponent("export").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.binary)
        p.arguments = ["export", "--db", c.db, "--candidate", "best", "--out", out]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let card = try String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8)
        #expect(card.contains("accuracy") && card.contains("raspberry-pi-4") && card.contains("predicted"))
        let space = try SearchSpace.load(path: Paths.macroSpace)
        let cand = try space.decode(json: try String(contentsOfFile: out + "/candidate.json", encoding: .utf8))
        let best = try Store(path: c.db, mode: .mustExist).leaderboard(LeaderboardQuery(search: 1, limit: 1)).first
        #expect(cand.id == best?.candidateID)
        let graph = try JSONText.parse(try String(contentsOfFile: out + "/graph.json", encoding: .utf8))
        #expect((graph["nodes"]?.arrayValue?.count ?? 0) > 5)
    }
}

@Suite("Strategies through the daemon", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct StrategyDaemonTests {
    @Test("regularized evolution runs distributed: budget met, no candidate evaluated twice")
    func evolution() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.startWorker("b")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "80", "--strategy", "evolution", "--seed", "5",
                       "--strategy-option", "population=16"])
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        #expect(trials.count == 80)
        #expect(Set(trials.map(\.candidateID)).count == 80)
    }

    @Test("ASHA promotes candidates to higher fidelities and never repeats a (candidate, fidelity)")
    func ashaPromotes() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        let started = try c.run(["search", "start", Paths.macroSpace, "--budget", "60", "--strategy", "asha", "--fidelity", "epochs=9",
                                 "--strategy-option", "min_fidelity=1", "--strategy-option", "eta=3", "--control", c.controlEndpoint])
        #expect(started.status == 0 && started.err.contains("warning: the table trainer answers the same at every fidelity"), "\(started.err)")
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        #expect(trials.count == 60)
        #expect(Set(trials.map(\.fidelity)).isSuperset(of: [1, 3]))
        let pairs = trials.map { "\($0.candidateID)@\($0.fidelity)" }
        #expect(Set(pairs).count == pairs.count)
        // Every trial above the lowest rung is a promotion of a candidate run lower first.
        for t in trials where t.fidelity > 1 {
            #expect(trials.contains { $0.candidateID == t.candidateID && $0.fidelity < t.fidelity && $0.trialID < t.trialID })
        }
    }

    @Test("ASHA in stop mode: the daemon cancels trials whose learning curve falls behind")
    func ashaStops() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 3, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "15", "--strategy", "asha", "--trainer", "sleepy",
                       "--fidelity", "epochs=9", "--fidelity", "sleep_s=0.9",
                       "--strategy-option", "mode=stop", "--strategy-option", "min_fidelity=1", "--strategy-option", "eta=3"])
        try c.waitForState(1, "completed", timeout: 90)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        #expect(trials.count == 15)
        let pruned = trials.filter { $0.state == .pruned }
        #expect(!pruned.isEmpty, "some trials were stopped early")
        #expect(trials.contains { $0.state == .completed })
        #expect(c.log("daemon.log").contains("trial stopped early"))
    }
}
