/// One value a search-space dimension can take: the scalars YAML and JSON share.
///
/// Values are compared exactly; doubles are written with the shortest representation
/// that round-trips, so canonical JSON is stable across runs and platforms.
public enum ChoiceValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)

    public var intValue: Int? {
        switch self {
        case .int(let v): return v
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let d): return d
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as it appears in canonical JSON.
    public var json: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let d): return Self.formatDouble(d)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return JSONText.quote(s)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        default: return json
        }
    }

    /// Whether two values mean the same number (1 and 1.0), or are otherwise equal.
    public func matches(_ other: ChoiceValue) -> Bool {
        if self == other { return true }
        if let a = doubleValue, let b = other.doubleValue { return a == b }
        return false
    }

    /// Shortest text that reads back as the same double; integral values keep ".0".
    public static func formatDouble(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int(d)) + ".0" }
        return "\(d)"
    }
}
