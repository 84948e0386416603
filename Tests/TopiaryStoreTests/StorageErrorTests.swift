import Foundation
import GRDB
import Testing
import TopiaryCore
@testable import TopiaryStore

/// Makes a file or directory unwritable for this process: immutable when running as root
/// (root ignores permission bits), else read-only permissions. Returns an undo, or nil when
/// neither works here.
func makeUnwritable(_ path: String, directory: Bool) -> (() -> Void)? {
    let fm = FileManager.default
    if getuid() == 0 {
        guard shell(["chattr", "+i", path]) == 0 else { return nil }
        return { _ = shell(["chattr", "-i", path]) }
    }
    let old = (try? fm.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0o644
    guard (try? fm.setAttributes([.posixPermissions: directory ? 0o555 : 0o444], ofItemAtPath: path)) != nil else { return nil }
    return { try? fm.setAttributes([.posixPermissions: old], ofItemAtPath: path) }
}

@discardableResult
func shell(_ args: [String]) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// Another process holding a write transaction on a database (python's sqlite3 module) until
/// `release()`; `exclusive`: in exclusive locking mode, which keeps readers out too.
final class LockHolder {
    let process = Process()
    let input = Pipe()

    init(path: String, exclusive: Bool = false) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            if sys.argv[2] == "exclusive":
                c.execute("PRAGMA locking_mode = EXCLUSIVE")
            c.execute("BEGIN EXCLUSIVE" if sys.argv[2] == "exclusive" else "BEGIN IMMEDIATE")
            c.execute("INSERT INTO events (time, kind, message) VALUES (0, 'lock.test', 'held by another process')")
            print("locked", flush=True)
            sys.stdin.read()
            c.execute("ROLLBACK")
            """, path, exclusive ? "exclusive" : "write"]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.contains("locked") else { throw StoreError.database(operation: "locking for the test", message: line) }
    }

    func release() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

func sha(_ path: String) throws -> [UInt8] { SHA256.digest(try Data(contentsOf: URL(fileURLWithPath: path))) }

@Suite("Storage errors: full disk, read-only file, locked database", .serialized)
struct StorageErrorTests {
    /// A search with `n` trials claimed by a worker, ready for results.
    func runningTrials(_ store: Store, _ n: Int) throws -> [TrialRecord] {
        let s = try store.createSearch(newSearch())
        _ = try store.enqueue(search: s.id!, realCandidates(n).map { TrialRequest(candidate: $0, fidelity: 1) })
        return try store.claim(limit: n, worker: "w1")
    }

    func bigResult(_ t: TrialRecord) -> TrialResult {
        TrialResult(trial: t.trialID, attempt: t.attempt, metrics: .object([
            ("accuracy", .double(0.5)), ("notes", .string(String(repeating: "a long result ", count: 400))),
        ]))
    }

    @Test("a full disk fails writes with unavailable(diskFull) naming the file, stores nothing, and writes succeed once space is back")
    func fullDisk() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let flag = dir.path("disk-full")
        let store = try Store(path: dir.path("t.sqlite"), logger: quietLogger, fullDiskFlag: flag)
        let trials = try runningTrials(store, 40)
        FileManager.default.createFile(atPath: flag, contents: nil)
        let error = #expect(throws: StoreError.self) { try store.recordResults(trials.map(bigResult)) }
        #expect(error == .unavailable(path: store.path, reason: .diskFull))
        #expect(error?.isUnavailable == true)
        #expect(error?.description.contains(store.path) == true && error?.description.contains("disk is full") == true)
        #expect(try store.trials(search: 1, state: .running).count == 40, "the failed batch stored nothing")
        try FileManager.default.removeItem(atPath: flag)
        let outcomes = try store.recordResults(trials.map(bigResult))
        #expect(outcomes.allSatisfy { $0 == .recorded })
        #expect(try store.trials(search: 1, state: .completed).count == 40)
        try store.close()
        #expect(try Store.check(path: dir.path("t.sqlite")).isIntact)
    }

    @Test("a database locked by another process: writes wait for the busy timeout, then fail with unavailable(locked); reads go on")
    func locked() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try Store(path: dir.path("t.sqlite"), logger: quietLogger, busyTimeout: 0.3)
        let trials = try runningTrials(store, 3)
        let holder = try LockHolder(path: store.path)
        let start = Date()
        let error = #expect(throws: StoreError.self) { try store.recordResults(trials.map(bigResult)) }
        #expect(Date().timeIntervalSince(start) >= 0.25, "waited for the lock first")
        #expect(error == .unavailable(path: store.path, reason: .locked(waitedSeconds: 0.3)))
        #expect(error?.description.contains("locked by another process") == true)
        #expect(try store.trials(search: 1).count == 3, "reads are not blocked")
        holder.release()
        #expect(try store.recordResults(trials.map(bigResult)).allSatisfy { $0 == .recorded })
        try store.close()
        #expect(try Store.check(path: dir.path("t.sqlite")).isIntact)
    }

    @Test("a read-only database file or directory is refused with unavailable, naming the path, and left unchanged")
    func readOnly() throws {
        for directory in [false, true] {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = dir.path("t.sqlite")
            let store = try Store(path: path, logger: quietLogger)
            _ = try runningTrials(store, 3)
            try store.close()
            // A clean close leaves no -wal/-shm: the directory case must create them.
            for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + side) }
            let before = try sha(path)
            guard let undo = makeUnwritable(directory ? dir.url.path : path, directory: directory) else { continue }
            defer { undo() }
            let error = #expect(throws: StoreError.self) { _ = try Store(path: path, mode: .mustExist, logger: quietLogger) }
            #expect(error?.isUnavailable == true, "\(String(describing: error))")
            #expect(error?.description.contains(path) == true)
            undo()
            #expect(try sha(path) == before, "the file is unchanged")
            #expect(try Store.check(path: path).isIntact)
        }
    }
}

/// The same errors as a user meets them: exit status 1, the path and what to do on stderr, the file unchanged.
@Suite("Storage errors at the command line", .serialized, .enabled(if: topiaryBinary != nil, "needs the topiary executable: run `swift build` first, or set TOPIARY_BIN"))
struct StorageErrorCLITests {
    func topiary(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = topiaryBinary!
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func database(_ dir: TempDir) throws -> String {
        let path = dir.path("t.sqlite")
        let store = try Store(path: path, logger: quietLogger)
        _ = try store.createSearch(newSearch())
        try store.close()
        return path
    }

    @Test("serve on a read-only file exits 1 saying it is read-only; leaderboard, trials and db check read it; the file is unchanged")
    func readOnlyFile() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try database(dir)
        // With writable -wal and -shm files beside it, SQLite would open the file read-only
        // and fail only at a write (or never): the store must refuse it at once.
        let store = try Store(path: path, logger: quietLogger)
        let before = try sha(path)
        guard let undo = makeUnwritable(path, directory: false) else { return }
        defer { undo() }
        let serve = try topiary(["serve", "--db", path, "--bind", "tcp://127.0.0.1:0", "--control", "tcp://127.0.0.1:0"])
        #expect(serve.status == 1, "serve: \(serve.err)")
        #expect(serve.err.contains(path) && serve.err.contains("read-only"), "serve: \(serve.err)")
        // Commands that only read open it read-only and work.
        for args in [["leaderboard", "--db", path], ["trials", "--db", path, "--search", "1"], ["db", "check", "--db", path]] {
            let r = try topiary(args)
            #expect(r.status == 0, "\(args[0]): \(r.err)")
        }
        try store.close()
        undo()
        #expect(try sha(path) == before)
    }

    @Test("a read-only directory: exit 1 naming the file and the permissions to check")
    func readOnlyDirectory() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try database(dir)
        for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + side) }
        guard let undo = makeUnwritable(dir.url.path, directory: true) else { return }
        defer { undo() }
        for args in [["leaderboard", "--db", path], ["db", "check", "--db", path]] {
            let r = try topiary(args)
            #expect(r.status == 1, "\(args[0]): \(r.err)")
            #expect(r.err.contains(path) && r.err.contains("permissions"), "\(args[0]): \(r.err)")
        }
    }

    @Test("a write transaction held by another process (as the daemon holds one): leaderboard and trials still read")
    func readersDoNotWaitForTheWriter() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try database(dir)
        let holder = try LockHolder(path: path, exclusive: false)
        defer { holder.release() }
        for args in [["leaderboard", "--db", path], ["trials", "--db", path, "--search", "1"]] {
            let start = Date()
            let r = try topiary(args, env: ["TOPIARY_BUSY_TIMEOUT_S": "5"])
            #expect(r.status == 0, "\(args[0]): \(r.err)")
            #expect(Date().timeIntervalSince(start) < 4, "\(args[0]) did not wait for the writer")
        }
    }

    @Test("a database locked by another process: serve and trials wait the busy timeout, then exit 1 saying so")
    func lockedByAnotherProcess() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try database(dir)
        let holder = try LockHolder(path: path, exclusive: true)
        defer { holder.release() }
        for args in [["serve", "--db", path, "--bind", "tcp://127.0.0.1:0", "--control", "tcp://127.0.0.1:0"], ["trials", "--db", path, "--search", "1"]] {
            let start = Date()
            let r = try topiary(args, env: ["TOPIARY_BUSY_TIMEOUT_S": "0.5"])
            #expect(Date().timeIntervalSince(start) >= 0.4)
            #expect(r.status == 1, "\(args[0]): \(r.err)")
            #expect(r.err.contains(path) && r.err.contains("locked by another process"), "\(args[0]): \(r.err)")
        }
        holder.release()
        #expect(try Store.check(path: path).isIntact)
    }
}
