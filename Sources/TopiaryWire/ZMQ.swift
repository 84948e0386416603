import CZeroMQ
import Foundation

/// A libzmq call that failed, with errno's text.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String
    public var description: String { "\(operation): \(String(cString: zmq_strerror(code)))" }

    static func last(_ operation: String) -> ZMQError { ZMQError(code: zmq_errno(), operation: operation) }

    /// The call was interrupted by a signal or would block; try again.
    public var isTransient: Bool { code == EINTR || code == EAGAIN }
}

/// A ZeroMQ context. Contexts are thread-safe; sockets are not (see `ZMQSocket`).
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() {
        handle = zmq_ctx_new()
    }

    deinit { zmq_ctx_term(handle) }

    /// libzmq's version, e.g. (4, 3, 4).
    public static var version: (Int, Int, Int) {
        var a: Int32 = 0, b: Int32 = 0, c: Int32 = 0
        zmq_version(&a, &b, &c)
        return (Int(a), Int(b), Int(c))
    }

    /// Whether libzmq was built with CURVE security.
    public static var hasCurve: Bool { zmq_has("curve") != 0 }
}

/// One ZeroMQ socket. Not thread-safe: create, use and close it on one thread (the
/// coordinator's and the worker's I/O loops each own theirs).
public final class ZMQSocket {
    public enum Kind: Int32 {
        case router, dealer, req, rep, pair, push, pull
        var raw: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .req: return ZMQ_REQ
            case .rep: return ZMQ_REP
            case .pair: return ZMQ_PAIR
            case .push: return ZMQ_PUSH
            case .pull: return ZMQ_PULL
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    private var closed = false
    /// Held so the context is terminated only after its last socket closes
    /// (`zmq_ctx_term` waits for open sockets).
    private let context: ZMQContext

    public init(_ context: ZMQContext, _ kind: Kind) throws {
        guard let h = zmq_socket(context.handle, kind.raw) else { throw ZMQError.last("zmq_socket") }
        handle = h
        self.context = context
        try set(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    public func close() {
        if !closed { zmq_close(handle); closed = true }
    }

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    /// The endpoint actually bound (resolves `tcp://*:0` to the chosen port).
    public var lastEndpoint: String {
        var buf = [CChar](repeating: 0, count: 256)
        var size = buf.count
        zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buf, &size)
        return cString(buf)
    }

    public func set(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, _ value: Int64) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, bytes: [UInt8]) throws {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, string: String) throws {
        try set(option, bytes: Array(string.utf8))
    }

    public func getInt(_ option: Int32) -> Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        zmq_getsockopt(handle, option, &v, &size)
        return v
    }

    /// Largest message this socket accepts; larger ones drop the connection (libzmq).
    public func setMaxMessageSize(_ bytes: Int64) throws { try set(ZMQ_MAXMSGSIZE, bytes) }

    /// Makes a ROUTER report unroutable messages (a peer that has gone) as errors
    /// instead of dropping them silently.
    public func setRouterMandatory() throws { try set(ZMQ_ROUTER_MANDATORY, Int32(1)) }

    /// Sets the identity a ROUTER peer sees for this socket.
    public func setRoutingId(_ id: [UInt8]) throws { try set(ZMQ_ROUTING_ID, bytes: id) }

    /// Sends a multipart message. Returns false when `dontWait` and the send would block.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                let e = ZMQError.last("send")
                if e.code == EINTR { continue }
                if e.code == EAGAIN && dontWait && i == 0 { return false }
                throw e
            }
        }
        return true
    }

    /// Receives one multipart message, or nil when `dontWait` and nothing is waiting.
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        var ignored: String?
        return try receive(dontWait: dontWait, property: nil, value: &ignored)
    }

    /// Receives one multipart message with the peer's authenticated identity: the
    /// "User-Id" the ZAP handler gave its connection (nil without CURVE).
    public func receiveAuthenticated(dontWait: Bool = false) throws -> (frames: [[UInt8]], userId: String?)? {
        var user: String?
        guard let frames = try receive(dontWait: dontWait, property: "User-Id", value: &user) else { return nil }
        return (frames, user)
    }

    private func receive(dontWait: Bool, property: String?, value: inout String?) throws -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            var rc: Int32
            repeat {
                rc = zmq_msg_recv(&msg, handle, dontWait && frames.isEmpty ? ZMQ_DONTWAIT : 0)
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 {
                let e = ZMQError.last("receive")
                if e.code == EAGAIN && frames.isEmpty { return nil }
                throw e
            }
            let size = zmq_msg_size(&msg)
            // A ROUTER's identity frame carries no connection metadata; the peer's frames do.
            if value == nil, let property, let v = zmq_msg_gets(&msg, property) { value = String(cString: v) }
            if size > 0, let data = zmq_msg_data(&msg) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }

    /// Makes this socket a CURVE server with the given secret key; clients are
    /// authenticated by the ZAP handler of the socket's context (`ZAPHandler`).
    public func makeCurveServer(secretKey: String, zapDomain: String = "topiary") throws {
        try set(ZMQ_CURVE_SERVER, Int32(1))
        try set(ZMQ_CURVE_SECRETKEY, string: secretKey)
        try set(ZMQ_ZAP_DOMAIN, string: zapDomain)
    }

    /// Publishes this socket's connection events (`events`, a ZMQ_EVENT_* mask) on an
    /// inproc PAIR endpoint; read them with `ZMQMonitor`.
    public func monitor(_ endpoint: String, events: Int32) throws {
        guard zmq_socket_monitor(handle, endpoint, events) == 0 else { throw ZMQError.last("zmq_socket_monitor") }
    }

    /// Inbound messages queued per peer before libzmq stops reading from it.
    public func setReceiveHighWaterMark(_ messages: Int32) throws { try set(ZMQ_RCVHWM, messages) }

    /// Makes this socket a CURVE client of the server whose public key is given.
    public func makeCurveClient(serverKey: String, publicKey: String, secretKey: String) throws {
        try set(ZMQ_CURVE_SERVERKEY, string: serverKey)
        try set(ZMQ_CURVE_PUBLICKEY, string: publicKey)
        try set(ZMQ_CURVE_SECRETKEY, string: secretKey)
    }
}

/// Connection events of a monitored socket (`ZMQSocket.monitor`).
public struct ZMQMonitorEvent: Sendable {
    public let event: Int32
    /// The event's value: for handshake failures the ZMTP/ZAP error code (e.g. 400).
    public let value: UInt32
    public let endpoint: String

    public static let handshakeFailedNoDetail = Int32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    public static let handshakeFailedProtocol = Int32(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    public static let handshakeFailedAuth = Int32(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    public static let handshakeSucceeded = Int32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    public static let disconnected = Int32(ZMQ_EVENT_DISCONNECTED)
    /// The value of a protocol failure where one side uses CURVE and the other does not.
    public static let mechanismMismatch = UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)

    /// Decodes a monitor message (6 bytes: event u16 + value u32, then the endpoint).
    public init?(_ frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let f = frames[0]
        event = Int32(UInt16(f[0]) | UInt16(f[1]) << 8)
        value = UInt32(f[2]) | UInt32(f[3]) << 8 | UInt32(f[4]) << 16 | UInt32(f[5]) << 24
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

/// Waits on several sockets at once.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t] = []

    public init() {}

    /// Adds a socket to watch for input; returns its index.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        return items.count - 1
    }

    /// Waits up to `timeoutMs` (-1 forever); returns which sockets have input.
    public mutating func poll(timeoutMs: Int) throws -> [Bool] {
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMs) }
        if rc < 0 {
            let e = ZMQError.last("poll")
            if e.code == EINTR { return items.map { _ in false } }
            throw e
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}

/// A CURVE key pair in Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: cString(pub), secretKey: cString(sec))
    }

    /// The public key that belongs to a secret key.
    public static func publicKey(forSecret secret: String) throws -> String {
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secret) == 0 else { throw ZMQError.last("zmq_curve_public") }
        return cString(pub)
    }
}

/// A NUL-terminated C buffer as a Swift string.
func cString(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
