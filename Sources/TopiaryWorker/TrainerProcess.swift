import Foundation
import Glibc
import Synchronization
import TopiaryCore
import TopiaryWire

/// What running trainers report back to the worker's loop.
enum TrainerEvent: Sendable {
    case progress(AttemptRef, step: Int, metrics: [String: Double])
    case result(AttemptRef, metrics: [String: Double], info: JSONValue?)
    /// The process ended. `error` is nil only when it exited 0 after a result line.
    case finished(AttemptRef, error: String?, retryable: Bool)
}

/// A thread-safe mailbox from trainer reader threads to the worker loop.
final class EventQueue: Sendable {
    private let items = Mutex<[TrainerEvent]>([])
    func push(_ e: TrainerEvent) { items.withLock { $0.append(e) } }
    func drain() -> [TrainerEvent] { items.withLock { let out = $0; $0.removeAll(); return out } }
}

/// One trainer subprocess running one job (the trainer protocol, docs/PROTOCOL.md).
///
/// The job JSON goes to the process on stdin and into `job.json` in its directory
/// (named by `TOPIARY_JOB`). Stdout lines that are JSON objects with an `event` of
/// `progress` or `result` are reports; every other line, and all of stderr, goes to
/// `trial.log`. A non-zero exit, a signal, or an exit without a result line is a failure
/// whose message carries the end of the log.
final class TrainerProcess: @unchecked Sendable {
    let ref: AttemptRef
    let deadline: Date
    let directory: URL
    let logURL: URL
    private let process = Process()
    private(set) var terminateSentAt: Date?
    /// Set when the worker stops the job (cancel or deadline), to word the failure.
    private let stopReason = ReasonBox()
    static let maxLineBytes = 1 << 20
    static let maxLogBytes: UInt64 = 64 << 20

    init(ref: AttemptRef, command: String, job: JSONValue, directory: URL, deadline: Date, threads: Int, events: EventQueue) throws {
        self.ref = ref
        self.deadline = deadline
        self.directory = directory
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let jobURL = directory.appendingPathComponent("job.json")
        let jobText = job.text()
        try Data(jobText.utf8).write(to: jobURL)
        logURL = directory.appendingPathComponent("trial.log")
        fm.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)

        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec " + command]
        var env = ProcessInfo.processInfo.environment
        env["TOPIARY_JOB"] = jobURL.path
        env["TOPIARY_OUTPUT_DIR"] = directory.path
        env["TOPIARY_TRIAL"] = String(ref.trial)
        env["TOPIARY_ATTEMPT"] = String(ref.attempt)
        for k in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOPIARY_THREADS"] where env[k] == nil || k == "TOPIARY_THREADS" {
            env[k] = String(threads)
        }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = log
        try process.run()
        // The job on stdin too, for trainers that read it there.
        let writer = stdin.fileHandleForWriting
        DispatchQueue.global().async {
            try? writer.write(contentsOf: Data(jobText.utf8))
            try? writer.close()
        }
        let reader = Thread { [ref, process, logURL, stopReason] in
            let sawResult = Self.readReports(stdout.fileHandleForReading, log: log, ref: ref, events: events)
            process.waitUntilExit()
            try? log.close()
            let tail = Self.tail(of: logURL)
            let status = process.terminationStatus
            let signalled = process.terminationReason == .uncaughtSignal
            let stopped = stopReason.value.withLock { $0 }
            let error: String?
            var retryable = false
            if let stopped {
                error = stopped
                retryable = stopped.hasPrefix("deadline") == false
            } else if signalled {
                error = "trainer killed by signal \(status)" + (tail.isEmpty ? "" : "; log ends: \(tail)")
                retryable = true
            } else if status != 0 {
                error = "trainer exited with status \(status)" + (tail.isEmpty ? "" : "; log ends: \(tail)")
            } else if !sawResult {
                error = "trainer exited without a result line" + (tail.isEmpty ? "" : "; log ends: \(tail)")
            } else {
                error = nil
            }
            events.push(.finished(ref, error: error, retryable: retryable))
        }
        reader.name = "trainer-\(ref)"
        reader.start()
    }

    var pid: Int32 { process.processIdentifier }

    /// Stops the trainer: SIGTERM now, SIGKILL when `kill()` is called after the grace period.
    func terminate(reason: String) {
        stopReason.value.withLock { if $0 == nil { $0 = reason } }
        if terminateSentAt == nil {
            terminateSentAt = Date()
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
        }
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// Reads stdout to its end, turning report lines into events and the rest into the log.
    /// Returns whether a result line was seen.
    private static func readReports(_ input: FileHandle, log: FileHandle, ref: AttemptRef, events: EventQueue) -> Bool {
        var buffer = Data()
        var logged: UInt64 = 0
        var sawResult = false
        var truncatedNoted = false
        func toLog(_ d: Data) {
            if logged + UInt64(d.count) <= maxLogBytes {
                try? log.write(contentsOf: d)
                logged += UInt64(d.count)
            } else if !truncatedNoted {
                try? log.write(contentsOf: Data("[topiary: log truncated at \(maxLogBytes) bytes]\n".utf8))
                truncatedNoted = true
            }
        }
        func handle(_ line: Data) {
            guard line.first == UInt8(ascii: "{"), let v = try? JSONText.parse(String(decoding: line, as: UTF8.self)),
                  let event = v["event"]?.stringValue else {
                toLog(line + Data([0x0A]))
                return
            }
            let metrics = v["metrics"]?.objectPairs?.reduce(into: [String: Double]()) { acc, kv in
                if let d = kv.1.doubleValue, d.isFinite { acc[kv.0] = d }
            } ?? [:]
            switch event {
            case "progress":
                events.push(.progress(ref, step: v["step"]?.intValue ?? 0, metrics: metrics))
            case "result" where !sawResult:
                sawResult = true
                events.push(.result(ref, metrics: metrics, info: v["info"]))
            default:
                toLog(line + Data([0x0A]))
            }
        }
        while true {
            let chunk = input.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 0x0A) {
                handle(buffer[buffer.startIndex..<nl])
                buffer.removeSubrange(buffer.startIndex...nl)
            }
            if buffer.count > maxLineBytes {
                toLog(Data("[topiary: a stdout line longer than \(maxLineBytes) bytes was dropped]\n".utf8))
                buffer.removeAll()
            }
        }
        if !buffer.isEmpty { handle(buffer) }
        return sawResult
    }

    /// The last lines of a log, at most 600 characters, on one line.
    static func tail(of url: URL) -> String {
        guard let h = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        let from = size > 600 ? size - 600 : 0
        try? h.seek(toOffset: from)
        let d = (try? h.readToEnd()) ?? Data()
        return String(decoding: d, as: UTF8.self).split(whereSeparator: \.isNewline).suffix(5).joined(separator: " | ")
    }
}

/// Why the worker stopped a trainer, shared with its reader thread.
final class ReasonBox: Sendable {
    let value = Mutex<String?>(nil)
}
