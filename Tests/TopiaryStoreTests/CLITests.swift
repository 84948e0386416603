import Foundation
import GRDB
import Testing
import TopiaryCore
@testable import TopiaryStore

/// The store commands as a user runs them: exit statuses, and output that matches the library.
@Suite(.enabled(if: topiaryBinary != nil, "needs the topiary executable beside the test bundle: run `swift build` first, or set TOPIARY_BIN"))
struct CLITests {
    struct Run { var status: Int32; var out: String; var err: String }

    func topiary(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = topiaryBinary!
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    @Test func readCommandsOnAMissingDatabaseExit2AndCreateNothing() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path("nothing.sqlite")
        for args in [["leaderboard", "--db", path], ["trials", "--db", path, "--search", "1"], ["db", "check", "--db", path]] {
            let r = try topiary(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.err.contains("no such database"), "\(args): \(r.err)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    @Test func badFlagsExit2NamingTheFlag() throws {
        let t = try TestStore()
        defer { t.remove() }
        for (args, flag) in [(["--max-latency-ms", "5"], "--max-latency-ms"), (["--by", "speed"], "--by"),
                             (["--weight-bits", "9x"], "--weight-bits"), (["--top", "0"], "--top"),
                             (["--search", "42"], "--search 42"), (["--target", "tpu"], "--target tpu")] {
            let r = try topiary(["leaderboard", "--db", t.path] + args)
            #expect(r.status == 2 && r.err.contains(flag), "\(args): status \(r.status), \(r.err)")
        }
    }

    @Test func dbCheckPrintsIntegrityAndSchemaVersionAndRefusesNewerFiles() throws {
        let t = try TestStore()
        defer { t.remove() }
        let ok = try topiary(["db", "check", "--db", t.path])
        #expect(ok.status == 0)
        #expect(ok.out.contains("integrity:       ok"))
        #expect(ok.out.contains("schema version:  \(StoreSchema.version) (this topiary: \(StoreSchema.version))"))
        try t.store.close()
        try DatabaseQueue(path: t.path).write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99-future')") }
        let newer = try topiary(["db", "check", "--db", t.path])
        #expect(newer.status == 1 && newer.err.contains("newer Topiary"))
        let refused = try topiary(["leaderboard", "--db", t.path])
        #expect(refused.status == 1 && refused.err.contains("newer Topiary"))
    }

    @Test func leaderboardCSVAndJSONMatchTheLibrary() throws {
        let t = try TestStore()
        defer { t.remove() }
        let world = try RandomWorld(store: t.store, seed: 9, candidates: 80)
        let q = LeaderboardQuery(target: "cpu", limit: 7, maxLatencyMs: 30, maxSizeBytes: 8 * 1024)
        let want = try t.store.leaderboard(q)
        #expect(!want.isEmpty)
        let csv = try topiary(["leaderboard", "--db", t.path, "--target", "cpu", "--top", "7", "--max-latency-ms", "30",
                               "--max-size-kb", "8", "--format", "csv"])
        #expect(csv.status == 0, "\(csv.err)")
        let lines = csv.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("rank,candidate_id,") == true)
        #expect(lines.dropFirst().map { $0.split(separator: ",")[1] }.map(String.init) == want.map(\.candidateID))

        let front = try t.store.paretoFront(LeaderboardQuery(search: world.searches[0], target: "gpu"), objectives: [.accuracy, .latency])
        let json = try topiary(["leaderboard", "--db", t.path, "--search", String(world.searches[0]), "--target", "gpu", "--pareto",
                                "--objectives", "accuracy,latency", "--format", "json"])
        #expect(json.status == 0, "\(json.err)")
        let ids = try JSONText.parse(json.out).arrayValue?.compactMap { $0["candidate_id"]?.stringValue }
        #expect(ids == front.map(\.candidateID))
        let trials = try topiary(["trials", "--db", t.path, "--search", String(world.searches[0]), "--state", "failed", "--format", "csv"])
        #expect(trials.status == 0)
        let failed = try t.store.trials(search: world.searches[0], state: .failed)
        #expect(trials.out.split(separator: "\n").count == failed.count + 1)
    }
}
