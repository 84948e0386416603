import CZeroMQ
import Foundation
import Glibc

/// A problem with a key file or an allow-list, naming the file (and line).
public struct KeyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// CURVE key files (docs/SECURITY.md).
///
/// `NAME.key` holds the pair and must be readable by its owner only (mode 0600);
/// `NAME.pub` holds the public key alone and is what the other side is given:
///
///     # Topiary CURVE key pair "worker-a": secret, keep this file private
///     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
public enum KeyFiles {
    /// Writes `NAME.key` (0600, created exclusively) and `NAME.pub` (0644) in `directory`.
    /// Refuses to overwrite existing files unless `force`.
    public static func generate(name: String, directory: URL, force: Bool = false) throws -> (pair: CurveKeyPair, secret: URL, public: URL) {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), !name.hasPrefix(".") else {
            throw KeyError("key name '\(name)' must be letters, digits, '-', '_' or '.' (not starting with '.')")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pair = try CurveKeyPair.generate()
        let secretURL = directory.appendingPathComponent("\(name).key")
        let publicURL = directory.appendingPathComponent("\(name).pub")
        for url in [secretURL, publicURL] where FileManager.default.fileExists(atPath: url.path) && !force {
            throw KeyError("\(url.path) exists; pass --force to replace it (workers holding the old key will be refused)")
        }
        try write(secretURL, mode: 0o600, text: """
            # Topiary CURVE key pair "\(name)": secret, keep this file private (mode 0600)
            public-key = "\(pair.publicKey)"
            secret-key = "\(pair.secretKey)"

            """)
        try write(publicURL, mode: 0o644, text: """
            # Topiary CURVE public key "\(name)": give this file to the other side
            public-key = "\(pair.publicKey)"

            """)
        return (pair, secretURL, publicURL)
    }

    /// Writes a file with the given mode, replacing an existing one atomically.
    static func write(_ url: URL, mode: mode_t, text: String) throws {
        let tmp = url.path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw KeyError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) == $0.count }
        fchmod(fd, mode)  // the umask may have narrowed it; never widened for the secret
        close(fd)
        guard ok, rename(tmp, url.path) == 0 else {
            unlink(tmp)
            throw KeyError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a key pair from a `.key` file. Refuses a file that group or others can read.
    public static func loadPair(_ path: String) throws -> CurveKeyPair {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KeyError("\(path): \(String(cString: strerror(errno)))") }
        guard st.st_mode & 0o077 == 0 else {
            throw KeyError("\(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); run: chmod 600 \(path)")
        }
        let fields = try parse(path)
        guard let secret = fields["secret-key"] else {
            throw KeyError("\(path): no secret-key line (is this a .pub file? give the .key file)")
        }
        try checkZ85(secret.value, at: "\(path):\(secret.line): secret-key")
        let pub = try CurveKeyPair.publicKey(forSecret: secret.value)
        if let stated = fields["public-key"], stated.value != pub {
            throw KeyError("\(path):\(stated.line): public-key does not belong to the secret-key in this file")
        }
        return CurveKeyPair(publicKey: pub, secretKey: secret.value)
    }

    /// A public key given as 40 Z85 characters or as a `.pub` (or `.key`) file.
    public static func loadPublic(_ pathOrKey: String) throws -> String {
        if pathOrKey.count == 40, !FileManager.default.fileExists(atPath: pathOrKey) {
            try checkZ85(pathOrKey, at: "public key '\(pathOrKey)'")
            return pathOrKey
        }
        let fields = try parse(pathOrKey)
        guard let pub = fields["public-key"] else { throw KeyError("\(pathOrKey): no public-key line") }
        try checkZ85(pub.value, at: "\(pathOrKey):\(pub.line): public-key")
        return pub.value
    }

    /// `key = "value"` lines (comments with #); values by key with their line numbers.
    static func parse(_ path: String) throws -> [String: (value: String, line: Int)] {
        let text = try readText(path, what: "key file")
        var out: [String: (String, Int)] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw KeyError("\(path):\(i + 1): expected 'public-key = \"…\"' or 'secret-key = \"…\"'")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard key == "public-key" || key == "secret-key" else {
                throw KeyError("\(path):\(i + 1): unknown field '\(key)' (expected public-key or secret-key)")
            }
            out[key] = (value, i + 1)
        }
        return out
    }

    /// A small text file, with errno's words when it cannot be read.
    static func readText(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, F_OK) != 0 ? "no such file" : "not readable (\(String(cString: strerror(EACCES))))"
            throw KeyError("cannot read \(what) \(path): \(reason)")
        }
        guard data.count <= 1 << 20, let text = String(data: data, encoding: .utf8) else {
            throw KeyError("\(path) is not a \(what) (not UTF-8 text under 1 MiB)")
        }
        return text
    }

    /// Checks that `key` is a 32-byte key in Z85 text (40 characters).
    public static func checkZ85(_ key: String, at place: String) throws {
        guard key.utf8.count == 40 else { throw KeyError("\(place): a CURVE key is 40 Z85 characters, got \(key.utf8.count)") }
        var out = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&out, key) != nil else { throw KeyError("\(place): not valid Z85 text") }
    }

    /// The 32 bytes of a Z85 key as Z85 text again (ZAP gives binary keys).
    public static func z85(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, bytes, 32) != nil else { return nil }
        return cString(out)
    }
}

/// The worker public keys the coordinator admits, each with a name for the logs.
///
/// Read from a directory of `.pub` files (name = file name without `.pub`) or from one
/// text file of `KEY [NAME]` lines (# comments). Reloaded when it changes on disk.
public struct AllowList: Sendable, Equatable {
    public private(set) var names: [String: String]  // public key -> name
    public let path: String

    public init(path: String) throws {
        self.path = path
        names = try Self.read(path)
    }

    public func name(of key: String) -> String? { names[key] }
    public var count: Int { names.count }

    /// A fingerprint of what is on disk (file names, sizes, times), to notice changes.
    public static func stamp(_ path: String) -> String {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return "missing" }
        let files = isDir.boolValue ? ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
        return files.map { f -> String in
            let a = try? fm.attributesOfItem(atPath: f)
            return "\(f):\((a?[.size] as? Int) ?? -1):\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }.joined(separator: "|")
    }

    static func read(_ path: String) throws -> [String: String] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw KeyError("allow-list \(path) does not exist") }
        var out: [String: String] = [:]
        if isDir.boolValue {
            let files = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".pub") }.sorted()
            for f in files {
                let key = try KeyFiles.loadPublic(path + "/" + f)
                out[key] = String(f.dropLast(4))
            }
        } else {
            let text = try KeyFiles.readText(path, what: "allow-list")
            for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                    .trimmingCharacters(in: .whitespaces) ?? ""
                if line.isEmpty { continue }
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                let key = String(parts[0])
                try KeyFiles.checkZ85(key, at: "\(path):\(i + 1)")
                out[key] = parts.count > 1 ? parts[1...].joined(separator: " ") : "key-" + key.prefix(8)
            }
        }
        return out
    }
}

/// Whether an endpoint is reachable only from this machine (loopback TCP, ipc, inproc).
public func isLocalEndpoint(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://") else { return false }
    var host = String(endpoint.dropFirst(6))
    if let semicolon = host.firstIndex(of: ";") { host = String(host[host.index(after: semicolon)...]) }  // source;dest
    if host.hasPrefix("[") {
        guard let close = host.firstIndex(of: "]") else { return false }
        host = String(host[host.index(after: host.startIndex)..<close])
    } else if let colon = host.lastIndex(of: ":") {
        host = String(host[..<colon])
    }
    return host == "localhost" || host == "::1" || host.hasPrefix("127.") || host == "lo"
}
