import Foundation
import Logging
import TopiaryArtifacts
import TopiaryCore
import TopiaryWire

/// Artifacts on the worker's side: files a trainer declared go on the shelf and into the
/// RESULT, and are sent chunk by chunk when the coordinator FETCHes them; files a job needs
/// are fetched (GET → PART) into the cache before its trainer starts.
extension WorkerLoop {
    /// The files a trainer declared, hashed and put on the shelf; what cannot be read is
    /// left out (and logged).
    mutating func offer(_ declared: [(String, String)], ref: AttemptRef) -> [WireArtifact] {
        let dir = config.workDirectory.appendingPathComponent("trial-\(ref.trial)-\(ref.attempt)")
        var out: [WireArtifact] = []
        for (name, path) in declared.prefix(WireArtifact.maxPerMessage) {
            guard WireArtifact.isPlainName(name), !out.contains(where: { $0.name == name }) else {
                logger.warning("ignored an artifact with a name that is not a plain file name", metadata: ["trial": "\(ref.trial)", "name": "\(name.prefix(60))"])
                continue
            }
            let file = path.hasPrefix("/") ? path : dir.appendingPathComponent(path).path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDir), !isDir.boolValue else {
                logger.warning("a declared artifact is not a file; not offered", metadata: ["trial": "\(ref.trial)", "name": "\(name)", "path": "\(file)"])
                continue
            }
            do {
                let (sha, bytes) = try ArtifactHasher.file(file)
                shelf.put(sha, path: file)
                out.append(WireArtifact(name: name, sha256: sha, bytes: bytes))
            } catch {
                logger.warning("cannot read a declared artifact; not offered", metadata: ["trial": "\(ref.trial)", "name": "\(name)", "error": "\(error)"])
            }
        }
        return out
    }

    /// A FETCH: the bytes asked for, or why they cannot be sent.
    mutating func answerFetch(_ e: Envelope) throws {
        guard let sha = e.body["sha256"]?.stringValue, let offset = e.body["offset"]?.intValue, let length = e.body["length"]?.intValue,
              offset >= 0, length > 0, length <= WireArtifact.chunkBytes else {
            logger.warning("dropped a bad FETCH", metadata: ["worker": "\(config.name)"])
            return
        }
        if let bytes = shelf.read(sha, offset: offset, length: length), !bytes.isEmpty {
            try send(.chunk(sha, offset: offset, bytes: bytes))
        } else {
            try send(.chunk(sha, offset: offset, bytes: nil, error: shelf.files[sha] == nil ? "not on this worker's shelf" : "the file is gone or shorter"))
        }
    }

    /// Starts fetching a file for a job (or joins the fetch already under way).
    mutating func beginDownload(_ a: WireArtifact, for ref: AttemptRef) throws {
        if downloads[a.sha256] != nil {
            downloads[a.sha256]!.waiting.insert(ref)
            return
        }
        do {
            downloads[a.sha256] = Download(artifact: a, file: try cache.begin(a.sha256), waiting: [ref])
        } catch {
            try failWaiting(on: a.sha256, [ref], "cannot cache artifact \(a.name): \(error)")
            return
        }
        if a.bytes == 0 { try completeDownload(a.sha256) } else { try pumpDownloads() }
    }

    /// Keeps a window of GETs in flight for each download.
    mutating func pumpDownloads() throws {
        for sha in downloads.keys.sorted() {
            guard var d = downloads[sha], let ref = d.waiting.first(where: { jobs[$0] != nil }) else { continue }
            while d.requested < d.artifact.bytes && d.requested - d.received < 4 * WireArtifact.chunkBytes {
                let length = min(WireArtifact.chunkBytes, d.artifact.bytes - d.requested)
                try send(.get(sha, offset: d.requested, length: length, for: ref))
                d.requested += length
            }
            downloads[sha] = d
        }
    }

    /// A PART: appended in order; the file is checked and cached when complete.
    mutating func receivePart(_ e: Envelope) throws {
        guard let sha = e.body["sha256"]?.stringValue, let offset = e.body["offset"]?.intValue, var d = downloads[sha] else { return }
        if let error = e.body["error"]?.stringValue {
            try? d.file.close()
            cache.discard(sha)
            downloads[sha] = nil
            try failWaiting(on: sha, d.waiting, "the coordinator cannot send artifact \(d.artifact.name): \(error)")
            return
        }
        let bytes = e.payload ?? []
        guard offset == d.received, !bytes.isEmpty, offset + bytes.count <= d.artifact.bytes else { return }  // not the next piece: a stale one
        do { try d.file.write(contentsOf: bytes) } catch {
            try? d.file.close()
            cache.discard(sha)
            downloads[sha] = nil
            try failWaiting(on: sha, d.waiting, "cannot write artifact \(d.artifact.name) to the cache: \(error.localizedDescription)")
            return
        }
        d.hasher.update(bytes)
        d.received += bytes.count
        downloads[sha] = d
        if d.received == d.artifact.bytes { try completeDownload(sha) } else { try pumpDownloads() }
    }

    /// Checks a finished download; cached, its jobs start; else it is fetched again (twice).
    mutating func completeDownload(_ sha: String) throws {
        guard var d = downloads[sha] else { return }
        try? d.file.close()
        let digest = d.hasher.finish()
        guard digest == sha else {
            cache.discard(sha)
            d.mismatches += 1
            guard d.mismatches < 3 else {
                downloads[sha] = nil
                try failWaiting(on: sha, d.waiting, "artifact \(d.artifact.name) did not match its SHA-256 in 3 downloads")
                return
            }
            d.file = try cache.begin(sha)
            d.hasher = ArtifactHasher()
            d.received = 0
            d.requested = 0
            downloads[sha] = d
            try pumpDownloads()
            return
        }
        downloads[sha] = nil
        // Files other jobs are fetching or about to use stay whatever their age.
        let inUse = Set(jobs.values.flatMap { $0.job.artifacts.map(\.sha256) })
        do { try cache.commit(sha, keep: inUse) } catch {
            try failWaiting(on: sha, d.waiting, "cannot cache artifact \(d.artifact.name): \(error)")
            return
        }
        logger.info("artifact fetched", metadata: ["worker": "\(config.name)", "name": "\(d.artifact.name)", "bytes": "\(d.artifact.bytes)"])
        for ref in d.waiting {
            guard var held = jobs[ref], held.outcome == nil else { continue }
            held.fetching.remove(sha)
            jobs[ref] = held
            if held.fetching.isEmpty { try launch(held.job) }
        }
    }

    mutating func failWaiting(on sha: String, _ refs: Set<AttemptRef>, _ why: String) throws {
        logger.warning("a job's artifact cannot be fetched", metadata: ["worker": "\(config.name)", "sha256": "\(sha.prefix(16))", "reason": "\(why)"])
        for ref in refs {
            guard let held = jobs[ref], held.outcome == nil, held.process == nil else { continue }
            try finish(ref, .failed(ref, error: why, retryable: false), job: held.job)
        }
    }
}
