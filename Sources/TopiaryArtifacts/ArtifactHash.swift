import Crypto
import Foundation

/// SHA-256 of artifacts, streamed: files of hundreds of megabytes are hashed in chunks with
/// constant memory (swift-crypto; BoringSSL's assembly on Linux).
/// (Unchecked Sendable: the digest state is a value type that swift-crypto does not mark.)
public struct ArtifactHasher: @unchecked Sendable {
    private var state = Crypto.SHA256()

    public init() {}

    public mutating func update(_ bytes: [UInt8]) { state.update(data: bytes) }
    public mutating func update(_ data: Data) { state.update(data: data) }

    /// Lower-case hex of the digest.
    public func finish() -> String { Self.hex(Array(state.finalize())) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest and size of a file, read in 1 MiB pieces.
    public static func file(_ path: String) throws(ArtifactError) -> (sha256: String, bytes: Int) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw ArtifactError("\(path): cannot read the file") }
        defer { try? h.close() }
        var hasher = ArtifactHasher()
        var total = 0
        while true {
            let data: Data
            do { data = try h.read(upToCount: 1 << 20) ?? Data() } catch { throw ArtifactError("\(path): \(error.localizedDescription)") }
            if data.isEmpty { break }
            hasher.update(data)
            total += data.count
        }
        return (hasher.finish(), total)
    }

    /// A SHA-256 in lower-case hex (64 digits).
    public static func isDigest(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// An artifact that cannot be read, written or trusted; the message names the file and why.
public struct ArtifactError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

