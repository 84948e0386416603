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

final class Cluster: @unchecked Sendable {
    let dir: URL
    let db: String
    let workerPort = freePort()
    let controlPort = freePort()
    var daemon: Process?
    var workers: [String: Process] = [:]
    let heartbeatMs: Int

    init(heartbeatMs: Int = 200) throws {
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-it-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        db = dir.appendingPathComponent("runs.sqlite").path
        self.heartbeatMs = heartbeatMs
    }

    deinit {
        for p in [daemon].compactMap({ $0 }) + Array(workers.values) where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: dir)
    }

    var workerEndpoint: String { "tcp://127.0.0.1:\(workerPort)" }
    var controlEndpoint: String { "tcp://127.0.0.1:\(controlPort)" }

    func launch(_ args: [String], log: String, env: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.binary)
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

    func startDaemon(env: [String: String] = [:]) throws {
        daemon = try launch(["serve", "--db", db, "--bind", workerEndpoint, "--control", controlEndpoint,
                             "--heartbeat-ms", String(heartbeatMs), "--liveness", "5", "--log-level", "info"], log: "daemon.log", env: env)
        try waitUntil(10, "the daemon answers") { (try? self.control(["workers"])) != nil }
    }

    func killDaemon() {
        guard let d = daemon else { return }
        kill(d.processIdentifier, SIGKILL)
        d.waitUntilExit()
    }

    func startWorker(_ name: String, slots: Int = 2, trainer: String = "table", options: [String] = []) throws {
        let spec = trainer == "table" ? "table=table:\(Paths.table)"
            : trainer == "bad" ? "bad=python3 \(Paths.misbehavingTrainer)" : "sleepy=python3 \(Paths.sleepyTrainer)"
        workers[name] = try launch(["worker", "--connect", workerEndpoint, "--name", name, "--slots", String(slots),
                                    "--trainer", spec, "--heartbeat-ms", String(heartbeatMs),
                                    "--work-dir", workDir(name).path] + options, log: "worker-\(name).log",
                                   env: ["TOPIARY_TABLE": Paths.table])
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
