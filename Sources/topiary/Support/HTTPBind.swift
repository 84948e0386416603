import Foundation

/// `HOST:PORT` for an HTTP listener (`--metrics`, `dashboard --bind`): checked, and
/// refused beyond loopback unless the command allows it.
struct HTTPBind: Equatable {
    var host: String
    var port: Int

    init(_ text: String, option: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw InputError("\(option) '\(text)': expected HOST:PORT, e.g. 127.0.0.1:9464")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw InputError("\(option) '\(text)': give the address to listen on, e.g. 127.0.0.1:\(port)") }
        self.host = host
        self.port = port
    }

    var isLoopback: Bool { ["127.0.0.1", "localhost", "::1"].contains(host) || host.hasPrefix("127.") }
}
