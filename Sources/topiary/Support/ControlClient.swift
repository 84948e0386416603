import Foundation
import TopiaryCore
import TopiaryWire

/// Talks to a running daemon's control endpoint: one typed request, one JSON reply.
struct ControlClient {
    let endpoint: String
    var timeoutMs = 10_000

    func call(_ request: ControlRequest) throws -> JSONValue {
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
        let reply = try JSONText.parse(String(decoding: body, as: UTF8.self))
        guard reply["ok"]?.boolValue == true else {
            throw InputError(reply["error"]?.stringValue ?? "the daemon refused the request")
        }
        return reply
    }
}
