import Foundation

/// The ZeroMQ authentication protocol (ZAP, RFC 27): libzmq asks the handler bound at
/// `inproc://zeromq.zap.01` of the socket's context whether a peer that completed the
/// CURVE handshake may connect. The coordinator polls this socket in its loop.
public final class ZAPHandler {
    public static let endpoint = "inproc://zeromq.zap.01"
    public let socket: ZMQSocket

    /// What one request decided, for the caller's log.
    public struct Decision: Sendable {
        public let accepted: Bool
        public let publicKey: String?
        public let name: String?
        public let address: String
        public let mechanism: String
    }

    /// Binds the handler in `context`; bind it before any CURVE server socket binds.
    public init(context: ZMQContext) throws {
        socket = try ZMQSocket(context, .rep)
        try socket.bind(Self.endpoint)
    }

    /// Answers the waiting requests: CURVE clients whose public key `lookup` names are
    /// accepted, with the public key as their User-Id (messages carry it: see
    /// `ZMQSocket.receiveAuthenticated`); everything else is refused (400).
    public func answer(_ lookup: (String) -> String?) throws -> [Decision] {
        var decisions: [Decision] = []
        while let frames = try socket.receive(dontWait: true) {
            // version, request id, domain, address, identity, mechanism, credentials...
            guard frames.count >= 6 else {
                try socket.send([Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8),
                                 Array("malformed ZAP request".utf8), [], []])
                continue
            }
            let requestID = frames[1]
            let address = String(decoding: frames[3], as: UTF8.self)
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            var key: String?
            var name: String?
            if mechanism == "CURVE", frames.count >= 7 { key = KeyFiles.z85(frames[6]) }
            if let key { name = lookup(key) }
            let ok = String(decoding: frames[0], as: UTF8.self) == "1.0" && name != nil
            try socket.send([Array("1.0".utf8), requestID, Array((ok ? "200" : "400").utf8),
                             Array((ok ? "OK" : "unknown key").utf8), Array((ok ? key! : "").utf8), []])
            decisions.append(Decision(accepted: ok, publicKey: key, name: name, address: address, mechanism: mechanism))
        }
        return decisions
    }
}
