import Foundation

/// A worker's downloaded artifacts (`--cache DIR`), by digest, bounded in size: when a new
/// file would pass `limitBytes`, the least recently used ones go (a file's modification
/// time is its last use). Files in use by a starting job are never evicted for it.
public struct ArtifactCache: Sendable {
    public let root: URL
    public let limitBytes: Int
    /// Names this cache's partial files apart from those of other workers sharing the
    /// directory (two local workers fetching one artifact at once would otherwise write one
    /// partial file, and the second to finish would find it already moved into place).
    let partialTag: String

    public init(root: URL, limitBytes: Int) {
        self.root = root
        self.limitBytes = limitBytes
        self.partialTag = "\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    public func path(of sha256: String) -> String { root.appendingPathComponent(sha256).path }
    func partialPath(of sha256: String) -> String { root.appendingPathComponent("\(sha256).\(partialTag).part").path }

    /// The cached file, marked as used now; nil when it is not cached.
    public func lookup(_ sha256: String) -> String? {
        let p = path(of: sha256)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: p)
        return p
    }

    /// Starts a download: an empty partial file.
    public func begin(_ sha256: String) throws(ArtifactError) -> FileHandle {
        do { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) } catch {
            throw ArtifactError("\(root.path): cannot create the cache: \(error.localizedDescription)")
        }
        let p = partialPath(of: sha256)
        guard FileManager.default.createFile(atPath: p, contents: nil), let h = FileHandle(forWritingAtPath: p) else {
            throw ArtifactError("\(p): cannot create the file")
        }
        return h
    }

    /// Moves a checked download into place (over the same file another worker sharing the
    /// directory may have put there first: same digest, same bytes), evicting least recently used files (not those in
    /// `keep`) until the cache fits its limit.
    public func commit(_ sha256: String, keep: Set<String>) throws(ArtifactError) {
        if rename(partialPath(of: sha256), path(of: sha256)) != 0 {
            throw ArtifactError("\(path(of: sha256)): \(String(cString: strerror(errno)))")
        }
        evict(keep: keep.union([sha256]))
    }

    public func discard(_ sha256: String) { try? FileManager.default.removeItem(atPath: partialPath(of: sha256)) }

    /// Removes the least recently used files until the total is within the limit.
    public func evict(keep: Set<String>) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter(ArtifactHasher.isDigest)
        var files: [(sha: String, bytes: Int, used: Date)] = names.compactMap { n in
            guard let a = try? FileManager.default.attributesOfItem(atPath: path(of: n)) else { return nil }
            return (n, (a[.size] as? Int) ?? 0, (a[.modificationDate] as? Date) ?? .distantPast)
        }
        var total = files.reduce(0) { $0 + $1.bytes }
        files.sort { $0.used < $1.used }
        for f in files where total > limitBytes && !keep.contains(f.sha) {
            try? FileManager.default.removeItem(atPath: path(of: f.sha))
            total -= f.bytes
        }
    }
}
