import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// A search that cannot run says so, names the reason and the fix, and exits non-zero.
@Suite("Honest CLI: refusals, stalls and empty searches are said, with exit status", .serialized,
       .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct HonestCLITests {
    @Test("search start refuses (exit 2) what nothing can satisfy and metric names no trainer reports, naming the fix")
    func refusals() throws {
        let c = try Cluster()
        try c.startDaemon()
        let cases: [([String], [String])] = [
            (["--target", "edge-tpu"], ["0 of", "sampled candidates run on edge-tpu", "runs only int8", "weight_bits 8"]),
            (["--target", "raspberry-pi-4", "--constraint", "latency_ms<=0.0001"],
             ["meet the constraints", "latency_ms<=0.0001", "raise the limit to about"]),
            (["--objective", "acc:max"], ["no metric 'acc'", "did you mean 'accuracy'?"]),
            (["--constraint", "param<=100"], ["unknown figure 'param'", "did you mean 'params'?"]),
            (["--target", "raspbery-pi-4"], ["no target 'raspbery-pi-4'", "did you mean 'raspberry-pi-4'?", "--targets"]),
        ]
        for (args, messages) in cases {
            let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "5"] + args + ["--control", c.controlEndpoint])
            #expect(r.status == 2, "\(args): \(r.err)")
            for m in messages { #expect(r.err.contains(m), "\(args): \(r.err)") }
        }
        #expect(try Store(path: c.db, mode: .readOnly).searches().isEmpty, "nothing refused was stored")
    }

    @Test("search show says when no connected worker offers the search's trainer")
    func waitingForATrainer() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "3", "--trainer", "sleepy"])
        try waitUntil(10, "search show names the missing trainer") {
            (try? c.control(["search", "show", "1"]))?.contains("waiting: no connected worker offers the trainer 'sleepy' (1 connected, offering table") == true
        }
        #expect(try c.show(1)["waiting"]?.stringValue?.contains("--trainer sleepy=COMMAND") == true)
    }

    @Test("--follow exits 1 when the search ends with no completed trial, saying why")
    func emptySearchFails() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", trainer: "bad")
        let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "2", "--trainer", "bad", "--fidelity", "mode=crash",
                           "--max-attempts", "1", "--follow", "--control", c.controlEndpoint], timeout: 60)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains("search 1 ended with no completed trial (2 failed"), "\(r.err)")
        #expect(r.err.contains("last failure:") || r.out.contains("last failure:"), "\(r.err)")
        // A search that completes trials exits 0 with the same command.
        try c.startWorker("b")
        let ok = try c.run(["search", "start", Paths.macroSpace, "--budget", "3", "--follow", "--control", c.controlEndpoint], timeout: 60)
        #expect(ok.status == 0, "\(ok.err)")
    }

    @Test("a binary copied outside the checkout finds the built-in targets; an explicit directory without the target names --targets")
    func builtinTargets() throws {
        let c = try Cluster()
        let copy = c.dir.appendingPathComponent("bin/topiary")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.binary, toPath: copy.path)
        func run(_ args: [String]) throws -> (Int32, String, String) {
            let p = Process()
            p.executableURL = copy
            p.arguments = args
            p.currentDirectoryURL = c.dir
            var env = ProcessInfo.processInfo.environment
            env["HOME"] = c.dir.appendingPathComponent("home").path
            env["TOPIARY_TARGETS"] = nil
            env["XDG_DATA_HOME"] = nil
            p.environment = env
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
        let shown = try run(["target", "show", "raspberry-pi-4"])
        #expect(shown.0 == 0, "\(shown.2)")
        #expect(shown.1.contains("home/.local/share/topiary/targets/raspberry-pi-4.yaml"))
        let listed = try run(["target", "list"])
        #expect(listed.0 == 0 && listed.1.contains("edge-tpu") && listed.1.contains("cortex-m7"))
        let missing = try run(["target", "show", "raspberry-pi-4", "--targets", c.dir.path])
        #expect(missing.0 == 2)
        #expect(missing.2.contains("(--targets)") && missing.2.contains("leave both unset for the built-in targets"), "\(missing.2)")
    }

    @Test("leaderboard JSON and CSV carry the architecture and compression choices; export picks the best of --search and refuses an ambiguous best")
    func leaderboardChoicesAndExport() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "6"])
        try c.waitForState(1, "completed", timeout: 60)
        try c.control(["search", "start", Paths.macroSpace, "--budget", "6", "--seed", "7"])
        try c.waitForState(2, "completed", timeout: 60)

        let json = try c.run(["leaderboard", "--db", c.db, "--search", "2", "--format", "json"])
        #expect(json.status == 0)
        let rows = try #require(try JSONText.parse(json.out).arrayValue)
        let space = try SearchSpace.load(path: Paths.macroSpace)
        for row in rows {
            let arch = try #require(row["arch"]?.objectPairs)
            #expect(arch.count >= 8, "every dimension of the candidate")
            // The choices rebuild the candidate the row names.
            let candidate = JSONValue.object([("arch", row["arch"]!), ("compression", row["compression_choices"]!), ("space", row["space"]!)])
            #expect(try space.decode(json: candidate).id == row["candidate_id"]?.stringValue)
        }
        let csv = try c.run(["leaderboard", "--db", c.db, "--format", "csv"])
        let header = csv.out.split(separator: "\n").first.map { $0.split(separator: ",").map(String.init) } ?? []
        #expect(header.contains { $0.hasPrefix("arch.") } && header.contains("compression.pruning.method"), "\(header)")

        // The strategy's recommendation is named (for random search, the best observed).
        let table = try c.run(["leaderboard", "--db", c.db, "--search", "2"])
        #expect(table.out.contains("recommended by search 2's strategy: \(rows.first?["candidate_id"]?.stringValue ?? "?") (#1 above)"), "\(table.out)")
        #expect(try c.show(2)["recommended"]?.stringValue == rows.first?["candidate_id"]?.stringValue)
        let ambiguous = try c.run(["export", "--db", c.db, "--out", c.dir.appendingPathComponent("x").path])
        #expect(ambiguous.status == 2 && ambiguous.err.contains("2 searches have results (1, 2)") && ambiguous.err.contains("--search"))
        let out = c.dir.appendingPathComponent("best2").path
        let exported = try c.run(["export", "--db", c.db, "--search", "2", "--out", out])
        #expect(exported.status == 0, "\(exported.err)")
        let cand = try space.decode(json: try String(contentsOfFile: out + "/candidate.json", encoding: .utf8))
        #expect(cand.id == rows.first?["candidate_id"]?.stringValue)
        let noSuch = try c.run(["export", "--db", c.db, "--search", "9", "--out", out])
        #expect(noSuch.status == 2 && noSuch.err.contains("--search 9: no such search"))
    }
}

@Suite("Budget and strategy choice", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct BudgetTests {
    @Test("failed trials do not consume the budget (a key missing from the table): the search ends with its budget of completed trials")
    func failuresAreReplaced() throws {
        let c = try Cluster()
        // A table missing every fifth architecture: about 20% of candidates cannot be evaluated.
        let lines = try String(contentsOfFile: Paths.table, encoding: .utf8).split(whereSeparator: \.isNewline)
        let partial = c.dir.appendingPathComponent("partial.csv")
        try ([String(lines[0])] + lines.dropFirst().enumerated().filter { $0.offset % 5 != 0 }.map { String($0.element) })
            .joined(separator: "\n").write(to: partial, atomically: true, encoding: .utf8)
        try c.startDaemon()
        c.workers["a"] = try c.launch(["worker", "--connect", c.workerEndpoint, "--name", "a", "--slots", "2", "--trainer", "table=table:\(partial.path)",
                                       "--heartbeat-ms", "200"], log: "worker-a.log")
        let out = try c.control(["search", "start", Paths.macroSpace, "--budget", "40", "--seed", "9"])
        #expect(out.contains("strategy bo (auto:"), "\(out)")
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .readOnly).trials(search: 1)
        let failed = trials.filter { $0.state == .failed }
        #expect(!failed.isEmpty && failed.allSatisfy { $0.error?.contains("is not in") == true })
        #expect(trials.filter { $0.state == .completed }.count == 40, "the budget is of completed trials")
        #expect(trials.count == 40 + failed.count)
    }
}

@Suite("Reproducible searches", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct ReproducibleTests {
    /// The candidate ids of a search, in trial order, run with `workers` workers.
    func sequence(workers: Int, reproducible: Bool) throws -> [String] {
        let c = try Cluster()
        try c.startDaemon()
        for w in 0..<workers { try c.startWorker("w\(w)", slots: 2, trainer: "sleepy") }
        try c.control(["search", "start", Paths.macroSpace, "--budget", "32", "--strategy", "evolution", "--seed", "5", "--trainer", "sleepy",
                       "--strategy-option", "initial=8", "--fidelity", "sleep_s=0.05"] + (reproducible ? ["--reproducible"] : []))
        try c.waitForState(1, "completed", timeout: 90)
        return try Store(path: c.db, mode: .readOnly).trials(search: 1).map(\.candidateID)
    }

    @Test("--reproducible: the same trial sequence with 1 and 3 workers")
    func sameSequence() throws {
        let one = try sequence(workers: 1, reproducible: true)
        let three = try sequence(workers: 3, reproducible: true)
        #expect(one.count == 32 && one == three)
    }
}
