import TopiaryArtifacts
import TopiaryCore

/// The wire protocol between the coordinator and workers, mirrored by the table in
/// docs/PROTOCOL.md. Every message is three frames: the protocol tag with its version,
/// the command, and a JSON object body. (A ROUTER socket adds the peer's identity in front.)
public enum Wire {
    /// Protocol name and version, the first frame of every message.
    public static let tag = "TPY1"
    public static let version = 1
    /// Largest message either side accepts (libzmq drops larger ones and the peer).
    public static let maxMessageBytes: Int64 = 16 << 20
    /// Largest message the coordinator accepts from a worker (results and progress are
    /// small; a JOB to a worker may be larger, up to `maxMessageBytes`).
    public static let maxWorkerMessageBytes: Int64 = 1 << 20
    public static let defaultHeartbeatMs = 1_000
    /// Heartbeats missed before a peer is taken for dead.
    public static let defaultLiveness = 5
}

public enum Command: String, Sendable, CaseIterable {
    case hello = "HELLO", welcome = "WELCOME", heartbeat = "HEARTBEAT", job = "JOB", progress = "PROGRESS"
    case result = "RESULT", failed = "FAILED", cancel = "CANCEL", bye = "BYE", reject = "REJECT", ack = "ACK"
    /// Artifacts: the coordinator pulls uploads (FETCH → CHUNK, then STORED or DISCARD) and
    /// workers pull downloads (GET → PART). CHUNK and PART carry their bytes in a 4th frame.
    case fetch = "FETCH", chunk = "CHUNK", stored = "STORED", discard = "DISCARD", get = "GET", part = "PART"

    /// Commands that carry binary data in a 4th frame.
    public var hasPayload: Bool { self == .chunk || self == .part }
}

/// A message that could not be read, with the reason (logged and dropped by the receiver).
public struct WireError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// One decoded message.
public struct Envelope: Sendable {
    public var command: Command
    public var body: JSONValue
    /// The bytes of a CHUNK or PART (a 4th frame).
    public var payload: [UInt8]?

    public init(_ command: Command, _ body: JSONValue, payload: [UInt8]? = nil) {
        self.command = command
        self.body = body
        self.payload = payload
    }

    public var frames: [[UInt8]] {
        let f = [Array(Wire.tag.utf8), Array(command.rawValue.utf8), Array(body.text().utf8)]
        return payload.map { f + [$0] } ?? f
    }

    /// Decodes the frames of a message (without the ROUTER identity): three, or four for
    /// the commands that carry bytes.
    public static func decode(_ frames: [[UInt8]]) throws(WireError) -> Envelope {
        guard frames.count == 3 || frames.count == 4 else { throw WireError("expected 3 frames (tag, command, body), got \(frames.count)") }
        let tag = String(decoding: frames[0], as: UTF8.self)
        guard tag == Wire.tag else {
            throw WireError(tag.hasPrefix("TPY") ? "protocol version '\(tag)' is not supported; this side speaks \(Wire.tag)" : "not a Topiary message (tag '\(tag.prefix(16))')")
        }
        let name = String(decoding: frames[1], as: UTF8.self)
        guard let command = Command(rawValue: name) else { throw WireError("unknown command '\(name.prefix(32))'") }
        guard (frames.count == 4) == command.hasPayload else {
            throw WireError(command.hasPayload ? "\(command.rawValue) needs its bytes in a 4th frame" : "\(command.rawValue) has 3 frames, got 4")
        }
        // Not String(decoding:): it would pass invalid bytes on as U+FFFD, silently.
        guard let text = String(validating: frames[2], as: UTF8.self) else {
            throw WireError("\(command.rawValue) body is not valid UTF-8 (JSON text must be)")
        }
        let body: JSONValue
        do { body = try JSONText.parse(text) } catch {
            throw WireError("\(command.rawValue) body: \(error.description)")
        }
        guard body.objectPairs != nil else { throw WireError("\(command.rawValue) body must be a JSON object") }
        return Envelope(command, body, payload: frames.count == 4 ? frames[3] : nil)
    }
}

/// Typed access to a message body; errors name the command and field.
public struct Fields {
    public let body: JSONValue
    public let command: Command

    public init(_ e: Envelope) {
        body = e.body
        command = e.command
    }

    func fail(_ key: String, _ what: String) -> WireError { WireError("\(command.rawValue).\(key): \(what)") }

    public func int(_ key: String) throws(WireError) -> Int {
        guard let v = body[key] else { throw fail(key, "missing") }
        guard case .int(let i) = v else { throw fail(key, "expected an integer, got \(v.canonical.prefix(40))") }
        return i
    }

    public func int(_ key: String, default d: Int) throws(WireError) -> Int { body[key] == nil ? d : try int(key) }

    public func string(_ key: String) throws(WireError) -> String {
        guard let v = body[key] else { throw fail(key, "missing") }
        guard let s = v.stringValue else { throw fail(key, "expected a string, got \(v.canonical.prefix(40))") }
        return s
    }

    public func optionalString(_ key: String) throws(WireError) -> String? { body[key] == nil || body[key] == .null ? nil : try string(key) }

    public func bool(_ key: String, default d: Bool) throws(WireError) -> Bool {
        guard let v = body[key] else { return d }
        guard let b = v.boolValue else { throw fail(key, "expected true or false") }
        return b
    }

    public func strings(_ key: String) throws(WireError) -> [String] {
        guard let v = body[key] else { return [] }
        guard let a = v.arrayValue else { throw fail(key, "expected a list of strings") }
        var out: [String] = []
        for x in a {
            guard let s = x.stringValue else { throw fail(key, "expected a list of strings") }
            out.append(s)
        }
        return out
    }

    /// An object of numbers, e.g. metrics.
    public func metrics(_ key: String) throws(WireError) -> [String: Double] {
        guard let v = body[key] else { return [:] }
        guard let pairs = v.objectPairs else { throw fail(key, "expected an object of numbers") }
        var out: [String: Double] = [:]
        for (k, x) in pairs {
            guard let d = x.doubleValue, d.isFinite else { throw fail("\(key).\(k)", "expected a finite number") }
            out[k] = d
        }
        return out
    }

    public func object(_ key: String) throws(WireError) -> JSONValue {
        guard let v = body[key] else { throw fail(key, "missing") }
        guard v.objectPairs != nil else { throw fail(key, "expected an object") }
        return v
    }
}

/// A trial attempt, the key every job message carries.
public struct AttemptRef: Hashable, Sendable, CustomStringConvertible {
    public var trial: Int64
    public var attempt: Int
    public init(trial: Int64, attempt: Int) {
        self.trial = trial
        self.attempt = attempt
    }
    public var description: String { "\(trial)#\(attempt)" }
}

// MARK: Messages

public struct Hello: Sendable, Equatable {
    public var worker: String
    public var host: String
    public var slots: Int
    public var tags: [String]
    public var trainers: [String]
    public var version: Int
    /// Jobs still running on the worker (after a reconnect).
    public var running: [AttemptRef]

    public init(worker: String, host: String, slots: Int, tags: [String], trainers: [String], version: Int = Wire.version, running: [AttemptRef] = []) {
        self.worker = worker; self.host = host; self.slots = slots; self.tags = tags; self.trainers = trainers
        self.version = version; self.running = running
    }

    public var envelope: Envelope {
        Envelope(.hello, .object([
            ("worker", .string(worker)), ("host", .string(host)), ("slots", .int(slots)),
            ("tags", .array(tags.map { .string($0) })), ("trainers", .array(trainers.map { .string($0) })),
            ("version", .int(version)),
            ("running", .array(running.map { .object([("trial", .int(Int($0.trial))), ("attempt", .int($0.attempt))]) })),
        ]))
    }

    public init(_ e: Envelope) throws(WireError) {
        let f = Fields(e)
        worker = try f.string("worker")
        guard !worker.isEmpty, worker.count <= 128 else { throw WireError("HELLO.worker: must be 1-128 characters") }
        host = try f.optionalString("host") ?? ""
        slots = try f.int("slots")
        guard slots >= 1 && slots <= 1024 else { throw WireError("HELLO.slots: \(slots) is out of range 1...1024") }
        tags = try f.strings("tags")
        trainers = try f.strings("trainers")
        for (field, list) in [("tags", tags), ("trainers", trainers)] {
            guard list.count <= 64, list.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 }) else {
                throw WireError("HELLO.\(field): at most 64 names of 1-128 bytes each")
            }
        }
        version = try f.int("version")
        var refs: [AttemptRef] = []
        if let r = e.body["running"] {
            guard let items = r.arrayValue else { throw WireError("HELLO.running: expected a list") }
            guard items.count <= 1024 else { throw WireError("HELLO.running: \(items.count) entries; at most 1024") }
            for item in items {
                guard let t = item["trial"]?.intValue, let a = item["attempt"]?.intValue else {
                    throw WireError("HELLO.running: each entry needs integer trial and attempt")
                }
                refs.append(AttemptRef(trial: Int64(t), attempt: a))
            }
        }
        running = refs
    }
}

public struct Job: Sendable {
    public var ref: AttemptRef
    public var search: Int64
    /// `train`, `measure` or `supernet` (train the space's supernet).
    public var kind: String
    public var trainer: String
    public var candidate: JSONValue
    public var graph: JSONValue?
    /// The network before compression, for trainers that train it first and then prune
    /// or factorize it for real.
    public var graphUncompressed: JSONValue?
    public var benchmarkKey: String?
    public var fidelity: JSONValue
    public var seed: UInt64
    public var deadlineMs: Int
    public var target: String?
    /// Files the job needs, fetched from the coordinator (GET → PART) before the trainer starts.
    /// The training data's path on the worker (`search start --dataset`); nil: the
    /// trainer's default.
    public var dataset: String?
    public var artifacts: [WireArtifact] = []
    /// A `supernet` job's networks (`SupernetPool.json`: largest, smallest, sampled graphs).
    public var supernet: JSONValue?

    public init(ref: AttemptRef, search: Int64, kind: String, trainer: String, candidate: JSONValue, graph: JSONValue?,
                benchmarkKey: String?, fidelity: JSONValue, seed: UInt64, deadlineMs: Int, target: String?) {
        self.ref = ref; self.search = search; self.kind = kind; self.trainer = trainer; self.candidate = candidate
        self.graph = graph; self.benchmarkKey = benchmarkKey; self.fidelity = fidelity; self.seed = seed
        self.deadlineMs = deadlineMs; self.target = target
    }

    public var body: JSONValue {
        var p: [(String, JSONValue)] = [
            ("trial", .int(Int(ref.trial))), ("attempt", .int(ref.attempt)), ("search", .int(Int(search))),
            ("kind", .string(kind)), ("trainer", .string(trainer)), ("candidate", candidate),
            ("fidelity", fidelity), ("seed", .int(Int(truncatingIfNeeded: seed))), ("deadline_ms", .int(deadlineMs)),
        ]
        if let graph { p.append(("graph", graph)) }
        if let graphUncompressed { p.append(("graph_uncompressed", graphUncompressed)) }
        if let benchmarkKey { p.append(("benchmark_key", .string(benchmarkKey))) }
        if let target { p.append(("target", .string(target))) }
        if !artifacts.isEmpty { p.append(("artifacts", .array(artifacts.map(\.json)))) }
        if let dataset { p.append(("dataset", .string(dataset))) }
        if let supernet { p.append(("supernet", supernet)) }
        return .object(p)
    }

    public var envelope: Envelope { Envelope(.job, body) }

    public init(_ e: Envelope) throws(WireError) {
        let f = Fields(e)
        ref = AttemptRef(trial: Int64(try f.int("trial")), attempt: try f.int("attempt"))
        search = Int64(try f.int("search"))
        kind = try f.string("kind")
        trainer = try f.string("trainer")
        candidate = try f.object("candidate")
        graph = e.body["graph"]
        graphUncompressed = e.body["graph_uncompressed"]
        benchmarkKey = try f.optionalString("benchmark_key")
        fidelity = e.body["fidelity"] ?? .object([])
        seed = UInt64(bitPattern: Int64(try f.int("seed", default: 0)))
        deadlineMs = try f.int("deadline_ms")
        target = try f.optionalString("target")
        artifacts = try WireArtifact.list(e)
        dataset = try f.optionalString("dataset")
        supernet = e.body["supernet"]
    }
}

/// PROGRESS, RESULT and FAILED share the attempt reference; this reads it.
public func attemptRef(_ e: Envelope) throws(WireError) -> AttemptRef {
    let f = Fields(e)
    let t = try f.int("trial"), a = try f.int("attempt")
    guard t > 0, a >= 1 else { throw WireError("\(e.command.rawValue): trial must be positive and attempt at least 1") }
    return AttemptRef(trial: Int64(t), attempt: a)
}

public extension Envelope {
    static func progress(_ r: AttemptRef, step: Int, metrics: [String: Double]) -> Envelope {
        Envelope(.progress, .object([("trial", .int(Int(r.trial))), ("attempt", .int(r.attempt)), ("step", .int(step)),
                                     ("metrics", metricsJSON(metrics))]))
    }

    static func result(_ r: AttemptRef, metrics: [String: Double], info: JSONValue? = nil, artifacts: [WireArtifact] = []) -> Envelope {
        var p: [(String, JSONValue)] = [("trial", .int(Int(r.trial))), ("attempt", .int(r.attempt)), ("metrics", metricsJSON(metrics))]
        if let info { p.append(("info", info)) }
        if !artifacts.isEmpty { p.append(("artifacts", .array(artifacts.map(\.json)))) }
        return Envelope(.result, .object(p))
    }

    static func failed(_ r: AttemptRef, error: String, retryable: Bool, log: String? = nil) -> Envelope {
        var p: [(String, JSONValue)] = [("trial", .int(Int(r.trial))), ("attempt", .int(r.attempt)),
                                        ("error", .string(error)), ("retryable", .bool(retryable))]
        if let log { p.append(("log", .string(log))) }
        return Envelope(.failed, .object(p))
    }

    static func cancel(_ r: AttemptRef, reason: String) -> Envelope {
        Envelope(.cancel, .object([("trial", .int(Int(r.trial))), ("attempt", .int(r.attempt)), ("reason", .string(reason))]))
    }

    static func ack(_ r: AttemptRef) -> Envelope {
        Envelope(.ack, .object([("trial", .int(Int(r.trial))), ("attempt", .int(r.attempt))]))
    }

    static func heartbeat() -> Envelope { Envelope(.heartbeat, .object([])) }

    /// Coordinator → worker: send `length` bytes at `offset` of the artifact with this digest.
    static func fetch(_ sha256: String, offset: Int, length: Int) -> Envelope {
        Envelope(.fetch, .object([("sha256", .string(sha256)), ("offset", .int(offset)), ("length", .int(length))]))
    }

    /// Worker → coordinator: the bytes at `offset` (or `error` and no bytes when it cannot).
    static func chunk(_ sha256: String, offset: Int, bytes: [UInt8]?, error: String? = nil) -> Envelope {
        var p: [(String, JSONValue)] = [("sha256", .string(sha256)), ("offset", .int(offset))]
        if let error { p.append(("error", .string(error))) }
        return Envelope(.chunk, .object(p), payload: bytes ?? [])
    }

    /// Coordinator → worker: the artifact is stored (or, DISCARD, given up); forget it.
    static func stored(_ sha256: String) -> Envelope { Envelope(.stored, .object([("sha256", .string(sha256))])) }
    static func discard(_ sha256: String, reason: String) -> Envelope {
        Envelope(.discard, .object([("sha256", .string(sha256)), ("reason", .string(reason))]))
    }

    /// Worker → coordinator: send bytes of an artifact a job I hold names.
    static func get(_ sha256: String, offset: Int, length: Int, for ref: AttemptRef) -> Envelope {
        Envelope(.get, .object([("sha256", .string(sha256)), ("offset", .int(offset)), ("length", .int(length)),
                                ("trial", .int(Int(ref.trial))), ("attempt", .int(ref.attempt))]))
    }

    /// Coordinator → worker: the bytes asked for by GET (or `error`).
    static func part(_ sha256: String, offset: Int, bytes: [UInt8]?, error: String? = nil) -> Envelope {
        var p: [(String, JSONValue)] = [("sha256", .string(sha256)), ("offset", .int(offset))]
        if let error { p.append(("error", .string(error))) }
        return Envelope(.part, .object(p), payload: bytes ?? [])
    }
    static func bye(_ reason: String) -> Envelope { Envelope(.bye, .object([("reason", .string(reason))])) }
    static func reject(_ reason: String) -> Envelope { Envelope(.reject, .object([("reason", .string(reason))])) }
    static func welcome(worker: String, heartbeatMs: Int, liveness: Int, slots: Int, maxMessageBytes: Int) -> Envelope {
        Envelope(.welcome, .object([("worker", .string(worker)), ("heartbeat_ms", .int(heartbeatMs)), ("liveness", .int(liveness)),
                                    ("slots", .int(slots)), ("max_message_bytes", .int(maxMessageBytes))]))
    }

    private static func metricsJSON(_ m: [String: Double]) -> JSONValue {
        .object(m.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })
    }
}

/// An artifact as RESULT and JOB name it: `{"name", "sha256", "bytes"}`.
public struct WireArtifact: Sendable, Equatable, Hashable {
    public var name: String
    public var sha256: String
    public var bytes: Int
    /// Most artifacts one RESULT or JOB may name.
    public static let maxPerMessage = 32
    /// Bytes of one CHUNK or PART.
    public static let chunkBytes = 256 << 10

    public init(name: String, sha256: String, bytes: Int) {
        self.name = name; self.sha256 = sha256; self.bytes = bytes
    }

    public var json: JSONValue { .object([("name", .string(name)), ("sha256", .string(sha256)), ("bytes", .int(bytes))]) }

    /// The `artifacts` list of a message body (absent: none). Names must be plain file names,
    /// digests 64 lower-case hex digits, sizes non-negative.
    public static func list(_ e: Envelope) throws(WireError) -> [WireArtifact] {
        guard let v = e.body["artifacts"], v != .null else { return [] }
        guard let items = v.arrayValue else { throw WireError("\(e.command.rawValue).artifacts: expected a list") }
        guard items.count <= maxPerMessage else { throw WireError("\(e.command.rawValue).artifacts: \(items.count) entries; at most \(maxPerMessage)") }
        var out: [WireArtifact] = []
        for item in items {
            guard let name = item["name"]?.stringValue, let sha = item["sha256"]?.stringValue, let bytes = item["bytes"]?.intValue else {
                throw WireError("\(e.command.rawValue).artifacts: each entry needs name, sha256 and bytes")
            }
            guard isPlainName(name) else { throw WireError("\(e.command.rawValue).artifacts: '\(name.prefix(40))' is not a plain file name") }
            guard ArtifactHasher.isDigest(sha) else { throw WireError("\(e.command.rawValue).artifacts: sha256 must be 64 lower-case hex digits") }
            guard bytes >= 0 else { throw WireError("\(e.command.rawValue).artifacts: bytes must not be negative") }
            guard !out.contains(where: { $0.name == name }) else { throw WireError("\(e.command.rawValue).artifacts: '\(name)' twice") }
            out.append(WireArtifact(name: name, sha256: sha, bytes: bytes))
        }
        return out
    }

    /// Letters, digits, `.`, `_`, `-`; not `.` or `..`; at most 128 bytes.
    public static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name != "." && name != ".."
            && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 46 || $0 == 95 || $0 == 45 }
    }
}
