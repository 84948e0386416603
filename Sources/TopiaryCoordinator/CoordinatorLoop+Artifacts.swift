import Foundation
import Logging
import TopiaryArtifacts
import TopiaryStore
import TopiaryWire

/// Artifacts over the worker connection: uploads the coordinator pulls from workers after
/// their results (FETCH → CHUNK, then STORED or DISCARD), and downloads workers pull for
/// the jobs they hold (GET → PART). See `ArtifactTransfers` and docs/PROTOCOL.md.
extension CoordinatorLoop {
    /// The artifacts a RESULT declared, each to fetch or refused (over a limit) with why.
    mutating func declarations(_ e: Envelope, worker: String, search: Int64?) -> [ArtifactDeclaration] {
        let listed: [WireArtifact]
        do { listed = try WireArtifact.list(e) } catch {
            warnLimited("bad-artifacts", "a result's artifacts list does not read; the result is kept without them",
                        ["worker": "\(worker)", "reason": "\(error)"])
            return []
        }
        guard !listed.isEmpty else { return [] }
        var used = search.map { sid in searchArtifactBytes[sid] ?? ((try? store.artifactBytes(search: sid)) ?? 0) } ?? 0
        var out: [ArtifactDeclaration] = []
        for a in listed {
            var refused: String?
            if a.bytes > config.maxArtifactBytes {
                refused = "\(a.bytes) bytes; artifacts may have at most \(config.maxArtifactBytes) (serve --max-artifact-mb)"
            } else if used + a.bytes > config.maxSearchArtifactBytes && !transfers.directory.contains(a.sha256) {
                refused = "the search's artifacts would pass \(config.maxSearchArtifactBytes) bytes (serve --max-search-artifacts-gb)"
            } else {
                used += a.bytes
            }
            if let refused {
                warnLimited("artifact-refused", "an artifact was refused", ["worker": "\(worker)", "name": "\(a.name)", "reason": "\(refused)"])
            }
            out.append(ArtifactDeclaration(name: a.name, sha256: a.sha256, bytes: a.bytes, refused: refused))
        }
        if let search { searchArtifactBytes[search] = used }
        return out
    }

    /// Starts uploads whose workers are connected and keeps their windows full.
    mutating func pumpTransfers() {
        guard transfers.pending > 0 else { return }
        apply(transfers.pump(connected: { registry[$0] != nil }))
    }

    /// A CHUNK: bytes of an upload this coordinator asked the worker for.
    mutating func handleChunk(_ name: String, _ e: Envelope) throws {
        let f = Fields(e)
        let sha = try f.string("sha256")
        let offset = try f.int("offset")
        let error = try f.optionalString("error")
        apply(transfers.receive(from: name, sha256: sha, offset: offset, bytes: e.payload ?? [], error: error))
        pumpTransfers()
    }

    mutating func apply(_ events: [ArtifactTransfers.Event]) {
        for ev in events {
            switch ev {
            case let .send(worker, envelope):
                send(worker: worker, envelope)
            case let .stored(sha, worker):
                writer.post(.artifact(sha256: sha, state: .stored, reason: nil))
                send(worker: worker, .stored(sha))
                logger.info("artifact stored", metadata: ["sha256": "\(sha)", "worker": "\(worker)"])
            case let .failed(sha, worker, lost, reason):
                writer.post(.artifact(sha256: sha, state: lost ? .lost : .corrupt, reason: reason))
                send(worker: worker, .discard(sha, reason: reason))
                warnLimited(lost ? "artifact-lost" : "artifact-corrupt", lost ? "an artifact is lost" : "an artifact was given up as corrupt",
                            ["sha256": "\(sha)", "worker": "\(worker)", "reason": "\(reason)"])
            case let .rejected(worker, reason):
                warnLimited("artifact-chunk", "dropped an artifact chunk", ["worker": "\(worker)", "reason": "\(reason)"])
            }
        }
    }
}

extension CoordinatorLoop {
    /// A GET: bytes of a file a job this worker holds names. Anything else is refused (a
    /// worker may read only what its jobs need).
    mutating func handleGet(_ name: String, _ e: Envelope) throws {
        let f = Fields(e)
        let sha = try f.string("sha256")
        let offset = try f.int("offset")
        let length = try f.int("length")
        let ref = AttemptRef(trial: Int64(try f.int("trial")), attempt: try f.int("attempt"))
        guard let sid = registry[name]?.running[ref], let wanted = searches[sid]?.settings.artifacts.first(where: { $0.sha256 == sha }) else {
            warnLimited("artifact-get", "refused a GET for an artifact no job of this worker names", ["worker": "\(name)", "sha256": "\(sha.prefix(16))"])
            send(worker: name, .part(sha, offset: offset, bytes: nil, error: "no job you hold names this artifact"))
            return
        }
        guard offset >= 0, offset < max(wanted.bytes, 1), length > 0, length <= WireArtifact.chunkBytes else {
            send(worker: name, .part(sha, offset: offset, bytes: nil, error: "offset or length out of range (chunks of at most \(WireArtifact.chunkBytes) bytes)"))
            return
        }
        guard let h = FileHandle(forReadingAtPath: transfers.directory.path(of: sha)) else {
            send(worker: name, .part(sha, offset: offset, bytes: nil, error: "the coordinator no longer has it"))
            return
        }
        defer { try? h.close() }
        do {
            try h.seek(toOffset: UInt64(offset))
            send(worker: name, .part(sha, offset: offset, bytes: Array(try h.read(upToCount: length) ?? Data())))
        } catch {
            send(worker: name, .part(sha, offset: offset, bytes: nil, error: "the coordinator cannot read it: \(error.localizedDescription)"))
        }
    }
}
