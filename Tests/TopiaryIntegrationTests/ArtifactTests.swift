import Foundation
import Testing
import TopiaryArtifacts
import TopiaryCore
import TopiaryStore
import TopiaryWire

/// Trained files come back to the coordinator (upload), files jobs need go out to workers
/// (download), and neither is ever visible half-done, whatever is killed when.
@Suite("Artifacts over the wire", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct ArtifactTests {
    func artifacts(_ c: Cluster) throws -> [ArtifactRecord] { try Store(path: c.db, mode: .readOnly).artifacts() }
    var directory: (Cluster) -> ArtifactDirectory { { ArtifactDirectory.beside(database: $0.db) } }

    /// A cluster whose one trial declared a 120 MB artifact, once bytes of it have arrived.
    func uploadUnderWay() throws -> Cluster {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", trainer: "art")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "1", "--trainer", "art", "--fidelity", "size_mb=120"])
        let partialDir = directory(c).root.appendingPathComponent("partial")
        try waitUntil(60, "the upload is under way") {
            ((try? FileManager.default.contentsOfDirectory(atPath: partialDir.path)) ?? []).contains { name in
                ((try? FileManager.default.attributesOfItem(atPath: partialDir.appendingPathComponent(name).path))?[.size] as? Int ?? 0) > 0
            }
        }
        return c
    }

    @Test("uploads after each trial, downloads for each job, export after the worker's directory is gone, list, gc, db check")
    func roundTrip() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", trainer: "art")
        let input = c.dir.appendingPathComponent("teacher.bin")
        try Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: input)
        let added = try c.run(["artifacts", "add", input.path, "--db", c.db])
        #expect(added.status == 0, "\(added.err)")
        let sha = String(added.out.prefix(64))
        let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "6", "--trainer", "art", "--fidelity", "size_mb=3",
                           "--artifact", "teacher=\(sha)", "--follow", "--control", c.controlEndpoint], timeout: 90)
        #expect(r.status == 0, "\(r.err)")
        let store = try Store(path: c.db, mode: .readOnly)
        for t in try store.trials(search: 1) {
            let m = try JSONText.parse(t.metrics ?? "{}")
            #expect(m["input_bytes"]?.doubleValue == 700_000, "each job read the file it was given")
        }
        // Uploads follow the results: the search can end while the last ones are in flight.
        try waitUntil(30, "every upload is stored") { try artifacts(c).filter { $0.state == .stored }.count == 6 }
        let rows = try artifacts(c)
        #expect(rows.count == 6 && rows.allSatisfy { $0.state == .stored && $0.bytes == 3 << 20 })
        for row in rows { #expect(try ArtifactHasher.file(directory(c).path(of: row.sha256)).sha256 == row.sha256) }
        #expect(FileManager.default.fileExists(atPath: c.dir.appendingPathComponent("cache-a").appendingPathComponent(sha).path))

        // The worker's machine is gone: export still has the trained file.
        c.killWorker("a")
        try FileManager.default.removeItem(at: c.workDir("a"))
        let out = c.dir.appendingPathComponent("best").path
        let exported = try c.run(["export", "--db", c.db, "--search", "1", "--out", out])
        #expect(exported.status == 0 && exported.out.contains("model.bin"), "\(exported.err)")
        let best = try #require(try store.leaderboard(LeaderboardQuery(search: 1, limit: 1)).first)
        let bestRow = try #require(rows.first { $0.trialID == best.trialID })
        #expect(try ArtifactHasher.file(out + "/model.bin").sha256 == bestRow.sha256)

        let list = try c.run(["artifacts", "list", "--db", c.db])
        #expect(list.status == 0 && list.out.contains("6 stored"))
        let check = try c.run(["db", "check", "--db", c.db])
        #expect(check.status == 0 && check.out.contains("6 files checked, all match"))
        let gc = try c.run(["artifacts", "gc", "--db", c.db, "--keep", "2"])
        #expect(gc.status == 0 && gc.out.contains("removing 4 stored artifacts"), "\(gc.out)\(gc.err)")
        #expect(try artifacts(c).filter { $0.state == .stored }.count == 2)
        #expect(directory(c).all().count == 3, "the two kept, and the file the search's jobs name")
        // A damaged file is found by db check.
        let kept = try #require(try artifacts(c).first { $0.state == .stored })
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: directory(c).path(of: kept.sha256)))
        let damaged = try c.run(["db", "check", "--db", c.db])
        #expect(damaged.status == 1 && damaged.err.contains("do not match their SHA-256"))
    }

    @Test("a worker killed mid-upload and restarted: the upload starts again and completes; nothing partial is visible meanwhile")
    func workerKilledMidUpload() throws {
        let c = try uploadUnderWay()
        c.killWorker("a")
        #expect(try artifacts(c).allSatisfy { $0.state == .pending }, "pending while the file is incomplete")
        #expect(directory(c).all().isEmpty, "nothing partial in place")
        try c.startWorker("a", trainer: "art")
        try waitUntil(90, "the artifact is stored") { (try? artifacts(c).first?.state) == .stored }
        let row = try #require(try artifacts(c).first)
        #expect(try ArtifactHasher.file(directory(c).path(of: row.sha256)) == (row.sha256, 120 << 20))
        #expect(c.log("daemon.log").contains("artifact stored"))
    }

    @Test("the coordinator killed mid-upload and restarted: the upload starts again from the store's record and completes")
    func coordinatorKilledMidUpload() throws {
        let c = try uploadUnderWay()
        let partialDir = directory(c).root.appendingPathComponent("partial")
        c.killDaemon()
        #expect(directory(c).all().isEmpty, "nothing partial in place")
        try c.startDaemon()
        try waitUntil(90, "the artifact is stored") { (try? artifacts(c).first?.state) == .stored }
        let row = try #require(try artifacts(c).first)
        #expect(try ArtifactHasher.file(directory(c).path(of: row.sha256)).sha256 == row.sha256)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: partialDir.path)) ?? []).isEmpty)
    }

    @Test("a corrupted chunk is fetched again; a chunk nobody asked for is dropped; an artifact over the limit is refused; the search goes on")
    func hostilePeer() throws {
        let c = try Cluster(heartbeatMs: 200)
        try c.startDaemon(["--max-artifact-mb", "1"])
        let peer = try RawPeer(c.workerEndpoint)
        try peer.send("HELLO", RawPeer.helloBody("raw", trainers: ["raw"]))
        #expect(try peer.receive(timeout: 5)?.command == .welcome)
        try c.control(["search", "start", Paths.macroSpace, "--budget", "1", "--trainer", "raw"])
        let content = (0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        var hasher = ArtifactHasher()
        hasher.update(content)
        let sha = hasher.finish()
        let big = String(repeating: "b", count: 64)
        var corrupted = false, stored = false, acked = false
        let end = Date().addingTimeInterval(30)
        while Date() < end && !(stored && acked) {
            try peer.send("HEARTBEAT", "{}")
            guard let e = try peer.receive(timeout: 0.1) else { continue }
            switch e.command {
            case .job:
                let t = e.body["trial"]!.intValue!, a = e.body["attempt"]!.intValue!
                // Before the RESULT: a chunk nobody asked for.
                try peer.send([Array(Wire.tag.utf8), Array("CHUNK".utf8), Array(#"{"sha256":"\#(sha)","offset":0}"#.utf8), [1, 2, 3]])
                try peer.send("RESULT", #"{"trial":\#(t),"attempt":\#(a),"metrics":{"accuracy":70},"artifacts":[{"name":"m.bin","sha256":"\#(sha)","bytes":\#(content.count)},{"name":"huge.bin","sha256":"\#(big)","bytes":\#(2 << 20)}]}"#)
            case .ack:
                acked = true
            case .fetch:
                let offset = e.body["offset"]!.intValue!, length = e.body["length"]!.intValue!
                var piece = Array(content[offset..<min(content.count, offset + length)])
                if offset == 0 && !corrupted { piece[10] ^= 0xFF; corrupted = true }
                try peer.send(Envelope.chunk(e.body["sha256"]!.stringValue!, offset: offset, bytes: piece).frames)
            case .stored:
                stored = e.body["sha256"]?.stringValue == sha
            default: break
            }
        }
        #expect(corrupted && stored && acked)
        // STORED goes out when the file is in place; the row follows through the store writer.
        try waitUntil(10, "the row is stored") { (try artifacts(c).first { $0.name == "m.bin" }?.state) == .stored }
        let rows = try artifacts(c)
        #expect(rows.first { $0.name == "m.bin" }?.state == .stored)
        let huge = try #require(rows.first { $0.name == "huge.bin" })
        #expect(huge.state == .refused && huge.reason?.contains("at most") == true)
        #expect(try ArtifactHasher.file(directory(c).path(of: sha)).sha256 == sha)
        let log = c.log("daemon.log")
        #expect(log.contains("dropped an artifact chunk") && log.contains("did not match its digest") && log.contains("an artifact was refused"))
        try c.waitForState(1, "completed", timeout: 10)
    }
}
