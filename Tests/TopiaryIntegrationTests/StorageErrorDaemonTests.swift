import Foundation
import Testing
import TopiaryCore
import TopiaryStore

@Suite("The daemon on a full disk", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct StorageErrorDaemonTests {
    @Test("the disk fills while the daemon runs and a worker dies: it keeps running, acknowledges no result it could not store, and every result lands exactly once when space is back")
    func diskFullWhileRunning() throws {
        let c = try Cluster()
        let flag = c.dir.appendingPathComponent("disk-full").path
        try c.startDaemon(env: ["TOPIARY_TEST_FULL_DISK_FLAG": flag])
        try c.startWorker("w1", slots: 2, trainer: "sleepy")
        try c.startWorker("w2", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "30", "--trainer", "sleepy", "--fidelity", "sleep_s=0.3"])
        try waitUntil(30, "four trials complete") { try c.completed(1) >= 4 }
        FileManager.default.createFile(atPath: flag, contents: nil)
        try waitUntil(30, "the daemon reports the full disk") { c.log("daemon.log").contains("cannot write the database") }
        // A worker lost during the outage: its trials cannot be requeued yet; they are held
        // and requeued once the store takes writes again.
        c.killWorker("w2")
        try waitUntil(30, "the daemon notices the lost worker") { c.log("daemon.log").contains("worker lost") }
        Thread.sleep(forTimeInterval: 1)
        #expect(c.daemon?.isRunning == true)
        #expect(c.log("daemon.log").contains("disk is full"))
        try FileManager.default.removeItem(atPath: flag)
        try c.waitForState(1, "completed", timeout: 60)
        let store = try Store(path: c.db, mode: .mustExist)
        let trials = try store.trials(search: 1)
        #expect(trials.count == 30)
        #expect(trials.allSatisfy { $0.state == .completed && $0.metrics != nil }, "no result was lost")
        #expect(try store.events(search: 1).filter { $0.kind == "trial.completed" || $0.kind == "trial.failed" }.isEmpty)
        #expect(c.log("daemon.log").contains("the database is writable again"))
        #expect(try Store.check(path: c.db).isIntact)
    }

    @Test("a worker lost while another process locks the database: its trials are requeued once the lock is gone, none lost")
    func workerLostWhileLocked() throws {
        let c = try Cluster()
        try c.startDaemon(env: ["TOPIARY_BUSY_TIMEOUT_S": "0.2"])
        try c.startWorker("w1", slots: 2, trainer: "sleepy")
        try c.startWorker("w2", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "12", "--trainer", "sleepy", "--fidelity", "sleep_s=1.5"])
        try waitUntil(30, "w2 runs trials") {
            (try JSONText.parse(try c.control(["workers", "--json"])).arrayValue ?? [])
                .contains { $0["worker"]?.stringValue == "w2" && ($0["running"]?.intValue ?? 0) > 0 }
        }
        // Another process holds the write lock (readers still read, writers wait).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.read()
            c.execute("ROLLBACK")
            """, c.db]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).contains("locked"))
        c.killWorker("w2")
        try waitUntil(30, "the daemon notices the lost worker") { c.log("daemon.log").contains("worker lost") }
        Thread.sleep(forTimeInterval: 1)
        #expect(c.daemon?.isRunning == true)
        #expect(c.log("daemon.log").contains("locked by another process"))
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .mustExist).trials(search: 1)
        #expect(trials.count == 12)
        #expect(trials.allSatisfy { $0.state == .completed }, "none lost: \(trials.filter { $0.state != .completed }.map(\.trialID))")
        #expect(trials.contains { $0.attempt > 1 }, "w2's trials ran again")
        #expect(try Store.check(path: c.db).isIntact)
    }
}
