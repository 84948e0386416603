import Foundation

/// The coordinator's artifacts on disk, by content: `DIR/ab/abcdef…` (the SHA-256 in hex,
/// fanned out by its first two digits). An upload grows `DIR/partial/SHA.part` and is moved
/// into place only once its digest is checked, so nothing partial is ever visible; a rename
/// on one file system is atomic.
public struct ArtifactDirectory: Sendable {
    public let root: URL

    public init(_ root: String) {
        self.root = URL(fileURLWithPath: root)
    }

    /// The default beside a database: `runs.sqlite` → `runs.sqlite.artifacts`.
    public static func beside(database path: String) -> ArtifactDirectory { ArtifactDirectory(path + ".artifacts") }

    public func path(of sha256: String) -> String {
        root.appendingPathComponent(String(sha256.prefix(2))).appendingPathComponent(sha256).path
    }

    public func partialPath(of sha256: String) -> String { root.appendingPathComponent("partial").appendingPathComponent("\(sha256).part").path }

    public func contains(_ sha256: String) -> Bool { FileManager.default.fileExists(atPath: path(of: sha256)) }

    /// Creates the directory and its `partial` folder.
    public func prepare() throws(ArtifactError) {
        do { try FileManager.default.createDirectory(at: root.appendingPathComponent("partial"), withIntermediateDirectories: true) } catch {
            throw ArtifactError("\(root.path): cannot create the artifacts directory: \(error.localizedDescription)")
        }
    }

    /// Removes every partial upload (after a restart they start again from the beginning).
    public func clearPartials() {
        let dir = root.appendingPathComponent("partial")
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(f))
        }
    }

    /// Moves a finished, checked partial upload into place.
    public func commit(_ sha256: String) throws(ArtifactError) {
        let dest = URL(fileURLWithPath: path(of: sha256))
        do {
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: dest.path) {
                try FileManager.default.removeItem(atPath: partialPath(of: sha256))
                return
            }
            if rename(partialPath(of: sha256), dest.path) != 0 { throw ArtifactError("rename failed: \(String(cString: strerror(errno)))") }
        } catch let e as ArtifactError {
            throw e
        } catch {
            throw ArtifactError("\(dest.path): \(error.localizedDescription)")
        }
    }

    /// Copies a local file in (`topiary artifacts add`): hashed while copied, then moved into place.
    public func add(file: String) throws(ArtifactError) -> (sha256: String, bytes: Int) {
        try prepare()
        guard let input = FileHandle(forReadingAtPath: file) else { throw ArtifactError("\(file): cannot read the file") }
        defer { try? input.close() }
        let temp = root.appendingPathComponent("partial").appendingPathComponent("add-\(UUID().uuidString).part").path
        guard FileManager.default.createFile(atPath: temp, contents: nil), let out = FileHandle(forWritingAtPath: temp) else {
            throw ArtifactError("\(temp): cannot create the file")
        }
        var hasher = ArtifactHasher()
        var total = 0
        do {
            while let data = try input.read(upToCount: 1 << 20), !data.isEmpty {
                hasher.update(data)
                try out.write(contentsOf: data)
                total += data.count
            }
            try out.synchronize()
            try out.close()
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw ArtifactError("\(file): \(error.localizedDescription)")
        }
        let sha = hasher.finish()
        let dest = URL(fileURLWithPath: path(of: sha))
        do {
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch { throw ArtifactError("\(dest.path): \(error.localizedDescription)") }
        if FileManager.default.fileExists(atPath: dest.path) {
            try? FileManager.default.removeItem(atPath: temp)
        } else if rename(temp, dest.path) != 0 {
            throw ArtifactError("\(dest.path): \(String(cString: strerror(errno)))")
        }
        return (sha, total)
    }

    /// The digests of every stored file.
    public func all() -> [String] {
        var out: [String] = []
        for d in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where d.count == 2 {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(d).path)) ?? [] where ArtifactHasher.isDigest(f) {
                out.append(f)
            }
        }
        return out.sorted()
    }

    public func remove(_ sha256: String) { try? FileManager.default.removeItem(atPath: path(of: sha256)) }
}
