import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// Trainers that go wrong (Fixtures/misbehaving_trainer.py, one `mode` per search), run by a
/// real worker for a real daemon: each ends in a clear FAILED reason on the trial, retried
/// as configured, with its log kept, and the worker serves the next search.
@Suite("Trainer misbehaviour", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct TrainerMisbehaviourTests {
    /// Starts search number `search` of `budget` trials in `mode` and waits for it to end.
    @discardableResult
    func run(_ c: Cluster, _ search: Int, mode: String, budget: Int = 2, _ options: [String] = [], timeout: Double = 60) throws -> [TrialRecord] {
        try c.control(["search", "start", Paths.macroSpace, "--budget", String(budget), "--trainer", "bad", "--seed", String(search),
                       "--fidelity", "mode=\(mode)"] + options)
        try c.waitForState(search, "completed", timeout: timeout)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: Int64(search))
        #expect(trials.count == budget)
        return trials
    }

    /// The log path the FAILED reason names: `… (log: PATH)`.
    func logPath(_ error: String?) -> String? {
        guard let error, let r = error.range(of: "(log: ") else { return nil }
        return String(error[r.upperBound...].prefix { $0 != ")" })
    }

    func logText(_ path: String?) -> String {
        path.flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// `topiary ARGS` without a control endpoint (read commands): stdout.
    func cli(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.binary)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("a result without the search's objective metric is recorded as failed, naming the metric; a search asking for loss takes it")
    func resultWithoutObjective() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad")
        for t in try run(c, 1, mode: "no_accuracy") {
            #expect(t.state == .failed && t.attempt == 1)
            #expect(t.error?.contains("the result has no 'accuracy', an objective of the search") == true, "\(t.error ?? "")")
        }
        #expect(c.log("daemon.log").contains("a result without the search's objective"))
        for t in try run(c, 2, mode: "no_accuracy", ["--objective", "loss:min"]) {
            #expect(t.state == .completed, "\(t.error ?? "")")
        }
    }

    @Test("no result line, and garbage on stdout: FAILED naming what happened, not retried by default, log kept; the worker serves on")
    func noResultAndGarbage() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad")
        for t in try run(c, 1, mode: "no_result") {
            #expect(t.state == .failed && t.attempt == 1)
            let error = t.error ?? ""
            #expect(error.contains("trainer exited without a result line"), "\(error)")
            #expect(error.contains("forgot to report"), "the reason quotes the log's end: \(error)")
            #expect(logText(logPath(error)).contains("misbehaving trainer: mode no_result"))
            let events = try Store(path: c.db, mode: .mustExist).events(trial: t.trialID)
            #expect(events.contains { $0.kind == "trial.failed" && $0.message.contains("without a result line") })
        }
        for t in try run(c, 2, mode: "garbage") {
            #expect(t.state == .failed && t.attempt == 1)
            #expect(t.error?.contains("without a result line (1 malformed result lines were ignored)") == true, "\(t.error ?? "")")
            let log = logText(logPath(t.error))
            #expect(log.contains("binary junk") && log.contains("{not json at all") && log.contains("ninety percent") && log.contains("unknown-event"))
        }
        #expect(try run(c, 3, mode: "ok").allSatisfy { $0.state == .completed && $0.accuracy == 0.9 })
        let listed = try cli(["trials", "--db", c.db, "--search", "1", "--format", "json"])
        #expect(listed.contains("trainer exited without a result line"))
        #expect(c.workers["w"]?.isRunning == true)
    }

    @Test("a crash: not retried by default; with --retry-failed, retried up to --max-attempts with every attempt's log kept; a signal is retried by default")
    func crashes() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad")
        for t in try run(c, 1, mode: "crash") {
            #expect(t.state == .failed && t.attempt == 1)
            #expect(t.error?.contains("trainer exited with status 3") == true && t.error?.contains("CUDA out of memory") == true, "\(t.error ?? "")")
        }
        let store = try Store(path: c.db, mode: .mustExist)
        for t in try run(c, 2, mode: "crash", ["--retry-failed", "--max-attempts", "3"]) {
            #expect(t.state == .failed && t.attempt == 3)
            #expect(t.error?.contains("trainer exited with status 3") == true, "\(t.error ?? "")")
            #expect(t.error?.contains("gave up after 3 of 3 attempts") == true, "\(t.error ?? "")")
            let requeues = try store.events(trial: t.trialID).filter { $0.kind == "trial.requeued" }
            #expect(requeues.count == 2)
            #expect(requeues.allSatisfy { $0.message.contains("exited with status 3") && $0.message.contains("trial.log") })
            for attempt in 1...3 {
                let log = c.workDir("w").appendingPathComponent("trial-\(t.trialID)-\(attempt)/trial.log").path
                #expect(logText(log).contains("CUDA out of memory"), "attempt \(attempt)'s log is kept")
            }
        }
        let show = try c.show(2)
        #expect(show["counts"]?["failed"]?.intValue == 2)
        for t in try run(c, 3, mode: "segv", budget: 1, ["--max-attempts", "2"]) {
            #expect(t.state == .failed && t.attempt == 2, "a signal is retryable without --retry-failed")
            #expect(t.error?.contains("trainer killed by signal 11 (Segmentation fault)") == true, "\(t.error ?? "")")
            #expect(t.error?.contains("about to crash hard") == true)
        }
        #expect(try run(c, 4, mode: "ok").allSatisfy { $0.state == .completed })
    }

    @Test("hanging past the deadline: SIGTERM, then SIGKILL after the grace; FAILED with the deadline; children cannot keep the job alive", arguments: Agent.available)
    func hangs(agent: Agent) throws {
        let c = try Cluster(agent: agent)
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad", extra: ["--kill-grace", "1"])
        let start = Date()
        for t in try run(c, 1, mode: "hang", ["--deadline", "1"], timeout: 30) {
            #expect(t.state == .failed && t.attempt == 1)
            #expect(t.error?.contains("deadline of 1 s passed") == true, "\(t.error ?? "")")
            #expect(t.error?.contains("ignored SIGTERM and was killed with SIGKILL") == true, "\(t.error ?? "")")
            #expect(logText(logPath(t.error)).contains("hanging, ignoring SIGTERM"))
        }
        #expect(Date().timeIntervalSince(start) < 15)
        for t in try run(c, 2, mode: "hang_child", budget: 1, ["--deadline", "1"], timeout: 30) {
            #expect(t.state == .failed && t.error?.contains("deadline of 1 s passed") == true, "\(t.error ?? "")")
        }
        for t in try run(c, 3, mode: "hang", budget: 1, ["--deadline", "1", "--retry-failed", "--max-attempts", "2"], timeout: 30) {
            #expect(t.state == .failed && t.attempt == 2, "--retry-failed retries a deadline too")
        }
        #expect(try run(c, 4, mode: "ok").allSatisfy { $0.state == .completed })
    }

    @Test("megabytes of output: nothing blocks, the log is capped with its end kept, the result stands, the worker's memory stays small", arguments: Agent.available)
    func flood(agent: Agent) throws {
        let c = try Cluster(agent: agent)
        try c.startDaemon()
        try c.startWorker("w", slots: 2, trainer: "bad", extra: ["--max-log-mb", "1"])
        for t in try run(c, 1, mode: "flood", timeout: 60) {
            #expect(t.state == .completed && t.accuracy == 0.7)
            let path = c.workDir("w").appendingPathComponent("trial-\(t.trialID)-1/trial.log").path
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 1 << 20 && size < (1 << 20) + (16 << 10), "capped at 1 MiB plus notes and the last 4 KiB: \(size)")
            let log = logText(path)
            #expect(log.contains("[topiary: log truncated at 1048576 bytes"))
            #expect(log.contains("flood end"), "the end of the output is kept")
            #expect(log.contains("longer than 1048576 bytes was dropped"))
        }
        let pid = try #require(c.workers["w"]?.processIdentifier)
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
            #expect(kb < 200_000, "worker peak resident memory \(kb) kB")
        }
        #expect(try run(c, 2, mode: "ok").allSatisfy { $0.state == .completed })
    }
}
