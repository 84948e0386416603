import Foundation
import Glibc
import Synchronization
import TopiaryCore
import TopiaryWire

/// What running trainers report back to the worker's loop.
enum TrainerEvent: Sendable {
    case progress(AttemptRef, step: Int, metrics: [String: Double])
    /// `artifacts`: files the trainer offers for upload, name → path (relative to its directory).
    case result(AttemptRef, metrics: [String: Double], info: JSONValue?, artifacts: [(String, String)])
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
/// `trial.log`, capped (`logCap`; the last 4 KiB past the cap are kept at its end). A
/// non-zero exit, a signal, or an exit without a result line is a failure whose message
/// carries the end of the log.
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
    static let defaultLogCap: UInt64 = 64 << 20
    /// How long output is still read after the trainer exited, when a child it left behind keeps the pipes open.
    static let drainAfterExit: TimeInterval = 2

    init(ref: AttemptRef, command: String, job: JSONValue, directory: URL, deadline: Date, threads: Int, gpu: String? = nil,
         logCap: UInt64 = TrainerProcess.defaultLogCap, events: EventQueue) throws {
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
        let log = CappedLog(try FileHandle(forWritingTo: logURL), cap: logCap)

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
        // The one GPU this job may use (a worker with GPUs gives each job its own).
        if let gpu { env["CUDA_VISIBLE_DEVICES"] = gpu }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // The job on stdin too, for trainers that read it there.
        let writer = stdin.fileHandleForWriting
        DispatchQueue.global().async {
            try? writer.write(contentsOf: Data(jobText.utf8))
            try? writer.close()
        }
        let reader = Thread { [ref, process, logURL, stopReason] in
            var reports = ReportReader(ref: ref, events: events, log: log)
            Self.pump(stdout: stdout.fileHandleForReading.fileDescriptor, stderr: stderr.fileHandleForReading.fileDescriptor,
                      process: process, reports: &reports, log: log)
            process.waitUntilExit()
            log.close()
            let tail = Self.tail(of: logURL)
            let status = process.terminationStatus
            let signalled = process.terminationReason == .uncaughtSignal
            let stopped = stopReason.value.withLock { $0 }
            let ends = tail.isEmpty ? "; the log is empty" : "; log ends: \(tail)"
            let error: String?
            var retryable = false
            if let stopped {
                error = stopped
                retryable = stopped.hasPrefix("deadline") == false
            } else if signalled {
                error = "trainer killed by signal \(status) (\(Self.signalName(status)))" + ends
                retryable = true
            } else if status != 0 {
                error = "trainer exited with status \(status)" + ends
            } else if !reports.sawResult {
                error = "trainer exited without a result line"
                    + (reports.malformedResults > 0 ? " (\(reports.malformedResults) malformed result lines were ignored)" : "") + ends
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
    /// Signals go to the trainer's process group when it leads one, so children stop too.
    func terminate(reason: String) {
        stopReason.value.withLock { if $0 == nil { $0 = reason } }
        if terminateSentAt == nil {
            terminateSentAt = Date()
            if process.isRunning { signal(SIGTERM) }
        }
    }

    func kill() {
        guard process.isRunning else { return }
        if let sent = terminateSentAt {
            stopReason.value.withLock { r in
                if let text = r, !text.contains("SIGKILL") {
                    r = text + "; it ignored SIGTERM and was killed with SIGKILL after \(Int(Date().timeIntervalSince(sent).rounded())) s"
                }
            }
        }
        signal(SIGKILL)
    }

    private func signal(_ sig: Int32) {
        let pid = process.processIdentifier
        if getpgid(pid) == pid { Glibc.kill(-pid, sig) } else { Glibc.kill(pid, sig) }
    }

    /// `Killed`, `Segmentation fault`: the C library's name for a signal.
    static func signalName(_ sig: Int32) -> String {
        guard let p = strsignal(sig) else { return "signal \(sig)" }
        return String(cString: p)
    }

    /// Reads stdout (reports, else log) and stderr (log) until both close. When the trainer
    /// has exited but a process it started still holds a pipe, reading stops after
    /// `drainAfterExit` so the job can end.
    private static func pump(stdout: Int32, stderr: Int32, process: Process, reports: inout ReportReader, log: CappedLog) {
        var fds = [pollfd(fd: stdout, events: Int16(POLLIN), revents: 0), pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var exitedAt: Date?
        while fds.contains(where: { $0.fd >= 0 }) {
            if exitedAt == nil && !process.isRunning { exitedAt = Date() }
            if let exitedAt, Date().timeIntervalSince(exitedAt) > drainAfterExit {
                log.note("[topiary: the trainer exited but a process it started still holds its output; stopped reading]")
                break
            }
            let ready = poll(&fds, nfds_t(fds.count), 200)
            if ready < 0 && errno != EINTR { break }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 { fds[i].fd = -1; continue }
                let chunk = buffer[0..<n]
                if i == 0 { reports.feed(chunk) } else { log.write(chunk, from: .stderr) }
            }
        }
        reports.finish()
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

/// Splits a trainer's stdout into lines: report lines become events, the rest goes to the log.
struct ReportReader {
    let ref: AttemptRef
    let events: EventQueue
    let log: CappedLog
    var buffer: [UInt8] = []
    var sawResult = false
    var malformedResults = 0
    /// Inside a line longer than `maxLineBytes`: skip to its end.
    var skipping = false

    mutating func feed(_ chunk: ArraySlice<UInt8>) {
        var rest = chunk[...]
        while let nl = rest.firstIndex(of: 0x0A) {
            if skipping { skipping = false } else { buffer.append(contentsOf: rest[rest.startIndex..<nl]); handle() }
            buffer.removeAll(keepingCapacity: true)
            rest = rest[(nl + 1)...]
        }
        if skipping { return }
        buffer.append(contentsOf: rest)
        if buffer.count > TrainerProcess.maxLineBytes {
            log.note("[topiary: a stdout line longer than \(TrainerProcess.maxLineBytes) bytes was dropped]")
            buffer.removeAll()
            skipping = true
        }
    }

    mutating func finish() {
        if !buffer.isEmpty && !skipping { handle() }
        buffer.removeAll()
    }

    private mutating func handle() {
        let line = buffer
        guard line.first == UInt8(ascii: "{"), let v = try? JSONText.parse(String(decoding: line, as: UTF8.self)),
              let event = v["event"]?.stringValue else {
            log.write(line + [0x0A], from: .stdout)
            return
        }
        let pairs = v["metrics"]?.objectPairs
        let metrics = pairs?.reduce(into: [String: Double]()) { acc, kv in
            if let d = kv.1.doubleValue, d.isFinite { acc[kv.0] = d }
        } ?? [:]
        switch event {
        case "progress":
            events.push(.progress(ref, step: v["step"]?.intValue ?? 0, metrics: metrics))
        case "result" where pairs == nil:
            malformedResults += 1
            log.note("[topiary: ignored a result line whose \"metrics\" is not a JSON object]")
            log.write(line + [0x0A], from: .stdout)
        case "result" where !sawResult:
            sawResult = true
            let artifacts = (v["artifacts"]?.objectPairs ?? []).compactMap { k, p in p.stringValue.map { (k, $0) } }
            events.push(.result(ref, metrics: metrics, info: v["info"], artifacts: artifacts))
        default:
            log.write(line + [0x0A], from: .stdout)
        }
    }
}

/// A trainer's log file, written up to `cap` bytes. Past the cap it keeps the last 4 KiB
/// of each stream (stdout, stderr) in memory and appends them when closed, so the end of
/// the output (usually the error) survives.
final class CappedLog: @unchecked Sendable {
    enum Stream: Int { case stdout, stderr }
    private let file: FileHandle
    private let cap: UInt64
    private var written: UInt64 = 0
    private var dropped: UInt64 = 0
    private var lastDropped: [[UInt8]] = [[], []]
    static let keepTail = 4096

    init(_ file: FileHandle, cap: UInt64) {
        self.file = file
        self.cap = cap
    }

    func write<C: Collection>(_ bytes: C, from stream: Stream) where C.Element == UInt8 {
        let room = written < cap ? Int(min(cap - written, UInt64(Int.max))) : 0
        let kept = bytes.prefix(room)
        if !kept.isEmpty {
            try? file.write(contentsOf: Data(kept))
            written += UInt64(kept.count)
        }
        let rest = bytes.dropFirst(kept.count)
        guard !rest.isEmpty else { return }
        dropped += UInt64(rest.count)
        lastDropped[stream.rawValue].append(contentsOf: rest.suffix(Self.keepTail))
        if lastDropped[stream.rawValue].count > 2 * Self.keepTail { lastDropped[stream.rawValue].removeFirst(lastDropped[stream.rawValue].count - Self.keepTail) }
    }

    /// A line from the worker itself, written even past the cap.
    func note(_ text: String) {
        try? file.write(contentsOf: Data((text + "\n").utf8))
    }

    func close() {
        if dropped > 0 {
            note("\n[topiary: log truncated at \(cap) bytes; \(dropped) bytes dropped; the end of each stream follows]")
            for stream in [Stream.stdout, .stderr] where !lastDropped[stream.rawValue].isEmpty {
                let tail = lastDropped[stream.rawValue].suffix(Self.keepTail)
                note("[topiary: the last \(tail.count) bytes dropped from \(stream)]")
                try? file.write(contentsOf: Data(tail))
                if tail.last != 0x0A { note("") }
            }
        }
        try? file.close()
    }
}

/// Why the worker stopped a trainer, shared with its reader thread.
final class ReasonBox: Sendable {
    let value = Mutex<String?>(nil)
}
