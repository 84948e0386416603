import Foundation
import TopiaryArtifacts
import TopiaryWire

/// Uploads in progress: the coordinator pulls each artifact a stored result declared from
/// the worker that holds it — FETCH a window of chunks, append each CHUNK in order to a
/// partial file while hashing it, and move the file into place only when its SHA-256
/// matches. Pulling is the flow control: at most `maxActive` uploads and `window` chunks
/// each are in flight, so memory stays bounded on both sides and a large upload never
/// crowds out heartbeats or other workers' results. One upload per digest (identical
/// files are fetched once). Owned by the loop; file work is a sequential append.
struct ArtifactTransfers {
    struct Upload {
        var sha256: String
        var bytes: Int
        var worker: String
        var active = false
        var received = 0
        var requested = 0
        var hasher = ArtifactHasher()
        var file: FileHandle?
        /// Times the whole file was fetched and did not match its digest.
        var mismatches = 0
        var lastProgress = Date()
    }

    /// What the loop does after a step: send a message, record an outcome.
    enum Event: Equatable {
        case send(worker: String, Envelope)
        case stored(sha256: String, worker: String)
        case failed(sha256: String, worker: String, lost: Bool, reason: String)
        /// A CHUNK nobody asked for, or out of order: dropped (and counted).
        case rejected(worker: String, reason: String)

        static func == (a: Event, b: Event) -> Bool {
            switch (a, b) {
            case let (.send(w1, e1), .send(w2, e2)): return w1 == w2 && e1.frames == e2.frames
            case let (.stored(s1, w1), .stored(s2, w2)): return s1 == s2 && w1 == w2
            case let (.failed(s1, w1, l1, r1), .failed(s2, w2, l2, r2)): return s1 == s2 && w1 == w2 && l1 == l2 && r1 == r2
            case let (.rejected(w1, r1), .rejected(w2, r2)): return w1 == w2 && r1 == r2
            default: return false
            }
        }
    }

    let directory: ArtifactDirectory
    var maxActive = 2
    var window = 4
    var chunk = WireArtifact.chunkBytes
    /// Whole-file digest mismatches before an artifact is given up as corrupt.
    var maxMismatches = 3
    /// An active upload with no chunk for this long starts again (its worker may be stuck).
    var stallSeconds = 60.0
    private(set) var uploads: [String: Upload] = [:]
    private var order: [String] = []

    init(directory: ArtifactDirectory) {
        self.directory = directory
    }

    var pending: Int { uploads.count }
    var active: Int { uploads.values.filter(\.active).count }

    /// A declared artifact to fetch from `worker` (ignored when the digest is already on its way).
    mutating func add(sha256: String, bytes: Int, worker: String) {
        guard uploads[sha256] == nil else { return }
        uploads[sha256] = Upload(sha256: sha256, bytes: bytes, worker: worker)
        order.append(sha256)
    }

    /// Starts uploads whose worker is connected (up to `maxActive`) and keeps each active
    /// upload's window full. Files already stored complete at once.
    mutating func pump(connected: (String) -> Bool) -> [Event] {
        var events: [Event] = []
        var activeCount = active
        var finished: [String] = []
        for sha in order where activeCount < maxActive {
            guard var u = uploads[sha], !u.active, connected(u.worker) else { continue }
            if directory.contains(sha) {
                finished.append(sha)
                events.append(.stored(sha256: sha, worker: u.worker))
                continue
            }
            do {
                try directory.prepare()
                let path = directory.partialPath(of: sha)
                guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                    throw ArtifactError("\(path): cannot create the file")
                }
                u.file = h
            } catch {
                // The coordinator's disk refuses: try again on a later turn.
                continue
            }
            u.active = true
            u.received = 0
            u.requested = 0
            u.hasher = ArtifactHasher()
            u.lastProgress = Date()
            uploads[sha] = u
            activeCount += 1
            if u.bytes == 0 { events += complete(sha) }
        }
        for sha in finished { forget(sha) }
        for sha in order {
            guard var u = uploads[sha], u.active else { continue }
            while u.requested < u.bytes && u.requested - u.received < window * chunk {
                let length = min(chunk, u.bytes - u.requested)
                events.append(.send(worker: u.worker, .fetch(sha, offset: u.requested, length: length)))
                u.requested += length
            }
            uploads[sha] = u
        }
        return events
    }

    /// A CHUNK from `worker`.
    mutating func receive(from worker: String, sha256: String, offset: Int, bytes: [UInt8], error: String?) -> [Event] {
        guard var u = uploads[sha256], u.active, u.worker == worker else {
            return [.rejected(worker: worker, reason: "no upload of \(sha256.prefix(12)) from this worker is in progress")]
        }
        if let error {
            close(&u, removePartial: true)
            forget(sha256)
            return [.failed(sha256: sha256, worker: worker, lost: true, reason: "the worker cannot send it: \(error)")]
        }
        guard offset == u.received, offset + bytes.count <= u.requested, !bytes.isEmpty, bytes.count <= chunk else {
            return [.rejected(worker: worker, reason: "chunk at \(offset) of \(sha256.prefix(12)) (\(bytes.count) bytes) was not asked for next")]
        }
        do {
            try u.file?.write(contentsOf: bytes)
        } catch {
            // The coordinator's disk is full or failing: start again later, nothing is kept.
            close(&u, removePartial: true)
            u.active = false
            uploads[sha256] = u
            return [.rejected(worker: worker, reason: "cannot write the partial upload: \(error.localizedDescription)")]
        }
        u.hasher.update(bytes)
        u.received += bytes.count
        u.lastProgress = Date()
        uploads[sha256] = u
        return u.received == u.bytes ? complete(sha256) : []
    }

    /// The whole file is in: checked, then moved into place, or fetched again.
    private mutating func complete(_ sha: String) -> [Event] {
        guard var u = uploads[sha] else { return [] }
        let digest = u.hasher.finish()
        close(&u, removePartial: false)
        if digest == sha {
            do { try directory.commit(sha) } catch {
                close(&u, removePartial: true)
                u.active = false
                uploads[sha] = u
                return [.rejected(worker: u.worker, reason: "cannot move the upload into place: \(error)")]
            }
            forget(sha)
            return [.stored(sha256: sha, worker: u.worker)]
        }
        try? FileManager.default.removeItem(atPath: directory.partialPath(of: sha))
        u.mismatches += 1
        u.active = false
        if u.mismatches >= maxMismatches {
            forget(sha)
            return [.failed(sha256: sha, worker: u.worker, lost: false,
                            reason: "its SHA-256 did not match in \(u.mismatches) uploads (last \(digest.prefix(12))…)")]
        }
        uploads[sha] = u
        return [.rejected(worker: u.worker, reason: "upload of \(sha.prefix(12)) did not match its digest (got \(digest.prefix(12))…); fetching it again")]
    }

    /// The worker is gone: its uploads start again from the beginning when it is back.
    mutating func workerGone(_ worker: String) {
        for (sha, var u) in uploads where u.worker == worker && u.active {
            close(&u, removePartial: true)
            u.active = false
            uploads[sha] = u
        }
    }

    /// Active uploads with no progress for `stallSeconds` start again.
    mutating func restartStalled(now: Date) -> [String] {
        var out: [String] = []
        for (sha, var u) in uploads where u.active && now.timeIntervalSince(u.lastProgress) > stallSeconds {
            close(&u, removePartial: true)
            u.active = false
            uploads[sha] = u
            out.append(sha)
        }
        return out
    }

    private func close(_ u: inout Upload, removePartial: Bool) {
        try? u.file?.close()
        u.file = nil
        if removePartial { try? FileManager.default.removeItem(atPath: directory.partialPath(of: u.sha256)) }
    }

    private mutating func forget(_ sha: String) {
        uploads[sha] = nil
        order.removeAll { $0 == sha }
    }
}
