import Foundation
import GRDB
import Testing
@testable import TopiaryStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `topiary` executable built with this test bundle (they share a build folder), or
/// `$TOPIARY_BIN`.
let topiaryBinary: URL? = {
    var candidates: [URL] = []
    if let env = ProcessInfo.processInfo.environment["TOPIARY_BIN"] { candidates.append(URL(fileURLWithPath: env)) }
    for path in [Bundle.main.executablePath, CommandLine.arguments.first].compactMap({ $0 }) {
        var dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        // On Darwin the test binary sits inside Foo.xctest/Contents/MacOS.
        while dir.pathComponents.contains(where: { $0.hasSuffix(".xctest") }) { dir.deleteLastPathComponent() }
        candidates.append(dir.appendingPathComponent("topiary"))
    }
    candidates.append(packageRoot.appendingPathComponent(".build/debug/topiary"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

@Suite struct CrashSafetyTests {
    /// Lines a stress writer printed: `enqueued FIRST LAST` and `completed ID...` after each commit.
    struct Reports {
        var enqueued: [ClosedRange<Int64>] = []
        var completed: [Int64] = []
        var pending = ""

        mutating func add(_ data: Data) {
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline].split(separator: " ")
                pending = String(pending[pending.index(after: newline)...])
                if line.first == "enqueued", line.count == 3, let a = Int64(line[1]), let b = Int64(line[2]) { enqueued.append(a...b) }
                if line.first == "completed" { completed += line.dropFirst().compactMap { Int64($0) } }
            }
        }
    }

    @Test(.enabled(if: topiaryBinary != nil, "needs the topiary executable beside the test bundle: run `swift build` first, or set TOPIARY_BIN"))
    func writerKilledMidWriteLeavesASoundDatabaseWithEveryCommittedRow() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let db = dir.path("crash.sqlite")
        let batch = 40
        var reports = Reports()
        var rng = SystemRandomNumberGenerator()
        for round in 1...3 {
            let p = Process()
            p.executableURL = topiaryBinary!
            p.arguments = ["db", "stress-write", "--db", db, "--space", packageRoot.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path,
                           "--batch", String(batch), "--seed", String(round)]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let target = reports.completed.count + batch * (3 + round * 2)
            while reports.completed.count < target {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                reports.add(chunk)
            }
            usleep(UInt32.random(in: 0..<20_000, using: &rng))   // land anywhere in the write loop
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            reports.add(out.fileHandleForReading.readDataToEndOfFile())   // lines printed before the kill count too
            try #require(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL,
                         "round \(round): the writer ended by itself (status \(p.terminationStatus)) instead of being killed")
            try #require(reports.completed.count >= target, "round \(round): the writer stopped reporting early")

            let check = try Store.check(path: db)
            #expect(check.integrity == ["ok"], "round \(round)")
            #expect(check.foreignKeyProblems.isEmpty, "round \(round)")
            let store = try Store(path: db, mode: .mustExist, logger: quietLogger)
            let (trialIDs, states, boardRows, perSearch) = try store.pool.read { db in
                (Set(try Int64.fetchAll(db, sql: "SELECT t.id FROM trials t JOIN candidates c ON c.id = t.candidate_id")),
                 Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, state FROM trials").map { ($0[0] as Int64, $0[1] as String) }),
                 Set(try Int64.fetchAll(db, sql: "SELECT trial_id FROM leaderboard WHERE scope = 0 AND target = ''")),
                 try Row.fetchAll(db, sql: "SELECT search_id, count(*) FROM trials GROUP BY search_id").map { $0[1] as Int })
            }
            for range in reports.enqueued {
                #expect(range.allSatisfy(trialIDs.contains), "round \(round): trials \(range) were reported committed but are missing")
            }
            let lost = reports.completed.filter { states[$0] != "completed" }
            #expect(lost.isEmpty, "round \(round): results of trials \(lost.prefix(10)) were reported committed but are missing")
            let unranked = reports.completed.filter { !boardRows.contains($0) && states[$0] == "completed" }
            // A candidate drawn twice keeps one best trial, so only check that most are ranked.
            #expect(unranked.count < reports.completed.count / 10, "round \(round): \(unranked.count) completed trials missing from the leaderboard")
            // Every batch is one transaction: no search holds part of a batch.
            #expect(perSearch.allSatisfy { $0 % batch == 0 }, "round \(round): trials per search \(perSearch)")
            try store.close()
        }
    }
}
