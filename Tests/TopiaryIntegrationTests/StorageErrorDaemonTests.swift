import Foundation
import Testing
import TopiaryCore
import TopiaryStore

@Suite("The daemon on a full disk", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct StorageErrorDaemonTests {
    @Test("the disk fills while the daemon runs: it keeps running, acknowledges no result it could not store, and every result lands exactly once when space is back")
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
        Thread.sleep(forTimeInterval: 2)
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
}
