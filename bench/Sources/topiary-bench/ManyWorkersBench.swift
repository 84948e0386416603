import Foundation
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// The daemon with many workers connected: 1,000 simulated workers (one DEALER socket
/// each, in this process, speaking the real protocol: HELLO, heartbeats, RESULT for every
/// JOB) against a real `topiary serve`. Reports the daemon's resident memory (now and
/// peak, from /proc) and how evenly the trials spread over the workers.
///
///     topiary-bench workers [--workers 1000] [--trials 20000] [--seconds 120]
enum ManyWorkersBench {
    struct SimWorker {
        let name: String
        let socket: ZMQSocket
        var welcomed = false
        var lastSent = Date.distantPast
        var jobs = 0
    }

    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var count = 1_000, trials = 6_000, seconds = 120.0
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--workers": count = Int(it.next() ?? "") ?? count
            case "--trials": trials = Int(it.next() ?? "") ?? trials
            case "--seconds": seconds = Double(it.next() ?? "") ?? seconds
            default: throw BenchError("unknown option \(a); use --workers N --trials N --seconds S")
            }
        }
        let binary = root.appendingPathComponent(".build/release/topiary").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError("build it first: swift build -c release --product topiary") }
        let spacePath = root.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-workers-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let wport = 23_000 + Int.random(in: 0..<2_000) * 2, cport = wport + 1
        let endpoint = "tcp://127.0.0.1:\(wport)"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["serve", "--db", dir.appendingPathComponent("d.sqlite").path, "--bind", endpoint, "--control", "tcp://127.0.0.1:\(cport)",
                            "--log-level", "warning", "--max-workers", String(count), "--hello-rate", "10000"]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        Thread.sleep(forTimeInterval: 0.5)
        print("many workers: \(count) simulated workers (1 slot each) on one daemon, \(trials) table trials")
        let idle = rss(server.processIdentifier)
        print(String(format: "daemon before any worker: RSS %.1f MB", idle.current))

        let context = ZMQContext()
        var workers: [SimWorker] = []
        var poller = ZMQPoller()
        for i in 0..<count {
            let s = try ZMQSocket(context, .dealer)
            try s.setRoutingId(Array("sim\(i)".utf8))
            try s.connect(endpoint)
            poller.add(s)
            workers.append(SimWorker(name: "sim\(i)", socket: s))
        }
        func send(_ i: Int, _ e: Envelope) {
            _ = try? workers[i].socket.send(e.frames, dontWait: true)
            workers[i].lastSent = Date()
        }
        for i in workers.indices { send(i, Hello(worker: workers[i].name, host: "bench", slots: 1, tags: [], trainers: ["table"]).envelope) }

        // Serve until every worker is welcomed, then start the search and serve until done.
        let start = Date()
        var searchStarted: Date?
        var results = 0
        var joinedAt: Date?
        while Date().timeIntervalSince(start) < seconds {
            let ready = try poller.poll(timeoutMs: 20)
            for i in workers.indices where ready[i] {
                while let frames = try workers[i].socket.receive(dontWait: true) {
                    guard let e = try? Envelope.decode(frames) else { continue }
                    switch e.command {
                    case .welcome: workers[i].welcomed = true
                    case .job:
                        guard let ref = try? attemptRef(e) else { continue }
                        workers[i].jobs += 1
                        send(i, .result(ref, metrics: ["accuracy": 50 + Double(ref.trial % 40)]))
                        results += 1
                    case .bye, .reject:
                        send(i, Hello(worker: workers[i].name, host: "bench", slots: 1, tags: [], trainers: ["table"]).envelope)
                    default: break
                    }
                }
            }
            let now = Date()
            for i in workers.indices where now.timeIntervalSince(workers[i].lastSent) >= 1 { send(i, .heartbeat()) }
            if joinedAt == nil && workers.allSatisfy(\.welcomed) {
                joinedAt = now
                let m = rss(server.processIdentifier)
                print(String(format: "all %d workers joined in %.1f s; daemon RSS %.1f MB", count, now.timeIntervalSince(start), m.current))
                let p = Process()
                p.executableURL = URL(fileURLWithPath: binary)
                p.arguments = ["search", "start", spacePath, "--budget", String(trials), "--control", "tcp://127.0.0.1:\(cport)"]
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                p.waitUntilExit()
                searchStarted = Date()
            }
            if searchStarted != nil && results >= trials {
                Thread.sleep(forTimeInterval: 0.5)  // the last results stored
                break
            }
        }
        guard let searchStarted else { throw BenchError("only \(workers.filter(\.welcomed).count) of \(count) workers joined within \(seconds) s") }
        let elapsed = Date().timeIntervalSince(searchStarted)
        let m = rss(server.processIdentifier)
        let jobs = workers.map(\.jobs).sorted()
        print(String(format: "%d trials through %d workers in %.1f s (%.0f trials/s)", results, count, elapsed, Double(results) / elapsed))
        print(String(format: "daemon RSS now %.1f MB, peak %.1f MB (goal: below 200 MB)", m.current, m.peak))
        let mean = Double(results) / Double(count)
        print(String(format: "jobs per worker: min %d, median %d, max %d (mean %.1f); workers given none: %d",
                     jobs.first ?? 0, jobs[jobs.count / 2], jobs.last ?? 0, mean, jobs.filter { $0 == 0 }.count))
        for i in workers.indices { send(i, .bye("bench done")) }
    }

    /// Resident and peak resident memory of a process in MB.
    static func rss(_ pid: Int32) -> (current: Double, peak: Double) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}
