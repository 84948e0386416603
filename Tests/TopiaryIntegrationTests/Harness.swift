import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// Real processes on loopback: a daemon and workers started from the built `topiary`
/// binary, each with its own ports and database.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `$TOPIARY_BIN`, else the `topiary` built beside this test bundle (any --scratch-path), else .build/debug.
    static let binary: String = {
        let env = ProcessInfo.processInfo.environment["TOPIARY_BIN"].map { [$0] } ?? []
        let beside = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("topiary").path }
        let all = env + (beside.map { [$0] } ?? []) + [repo.appendingPathComponent(".build/debug/topiary").path]
        return all.first { FileManager.default.isExecutableFile(atPath: $0) } ?? all.last!
    }()
    static let table = repo.deletingLastPathComponent().appendingPathComponent("shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").path
    static let macroSpace = repo.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path
    static let sleepyTrainer = repo.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/sleepy_table_trainer.py").path
    static let misbehavingTrainer = repo.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/misbehaving_trainer.py").path
    static let pythonPackage = repo.appendingPathComponent("Workers/python").path
    static let artifactTrainer = repo.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/artifact_trainer.py").path
    static var haveBinary: Bool { FileManager.default.isExecutableFile(atPath: binary) }
}

/// A free TCP port on loopback (bound, read back, released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Which worker agent a test runs: the Swift binary's `topiary worker`, or the Python
/// package's `topiary-worker` (Workers/python), when a Python with pyzmq is there.
enum Agent: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case swift, python
    var testDescription: String { "\(rawValue) worker" }
    static var available: [Agent] { PythonEnv.agent == nil ? [.swift] : [.swift, .python] }
}

final class Cluster: @unchecked Sendable {
    let dir: URL
    let agent: Agent
    let db: String
    let workerPort = freePort()
    let controlPort = freePort()
    var daemon: Process?
    var workers: [String: Process] = [:]
    let heartbeatMs: Int

    init(heartbeatMs: Int = 200, agent: Agent = .swift) throws {
        self.agent = agent
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-it-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        db = dir.appendingPathComponent("runs.sqlite").path
        self.heartbeatMs = heartbeatMs
    }

    deinit {
        for p in [daemon].compactMap({ $0 }) + Array(workers.values) where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        if ProcessInfo.processInfo.environment["TOPIARY_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }

    var workerEndpoint: String { "tcp://127.0.0.1:\(workerPort)" }
    var controlEndpoint: String { "tcp://127.0.0.1:\(controlPort)" }

    func launch(_ args: [String], log: String, env: [String: String] = [:], executable: String? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? Paths.binary)
        p.arguments = args
        let logURL = dir.appendingPathComponent(log)
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let h = try FileHandle(forWritingTo: logURL)
        h.seekToEndOfFile()
        p.standardOutput = h
        p.standardError = h
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        try p.run()
        return p
    }

    func startDaemon(_ extra: [String] = [], env: [String: String] = [:]) throws {
        daemon = try launch(["serve", "--db", db, "--bind", workerEndpoint, "--control", controlEndpoint,
                             "--heartbeat-ms", String(heartbeatMs), "--liveness", "5", "--log-level", "info"] + extra, log: "daemon.log", env: env)
        try waitUntil(10, "the daemon answers") { (try? self.control(["workers"])) != nil }
    }

    func killDaemon() {
        guard let d = daemon else { return }
        kill(d.processIdentifier, SIGKILL)
        d.waitUntilExit()
    }

    func startWorker(_ name: String, slots: Int = 2, trainer: String = "table", extra: [String] = [], agent: Agent? = nil) throws {
        let spec = trainer == "table" ? "table=table:\(Paths.table)"
            : trainer == "bad" ? "bad=python3 \(Paths.misbehavingTrainer)"
            : trainer == "art" ? "art=python3 \(Paths.artifactTrainer)"
            : trainer == "pytorch" ? "pytorch=\(PythonEnv.venvPython) \(Paths.repo.appendingPathComponent("Workers/pytorch/trainer.py").path)"
            : "sleepy=python3 \(Paths.sleepyTrainer)"
        let args = ["--connect", workerEndpoint, "--name", name, "--slots", String(slots), "--trainer", spec, "--heartbeat-ms", String(heartbeatMs),
                    "--work-dir", workDir(name).path, "--cache", dir.appendingPathComponent("cache-\(name)").path] + extra
        switch agent ?? self.agent {
        case .swift:
            workers[name] = try launch(["worker"] + args, log: "worker-\(name).log", env: ["TOPIARY_TABLE": Paths.table])
        case .python:
            workers[name] = try launch(["-m", "topiary.worker"] + args, log: "worker-\(name).log",
                                       env: ["TOPIARY_TABLE": Paths.table, "PYTHONPATH": Paths.pythonPackage], executable: PythonEnv.agent!)
        }
    }

    /// Where a worker keeps its jobs' directories (`trial-TRIAL-ATTEMPT`).
    func workDir(_ worker: String) -> URL { dir.appendingPathComponent("work-\(worker)") }

    func killWorker(_ name: String) {
        guard let w = workers[name] else { return }
        kill(w.processIdentifier, SIGKILL)
        w.waitUntilExit()
    }

    /// Runs `topiary ARGS --control …` and returns stdout.
    @discardableResult
    func control(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.binary)
        p.arguments = args + ["--control", controlEndpoint]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw HarnessError("topiary \(args.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `topiary ARGS` to its end (killed after `timeout` s): exit status, stdout, stderr.
    func run(_ args: [String], timeout: Double = 30, stdin: String? = nil, executable: String? = nil,
             env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? Paths.binary)
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new } }
        p.arguments = args
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        if stdin != nil { p.standardInput = input }
        try p.run()
        if let stdin {
            // Small inputs (a candidate's JSON) fit the pipe's buffer before anything is read.
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Resident memory of the daemon in KiB (from /proc).
    var daemonRSSKiB: Int {
        guard let pid = daemon?.processIdentifier,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func show(_ search: Int) throws -> JSONValue {
        try JSONText.parse(try control(["search", "show", String(search), "--json"]))
    }

    func completed(_ search: Int) throws -> Int { try show(search)["counts"]?["completed"]?.intValue ?? 0 }

    func waitForState(_ search: Int, _ state: String, timeout: Double) throws {
        try waitUntil(timeout, "search \(search) becomes \(state)") { (try? self.show(search)["state"]?.stringValue) == state }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }
}

/// NAS-Bench-Macro's recorded accuracies: the three runs and their mean, by architecture key.
func tableRuns() throws -> [String: (runs: [Double], mean: Double)] {
    var out: [String: ([Double], Double)] = [:]
    for line in try String(contentsOfFile: Paths.table, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
        let f = line.split(separator: ",").map(String.init)
        out[f[0]] = ([Double(f[1])!, Double(f[2])!, Double(f[3])!], Double(f[4])!)
    }
    return out
}

/// The completed trials of a search whose accuracy is not what the table says for their
/// architecture (one of its runs, or its mean for the sleepy trainer): each is a result
/// that was corrupted or attributed to the wrong trial.
func resultsNotFromTable(_ store: Store, search: Int64) throws -> [TrialRecord] {
    let table = try tableRuns()
    let space = try SearchSpace.load(path: Paths.macroSpace)
    return try store.trials(search: search).filter { t in
        guard t.state == .completed, let rec = try store.candidate(t.candidateID), let a = t.accuracy else { return t.state == .completed }
        let key = try space.encodeBenchmarkKey(try space.decode(json: rec.canonicalJSON))
        guard let row = table[key] else { return true }
        return !(row.runs.contains(a) || row.mean == a)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func waitUntil(_ seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.1)
    }
    throw HarnessError("timed out after \(seconds) s waiting until \(what)")
}
