import Logging

/// A log handler that writes one line per event whatever a peer sent: control characters
/// in the message and in metadata values (a worker's name or tag holding a newline or a
/// carriage return, say) are written escaped (`\n`, `\r`, `\u{1b}`), so a peer cannot
/// forge log lines or rewrite the terminal. Wraps the handler that does the writing.
struct EscapingLogHandler: LogHandler {
    var inner: any LogHandler

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        inner.log(level: level, message: "\(Self.escaped(message.description))", metadata: metadata.map(Self.escaped),
                  source: source, file: file, function: function, line: line)
    }

    static func escaped(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(escaped)
    }

    static func escaped(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let s): return .string(escaped(s))
        case .stringConvertible(let c): return .string(escaped(c.description))
        case .array(let a): return .array(a.map(escaped))
        case .dictionary(let d): return .dictionary(d.mapValues(escaped))
        }
    }

    /// The text with control characters written as escapes (tabs kept).
    static func escaped(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F || (0x80..<0xA0).contains($0.value) }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out.unicodeScalars.append(u)
            case _ where u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value):
                out += "\\u{" + String(u.value, radix: 16) + "}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
