import Foundation
import Testing
import TopiaryArtifacts
import TopiaryWire
@testable import TopiaryCoordinator

@Suite("Artifact transfers: pulled in windows, checked before they are visible")
struct ArtifactTransfersTests {
    static func directory() throws -> ArtifactDirectory {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-transfers-\(UUID().uuidString.prefix(8))")
        let d = ArtifactDirectory(root.path)
        try d.prepare()
        return d
    }

    static func content(_ n: Int, seed: UInt8 = 7) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    static func digest(_ bytes: [UInt8]) -> String {
        var h = ArtifactHasher()
        h.update(bytes)
        return h.finish()
    }

    /// Answers every FETCH among `events` from `bytes` (through `mangle`), until none is left.
    static func serve(_ t: inout ArtifactTransfers, _ events: [ArtifactTransfers.Event], _ bytes: [UInt8], worker: String = "w",
                      mangle: (Int, [UInt8]) -> [UInt8] = { $1 }) -> [ArtifactTransfers.Event] {
        var queue = events
        var outcomes: [ArtifactTransfers.Event] = []
        while !queue.isEmpty {
            let e = queue.removeFirst()
            guard case let .send(w, env) = e, env.command == .fetch, w == worker else { outcomes.append(e); continue }
            let sha = env.body["sha256"]!.stringValue!, offset = env.body["offset"]!.intValue!, length = env.body["length"]!.intValue!
            let piece = Array(bytes[offset..<min(bytes.count, offset + length)])
            queue += t.receive(from: worker, sha256: sha, offset: offset, bytes: mangle(offset, piece), error: nil)
            queue += t.pump(connected: { $0 == worker })
        }
        return outcomes
    }

    @Test("two workers sharing a cache directory fetch one artifact at once: both downloads land, neither fails")
    func twoCachesOnOneDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-cache-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let bytes = Self.content(5000)
        let sha = Self.digest(bytes)
        let a = ArtifactCache(root: root, limitBytes: 1 << 20), b = ArtifactCache(root: root, limitBytes: 1 << 20)
        let ha = try a.begin(sha), hb = try b.begin(sha)  // both under way before either ends
        try ha.write(contentsOf: bytes[..<2500])
        try hb.write(contentsOf: bytes)
        try ha.write(contentsOf: bytes[2500...])
        try ha.close()
        try hb.close()
        try a.commit(sha, keep: [])
        try b.commit(sha, keep: [])
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.path(of: sha))) == Data(bytes))
        #expect(b.lookup(sha) != nil)
        let left = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(left == [sha])  // no partial file left behind
    }

    @Test("an upload is fetched a window at a time, moved into place only when its digest matches")
    func upload() throws {
        let dir = try Self.directory()
        var t = ArtifactTransfers(directory: dir)
        t.chunk = 1_000
        t.window = 3
        let bytes = Self.content(10_500)
        let sha = Self.digest(bytes)
        t.add(sha256: sha, bytes: bytes.count, worker: "w")
        #expect(t.pump(connected: { _ in false }).isEmpty, "nothing is fetched from a worker that is not connected")
        let first = t.pump(connected: { $0 == "w" })
        #expect(first.count == 3, "a window of 3 chunks")
        #expect(!dir.contains(sha) && FileManager.default.fileExists(atPath: dir.partialPath(of: sha)))
        let outcomes = Self.serve(&t, first, bytes)
        #expect(outcomes == [.stored(sha256: sha, worker: "w")])
        #expect(dir.contains(sha) && !FileManager.default.fileExists(atPath: dir.partialPath(of: sha)))
        #expect(try ArtifactHasher.file(dir.path(of: sha)).sha256 == sha)
        #expect(t.pending == 0)
        // The same content declared again completes without a transfer.
        t.add(sha256: sha, bytes: bytes.count, worker: "x")
        #expect(t.pump(connected: { _ in true }) == [.stored(sha256: sha, worker: "x")])
    }

    @Test("a corrupted chunk: the digest does not match, the file is fetched again; three mismatches give it up as corrupt")
    func corruption() throws {
        let dir = try Self.directory()
        var t = ArtifactTransfers(directory: dir)
        t.chunk = 1_000
        let bytes = Self.content(4_200)
        let sha = Self.digest(bytes)
        t.add(sha256: sha, bytes: bytes.count, worker: "w")
        var corruptions = 1
        let outcomes = Self.serve(&t, t.pump(connected: { _ in true }), bytes) { offset, piece in
            guard offset == 2_000 && corruptions > 0 else { return piece }
            corruptions -= 1
            var p = piece
            p[5] ^= 0xFF
            return p
        }
        #expect(outcomes.contains { if case .rejected(_, let r) = $0 { return r.contains("did not match") } else { return false } })
        #expect(outcomes.last == .stored(sha256: sha, worker: "w"))
        #expect(try ArtifactHasher.file(dir.path(of: sha)).sha256 == sha)

        var bad = ArtifactTransfers(directory: dir)
        bad.chunk = 1_000
        let other = Self.content(2_500, seed: 9)
        let otherSHA = Self.digest(other)
        bad.add(sha256: otherSHA, bytes: other.count, worker: "w")
        let given = Self.serve(&bad, bad.pump(connected: { _ in true }), other) { offset, piece in offset == 0 ? piece.map { $0 ^ 1 } : piece }
        #expect(given.contains { if case .failed(otherSHA, "w", false, _) = $0 { return true } else { return false } })
        #expect(!dir.contains(otherSHA) && !FileManager.default.fileExists(atPath: dir.partialPath(of: otherSHA)), "nothing partial is left")
    }

    @Test("chunks nobody asked for, from another worker, or out of order are rejected and change nothing")
    func rejected() throws {
        let dir = try Self.directory()
        var t = ArtifactTransfers(directory: dir)
        t.chunk = 1_000
        let bytes = Self.content(3_000)
        let sha = Self.digest(bytes)
        #expect(t.receive(from: "w", sha256: sha, offset: 0, bytes: [1, 2, 3], error: nil).count == 1)
        t.add(sha256: sha, bytes: bytes.count, worker: "w")
        _ = t.pump(connected: { _ in true })
        if case .rejected = t.receive(from: "intruder", sha256: sha, offset: 0, bytes: Array(bytes[0..<1_000]), error: nil).first {} else {
            Issue.record("a chunk from another worker must be rejected")
        }
        if case .rejected = t.receive(from: "w", sha256: sha, offset: 1_000, bytes: Array(bytes[1_000..<2_000]), error: nil).first {} else {
            Issue.record("a chunk out of order must be rejected")
        }
        #expect(t.uploads[sha]?.received == 0)
        // The worker says the file is gone: lost, nothing partial left.
        let lost = t.receive(from: "w", sha256: sha, offset: 0, bytes: [], error: "not on this worker's shelf")
        #expect(lost.count == 1 && !FileManager.default.fileExists(atPath: dir.partialPath(of: sha)))
    }

    @Test("a worker that goes away mid-upload: the upload starts again from the beginning when it is back")
    func workerGone() throws {
        let dir = try Self.directory()
        var t = ArtifactTransfers(directory: dir)
        t.chunk = 1_000
        t.window = 1
        let bytes = Self.content(3_000)
        let sha = Self.digest(bytes)
        t.add(sha256: sha, bytes: bytes.count, worker: "w")
        _ = t.pump(connected: { _ in true })
        _ = t.receive(from: "w", sha256: sha, offset: 0, bytes: Array(bytes[0..<1_000]), error: nil)
        t.workerGone("w")
        #expect(t.uploads[sha]?.active == false && !FileManager.default.fileExists(atPath: dir.partialPath(of: sha)))
        let again = t.pump(connected: { _ in true })
        guard case let .send(_, env) = again.first else { Issue.record("no FETCH after the worker came back"); return }
        #expect(env.body["offset"]?.intValue == 0)
        #expect(Self.serve(&t, again, bytes) == [.stored(sha256: sha, worker: "w")])
    }
}
