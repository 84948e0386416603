import Foundation
import TopiaryStore

/// Artifact upload through a real daemon and workers on loopback: one trial whose trainer
/// declares a large file (200 MB by default) while another worker completes 1,000 table
/// trials. Prints the upload's MB/s against copying the same bytes on this disk (the
/// baseline, same run), both processes' peak resident memory, and the table trials' rate
/// with and without the upload beside them. Prints figures; asserts nothing.
enum ArtifactsBench {
    static func run(_ args: [String]) throws {
        var sizeMB = 200, tableTrials = 1_000
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--mb": sizeMB = Int(it.next() ?? "") ?? sizeMB
            case "--table-trials": tableTrials = Int(it.next() ?? "") ?? tableTrials
            default: throw BenchError("unknown option \(a); use --mb N --table-trials N")
            }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let binary = root.appendingPathComponent(".build/release/topiary").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BenchError("build it first: swift build -c release --product topiary") }
        let table = root.deletingLastPathComponent().appendingPathComponent("shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").path
        let space = root.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path
        let trainer = root.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/artifact_trainer.py").path
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-artifacts-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        print("artifacts benchmark: one \(sizeMB) MB upload beside \(tableTrials) table trials on another worker, loopback, release build")

        // Baseline: the same bytes written and copied on this disk.
        let src = dir.appendingPathComponent("src.bin")
        FileManager.default.createFile(atPath: src.path, contents: nil)
        let h = try FileHandle(forWritingTo: src)
        let block = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131) })
        for _ in 0..<sizeMB { try h.write(contentsOf: block) }
        try h.close()
        let t0 = Date()
        try FileManager.default.copyItem(at: src, to: dir.appendingPathComponent("copy.bin"))
        let copyMBs = Double(sizeMB) / Date().timeIntervalSince(t0)
        try? FileManager.default.removeItem(at: src)
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("copy.bin"))

        var procs: [Process] = []
        defer { for p in procs where p.isRunning { p.terminate(); p.waitUntilExit() } }
        func launch(_ a: [String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = a
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            procs.append(p)
            return p
        }
        let db = dir.appendingPathComponent("bench.sqlite").path
        let wport = 23_000 + Int.random(in: 0..<2_000) * 2, cport = wport + 1
        let server = try launch(["serve", "--db", db, "--bind", "tcp://127.0.0.1:\(wport)", "--control", "tcp://127.0.0.1:\(cport)", "--log-level", "warning"])
        Thread.sleep(forTimeInterval: 0.5)
        let big = try launch(["worker", "--connect", "tcp://127.0.0.1:\(wport)", "--name", "big", "--slots", "1", "--trainer", "art=python3 \(trainer)",
                              "--work-dir", dir.appendingPathComponent("work-big").path, "--log-level", "warning"])
        _ = try launch(["worker", "--connect", "tcp://127.0.0.1:\(wport)", "--name", "tables", "--slots", "4", "--trainer", "table=table:\(table)",
                        "--log-level", "warning"])
        Thread.sleep(forTimeInterval: 1.0)
        func start(_ a: [String]) throws { let p = try launch(["search", "start", space, "--control", "tcp://127.0.0.1:\(cport)"] + a); p.waitUntilExit() }
        let reader = try Store(path: db, mode: .mustExist)
        func waitCompleted(_ id: Int64) throws -> Double {
            let t = Date()
            while try reader.search(id)?.state != .completed {
                if Date().timeIntervalSince(t) > 600 { throw BenchError("search \(id) did not finish within 600 s") }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return Date().timeIntervalSince(t)
        }

        // The table trials alone, then again beside the upload.
        try start(["--budget", String(tableTrials), "--seed", "1"])
        let alone = Double(tableTrials) / (try waitCompleted(1))
        try start(["--budget", "1", "--trainer", "art", "--fidelity", "size_mb=\(sizeMB)"])
        while try reader.artifacts().isEmpty { Thread.sleep(forTimeInterval: 0.005) }
        try start(["--budget", String(tableTrials), "--seed", "2"])
        let beside = Double(tableTrials) / (try waitCompleted(3))
        var row = try reader.artifacts().first!
        while row.state == .pending {
            Thread.sleep(forTimeInterval: 0.01)
            row = try reader.artifacts().first!
        }
        guard row.state == .stored, let stored = row.storedAt else { throw BenchError("the upload ended \(row.state.rawValue): \(row.reason ?? "")") }
        let seconds = stored.timeIntervalSince(row.createdAt)
        let mbs = Double(row.bytes) / 1_048_576 / seconds
        print(String(format: "upload     %d MB in %.2f s: %.0f MB/s (declared → stored, SHA-256 checked); disk copy baseline %.0f MB/s; ratio %.2f",
                     row.bytes >> 20, seconds, mbs, copyMBs, mbs / copyMBs))
        print(String(format: "peak RSS   daemon %.1f MB, uploading worker %.1f MB", ManyWorkersBench.rss(server.processIdentifier).peak,
                     ManyWorkersBench.rss(big.processIdentifier).peak))
        print(String(format: "table      %d trials: %.0f trials/s alone, %.0f trials/s beside the upload (ratio %.2f)",
                     tableTrials, alone, beside, beside / alone))
    }
}
