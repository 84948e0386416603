import Foundation
import TopiaryCore
import TopiaryWire

/// Talks to a running daemon's control endpoint: one typed request, one typed reply.
struct ControlClient {
    let endpoint: String
    var timeoutMs = 10_000

    /// Sends a request and reads its typed reply; the daemon's refusal is bad input (exit 2).
    func call<Reply: Decodable>(_ request: ControlRequest, _ reply: Reply.Type) throws -> Reply {
        let body = try exchange(request)
        do { return try ControlReply.decode(Reply.self, from: body) } catch { throw InputError(error.description) }
    }

    /// The reply's JSON text as it came (for `--json`), after checking it is not a refusal.
    func callRaw(_ request: ControlRequest) throws -> String {
        let body = try exchange(request)
        struct Status: Decodable {}
        do { _ = try ControlReply.decode(Status.self, from: body) } catch { throw InputError(error.description) }
        return String(decoding: body, as: UTF8.self)
    }

    private func exchange(_ request: ControlRequest) throws -> [UInt8] {
        let context = ZMQContext()
        let socket = try ZMQSocket(context, .req)
        defer { socket.close() }
        try socket.connect(endpoint)
        try socket.send([Array(request.encoded().utf8)])
        var poller = ZMQPoller()
        poller.add(socket)
        guard try poller.poll(timeoutMs: timeoutMs)[0], let frames = try socket.receive(dontWait: true), let body = frames.last else {
            throw RuntimeError("no daemon answered at \(endpoint) within \(timeoutMs / 1000) s (is `topiary serve` running there?)")
        }
        return body
    }
}
