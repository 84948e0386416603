import TopiaryCore
import Yams

/// Reads typed values out of a composed YAML tree and turns every mistake into a
/// `TargetError` naming file:line:column and the key. Mappings, lists and errors are
/// Core's `YAMLReader`'s; this adds the typed readers of target profiles' flat numeric
/// fields (numbers in ranges, byte counts, words) on top.
struct TargetYAMLReader {
    let file: String
    var core: YAMLReader { YAMLReader(file: file) }

    func error(_ node: Node?, _ key: String, _ message: String) -> TargetError { core.error(node, key, message) }

    /// The checked entries of a mapping: unknown keys (with a suggestion), duplicates and
    /// missing required keys are errors.
    func mapping(_ node: Node, key: String, allowed: [String], required: [String] = []) throws(TargetError) -> TargetEntries {
        let e = try core.mapping(node, key: key, allowed: allowed, required: required)
        return TargetEntries(node: e.node, path: e.path, reader: self, values: e.values, order: e.order)
    }

    func sequence(_ node: Node, key: String) throws(TargetError) -> [Node] { try core.sequence(node, key: key) }

    func kindName(_ node: Node) -> String { core.kindName(node) }

    func scalar(_ node: Node, key: String, expected: String) throws(TargetError) -> Node.Scalar {
        guard case .scalar(let s) = node else { throw error(node, key, "expected \(expected), found \(kindName(node))") }
        if s.style == .singleQuoted || s.style == .doubleQuoted, expected != "text" {
            throw error(node, key, "expected \(expected), found the quoted text '\(s.string)'")
        }
        return s
    }

    /// A finite number in `range` (`openLow` excludes the lower bound).
    func number(_ node: Node, key: String, _ range: ClosedRange<Double>, openLow: Bool = false) throws(TargetError) -> Double {
        let s = try scalar(node, key: key, expected: "a number")
        guard let v = node.float ?? node.int.map(Double.init), v.isFinite else {
            throw error(node, key, "expected a number, found '\(s.string)'")
        }
        guard (openLow ? v > range.lowerBound : v >= range.lowerBound) && v <= range.upperBound else {
            let lo = openLow ? "(" : "["
            throw error(node, key, "\(s.string) is out of range \(lo)\(format(range.lowerBound)), \(format(range.upperBound))]")
        }
        return v
    }

    func bool(_ node: Node, key: String) throws(TargetError) -> Bool {
        let s = try scalar(node, key: key, expected: "true or false")
        guard let v = node.bool else { throw error(node, key, "expected true or false, found '\(s.string)'") }
        return v
    }

    func text(_ node: Node, key: String) throws(TargetError) -> String {
        try scalar(node, key: key, expected: "text").string
    }

    func word(_ node: Node, key: String, _ allowed: [String]) throws(TargetError) -> String {
        let s = try scalar(node, key: key, expected: "one of \(allowed.joined(separator: ", "))").string
        guard allowed.contains(s) else {
            let hint = YAMLReader.closest(s, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
            throw error(node, key, "'\(s)' is not one of \(allowed.joined(separator: ", "))\(hint)")
        }
        return s
    }

    private func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}

/// The checked entries of one YAML mapping of a target file.
struct TargetEntries {
    let node: Node
    let path: String
    let reader: TargetYAMLReader
    var values: [String: Node] = [:]
    var order: [String] = []

    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    subscript(_ key: String) -> Node? { values[key] }

    func number(_ key: String, _ range: ClosedRange<Double>, openLow: Bool = false, default def: Double? = nil) throws(TargetError) -> Double {
        guard let n = values[key] else {
            if let def { return def }
            throw reader.error(node, path(key), "missing required key '\(key)'")
        }
        return try reader.number(n, key: path(key), range, openLow: openLow)
    }

    func optionalNumber(_ key: String, _ range: ClosedRange<Double>, openLow: Bool = false) throws(TargetError) -> Double? {
        guard let n = values[key] else { return nil }
        return try reader.number(n, key: path(key), range, openLow: openLow)
    }

    func bool(_ key: String, default def: Bool) throws(TargetError) -> Bool {
        guard let n = values[key] else { return def }
        return try reader.bool(n, key: path(key))
    }

    func text(_ key: String, default def: String? = nil) throws(TargetError) -> String {
        guard let n = values[key] else {
            if let def { return def }
            throw reader.error(node, path(key), "missing required key '\(key)'")
        }
        return try reader.text(n, key: path(key))
    }

    func word(_ key: String, _ allowed: [String], default def: String? = nil) throws(TargetError) -> String {
        guard let n = values[key] else {
            if let def { return def }
            throw reader.error(node, path(key), "missing required key '\(key)'")
        }
        return try reader.word(n, key: path(key), allowed)
    }
}
