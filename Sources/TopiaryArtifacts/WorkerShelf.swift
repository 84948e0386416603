import Foundation

/// What a worker offers for upload: artifact digest → file, kept in `shelf.json` in its work
/// directory so a restarted worker still answers the coordinator's FETCHes. An entry goes
/// when the coordinator says it has the file (STORED) or gave up on it (DISCARD), or when
/// the file is gone.
public struct WorkerShelf: Sendable {
    public let indexPath: String
    public private(set) var files: [String: String] = [:]

    /// Loads the index (an unreadable one is started afresh: the coordinator then hears
    /// that the files are missing and records them as lost).
    public init(workDirectory: URL) {
        indexPath = workDirectory.appendingPathComponent("shelf.json").path
        if let data = FileManager.default.contents(atPath: indexPath),
           let table = try? JSONSerialization.jsonObject(with: data) as? [String: String] {
            files = table.filter { ArtifactHasher.isDigest($0.key) }
        }
    }

    public mutating func put(_ sha256: String, path: String) {
        files[sha256] = path
        save()
    }

    public mutating func remove(_ sha256: String) {
        guard files.removeValue(forKey: sha256) != nil else { return }
        save()
    }

    /// Up to `length` bytes at `offset` of the file with this digest; nil when it is not on
    /// the shelf or no longer readable.
    public func read(_ sha256: String, offset: Int, length: Int) -> [UInt8]? {
        guard let path = files[sha256], let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        do {
            try h.seek(toOffset: UInt64(offset))
            return Array(try h.read(upToCount: length) ?? Data())
        } catch {
            return nil
        }
    }

    private func save() {
        guard let data = try? JSONSerialization.data(withJSONObject: files, options: [.sortedKeys]) else { return }
        try? data.write(to: URL(fileURLWithPath: indexPath), options: .atomic)
    }
}
