import Foundation
import TopiaryCore
import TopiaryWire

/// A hand-driven DEALER socket that speaks (or mangles) the wire protocol, to play a
/// hostile or broken worker against a real daemon.
final class RawPeer {
    let context: ZMQContext
    let socket: ZMQSocket

    init(_ endpoint: String, context: ZMQContext = ZMQContext(), curve: (serverKey: String, keys: CurveKeyPair)? = nil) throws {
        self.context = context
        socket = try ZMQSocket(context, .dealer)
        try socket.set(ZMQ_SNDTIMEO_VALUE, Int32(2_000))
        if let curve {
            try socket.makeCurveClient(serverKey: curve.serverKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey)
        }
        try socket.connect(endpoint)
    }

    func send(_ frames: [[UInt8]]) throws { try socket.send(frames) }

    func send(_ command: String, _ body: String, tag: String = Wire.tag) throws {
        try socket.send([Array(tag.utf8), Array(command.utf8), Array(body.utf8)])
    }

    static func helloBody(_ name: String, slots: Int = 1, trainers: [String] = ["table"]) -> String {
        #"{"worker":"\#(name)","host":"raw","slots":\#(slots),"tags":["cpu"],"trainers":[\#(trainers.map { "\"\($0)\"" }.joined(separator: ","))],"version":1,"running":[]}"#
    }

    /// The next message within `timeout` seconds, decoded (nil: none came).
    func receive(timeout: Double) throws -> Envelope? {
        var poller = ZMQPoller()
        poller.add(socket)
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try poller.poll(timeoutMs: 20)[0], let frames = try socket.receive(dontWait: true) {
                return try? Envelope.decode(frames)
            }
        }
        return nil
    }

    /// Every message that arrives within `seconds`.
    func drain(for seconds: Double) throws -> [Envelope] {
        var out: [Envelope] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end, let e = try receive(timeout: max(0.01, end.timeIntervalSinceNow)) { out.append(e) }
        return out
    }
}

/// ZMQ_SNDTIMEO: a send to a peer that stopped reading gives up instead of hanging the test.
let ZMQ_SNDTIMEO_VALUE: Int32 = 28
