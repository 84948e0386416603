import Foundation
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// Dispatch throughput: trials per second through a real daemon and real workers on
/// loopback, with the built-in table trainer (a lookup, so the figure is the system's own
/// overhead), against a baseline in the same run: the same trial lifecycle written
/// straight to the store with no daemon, sockets or workers.
enum DispatchBench {
    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var trials = 6_000, workers = 4, slots = 4, searches = 2, repeats = 3
        var curve = false, pythonWorkers = false
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--trials": trials = Int(it.next() ?? "") ?? trials
            case "--workers": workers = Int(it.next() ?? "") ?? workers
            case "--slots": slots = Int(it.next() ?? "") ?? slots
            case "--searches": searches = Int(it.next() ?? "") ?? searches
            case "--repeats": repeats = Int(it.next() ?? "") ?? repeats
            case "--curve": curve = true
            case "--python-workers": pythonWorkers = true
            default: throw BenchError("unknown option \(a); use --trials N --workers W --slots S --searches K --repeats R [--curve] [--python-workers]")
            }
        }
        let binary = root.appendingPathComponent(".build/release/topiary").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError("build it first: swift build -c release --product topiary") }
        let table = root.deletingLastPathComponent().appendingPathComponent("shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").path
        let spacePath = root.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path
        let total = trials * searches
        print("dispatch benchmark: \(searches) searches x \(trials) trials, \(workers) workers x \(slots) slots, table trainer, loopback; \(repeats) runs")

        var daemonRates: [Double] = []
        var curveRates: [Double] = []
        var pythonRates: [Double] = []
        // The Python agent (Workers/python) in the environment of scripts/setup.sh --python.
        let python = (ProcessInfo.processInfo.environment["TOPIARY_VENV"] ?? (NSHomeDirectory() + "/.cache/topiary/venv")) + "/bin/python"
        if pythonWorkers && !FileManager.default.isExecutableFile(atPath: python) {
            throw BenchError("--python-workers needs the Python environment: bash scripts/setup.sh --python")
        }
        var baselineRates: [Double] = []
        for run in 1...repeats {
            // Baseline: the store alone, the same writes per trial as the daemon makes.
            let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-dispatch-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let space = try SearchSpace.load(path: spacePath)
            let store = try Store(path: dir.appendingPathComponent("baseline.sqlite").path, durability: .normal)
            let t0 = Date()
            for s in 0..<searches {
                let rec = try store.createSearch(NewSearch(space: space, target: "host-cpu", strategy: "random", budget: trials, seed: UInt64(s)))
                var rng = SeededGenerator(seed: UInt64(s))
                var seen = Set<String>()
                var batch: [TrialRequest] = []
                while batch.count < trials {
                    let c = space.sample(using: &rng)
                    if seen.insert(c.id).inserted { batch.append(TrialRequest(candidate: CandidateRecord(c, in: space), fidelity: 1)) }
                }
                for chunk in stride(from: 0, to: batch.count, by: 16) {
                    let queued = try store.enqueue(search: rec.id!, Array(batch[chunk..<min(chunk + 16, batch.count)]))
                    for t in queued { try store.markRunning(trial: t.trialID, attempt: 1, worker: "w") }
                    _ = try store.recordResults(queued.map { TrialResult(trial: $0.trialID, attempt: 1, metrics: .object([("accuracy", .double(90))])) })
                }
            }
            let baseline = Double(total) / Date().timeIntervalSince(t0)
            baselineRates.append(baseline)

            // The daemon and workers as real processes (plain, then with CURVE when asked).
            var procs: [Process] = []
            defer { for p in procs where p.isRunning { p.terminate() } }
            func launch(_ a: [String], python agent: Bool = false) throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: agent ? python : binary)
                p.arguments = agent ? ["-m", "topiary.worker"] + a.dropFirst() : a
                if agent {
                    p.environment = ProcessInfo.processInfo.environment.merging(["PYTHONPATH": root.appendingPathComponent("Workers/python").path]) { _, n in n }
                }
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                procs.append(p)
                return p
            }
            func throughDaemon(secure: Bool, pythonAgents: Bool = false) throws -> Double {
            let db = dir.appendingPathComponent(secure ? "curve.sqlite" : pythonAgents ? "python.sqlite" : "daemon.sqlite").path
            let wport = 21_000 + Int.random(in: 0..<2_000) * 2, cport = wport + 1
            var serveKeys: [String] = [], workerKeys: [String] = []
            if secure {
                let keys = dir.appendingPathComponent("keys")
                _ = try KeyFiles.generate(name: "coordinator", directory: keys, force: true)
                _ = try KeyFiles.generate(name: "worker", directory: keys.appendingPathComponent("workers"), force: true)
                serveKeys = ["--key", keys.appendingPathComponent("coordinator.key").path, "--allow", keys.appendingPathComponent("workers").path]
                workerKeys = ["--key", keys.appendingPathComponent("workers/worker.key").path,
                              "--server-key", keys.appendingPathComponent("coordinator.pub").path]
            }
            let server = try launch(["serve", "--db", db, "--bind", "tcp://127.0.0.1:\(wport)", "--control", "tcp://127.0.0.1:\(cport)",
                                     "--log-level", "warning"] + serveKeys)
            Thread.sleep(forTimeInterval: 0.5)
            var mine = [server]
            defer { for p in mine where p.isRunning { p.terminate(); p.waitUntilExit() } }
            for w in 0..<workers {
                mine.append(try launch(["worker", "--connect", "tcp://127.0.0.1:\(wport)", "--name", "w\(w)", "--slots", String(slots),
                                        "--trainer", "table=table:\(table)", "--log-level", "warning"] + workerKeys, python: pythonAgents))
            }
            Thread.sleep(forTimeInterval: 1.0)
            let start = Date()
            for s in 0..<searches {
                let p = try launch(["search", "start", spacePath, "--budget", String(trials), "--seed", String(s), "--control", "tcp://127.0.0.1:\(cport)"])
                p.waitUntilExit()
            }
            let reader = try Store(path: db, mode: .mustExist)
            while true {
                let done = try reader.searches().filter { $0.state == .completed }.count
                if done == searches { break }
                if Date().timeIntervalSince(start) > 300 { throw BenchError("the daemon did not finish within 300 s") }
                Thread.sleep(forTimeInterval: 0.02)
            }
            let elapsed = Date().timeIntervalSince(start)
            let completed = try (1...Int64(searches)).reduce(0) { $0 + (try reader.trialCounts(search: $1)[.completed] ?? 0) }
            guard completed == total else { throw BenchError("expected \(total) completed trials, found \(completed)") }
            return Double(total) / elapsed
            }
            let rate = try throughDaemon(secure: false)
            daemonRates.append(rate)
            print(String(format: "run %d: daemon %7.0f trials/s (%.3f ms/trial)   store-only baseline %7.0f trials/s   ratio %.2f",
                         run, rate, 1000 / rate, baseline, rate / baseline))
            if pythonWorkers {
                let py = try throughDaemon(secure: false, pythonAgents: true)
                pythonRates.append(py)
                print(String(format: "run %d: daemon with Python workers %7.0f trials/s   Python/Swift workers %.2f", run, py, py / rate))
            }
            if curve {
                let secure = try throughDaemon(secure: true)
                curveRates.append(secure)
                print(String(format: "run %d: daemon with CURVE %7.0f trials/s   CURVE/plain %.2f", run, secure, secure / rate))
            }
        }
        daemonRates.sort()
        baselineRates.sort()
        let dm = daemonRates[daemonRates.count / 2], bm = baselineRates[baselineRates.count / 2]
        print(String(format: "daemon + %d workers: min %.0f, median %.0f trials/s (median %.3f ms per trial)", workers, daemonRates[0], dm, 1000 / dm))
        print(String(format: "store-only baseline: min %.0f, median %.0f trials/s; daemon/baseline %.2f", baselineRates[0], bm, dm / bm))
        if !pythonRates.isEmpty {
            pythonRates.sort()
            let pm = pythonRates[pythonRates.count / 2]
            print(String(format: "daemon with Python workers: min %.0f, median %.0f trials/s; Python/Swift workers %.2f", pythonRates[0], pm, pm / dm))
        }
        if !curveRates.isEmpty {
            curveRates.sort()
            let cm = curveRates[curveRates.count / 2]
            print(String(format: "daemon with CURVE: min %.0f, median %.0f trials/s; CURVE/plain %.2f", curveRates[0], cm, cm / dm))
        }
    }
}
