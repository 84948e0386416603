import Foundation

/// A plain HTTP/1.1 GET on loopback over a socket (no client library needed): status and body.
func httpGet(_ port: Int, _ path: String, headers: [String: String] = [:], timeout: Double = 15) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket() failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { throw HarnessError("nothing listens on 127.0.0.1:\(port)") }
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    request += "\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        data += buffer[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let headEnd = text.range(of: "\r\n\r\n") else { throw HarnessError("no HTTP answer from :\(port)\(path)") }
    let head = text[..<headEnd.lowerBound]
    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    var body = String(text[headEnd.upperBound...])
    if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
    return (status, body)
}

/// A chunked body put back together.
private func dechunk(_ s: String) -> String {
    var out = ""
    var rest = Substring(s)
    while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound].split(separator: ";")[0], radix: 16), size > 0 {
        let start = lineEnd.upperBound
        let bytes = Array(rest[start...].utf8)
        out += String(decoding: bytes.prefix(size), as: UTF8.self)
        rest = Substring(String(decoding: bytes.dropFirst(size + 2), as: UTF8.self))
    }
    return out
}

/// Headless Chromium (Debian's `chromium`), if installed.
enum Browser {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs it headless with `args` and `url`; returns stdout (the DOM for --dump-dom).
    static func run(_ args: [String], _ url: String, timeout: Double = 90) throws -> String {
        guard let path else { throw HarnessError("chromium is not installed (apt-get install chromium)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-chromium-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: profile) }
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                       "--user-data-dir=\(profile.path)"] + args + [url]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: o, as: UTF8.self)
    }
}
