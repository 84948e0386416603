import Yams

/// Reads typed values out of a composed YAML tree and turns every mistake into a
/// `SpaceError` that names file:line:column and the key.
public struct YAMLReader {
    let file: String

    /// A reader whose errors name `file` (other YAML readers, e.g. hardware targets, build on it).
    public init(file: String) { self.file = file }

    /// Composes YAML text into a node tree; syntax errors, duplicate keys and an empty
    /// document become `SpaceError`s that name `file` and the place. Every YAML file
    /// Topiary reads (search spaces, hardware targets) goes through here.
    public static func compose(yaml: String, file: String) throws(SpaceError) -> Node {
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw SpaceError(file: file, line: 1, column: 1, message: "the file is empty")
            }
            return node
        } catch let e as SpaceError {
            throw e
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        } catch {
            throw SpaceError(file: file, message: "not valid YAML: \(error)")
        }
    }

    private static func yamlError(_ e: YamlError, file: String) -> SpaceError {
        switch e {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let ctx = context.map { "\($0.text) " } ?? ""
            return SpaceError(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(ctx)\(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return SpaceError(file: file, line: context.mark.line, column: context.mark.column,
                              key: duplicates.first, message: "key appears twice: \(duplicates.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            return SpaceError(file: file, message: "not valid YAML: \(problem)")
        default:
            return SpaceError(file: file, message: "not valid YAML: \(e)")
        }
    }

    public func error(_ node: Node?, _ key: String, _ message: String) -> SpaceError {
        SpaceError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key, message: message)
    }

    /// The entries of a mapping, in order, rejecting keys not in `allowed` and missing `required` ones.
    public func mapping(_ node: Node, key: String, allowed: [String], required: [String] = []) throws(SpaceError) -> Entries {
        guard case .mapping(let map) = node else {
            throw error(node, key, "expected a mapping with keys \(allowed.joined(separator: ", ")), found \(kindName(node))")
        }
        var entries = Entries(node: node, path: key, reader: self)
        for (k, v) in map {
            guard case .scalar(let ks) = k else { throw error(k, key, "keys must be plain words") }
            let name = ks.string
            let childPath = key.isEmpty ? name : "\(key).\(name)"
            if !allowed.contains(name) {
                let hint = Self.closest(name, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw error(k, childPath, "unknown key '\(name)'\(hint); allowed here: \(allowed.joined(separator: ", "))")
            }
            if entries.values[name] != nil { throw error(k, childPath, "key '\(name)' appears twice") }
            entries.values[name] = v
            entries.keyNodes[name] = k
            entries.order.append(name)
        }
        for r in required where entries.values[r] == nil {
            throw error(node, key.isEmpty ? r : "\(key).\(r)", "missing required key '\(r)'")
        }
        return entries
    }

    public func sequence(_ node: Node, key: String) throws(SpaceError) -> [Node] {
        guard case .sequence(let seq) = node else { throw error(node, key, "expected a list, found \(kindName(node))") }
        return Array(seq)
    }

    public func kindName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s): return "'\(s.string)'"
        }
    }

    /// A single scalar of the given kind.
    func value(_ node: Node, key: String, _ kind: ValueKind) throws(SpaceError) -> ChoiceValue {
        guard case .scalar(let scalar) = node else {
            throw error(node, key, "expected \(kind.expected), found \(kindName(node))")
        }
        let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        switch kind {
        case .int(let range):
            guard !quoted, let v = node.int else { throw error(node, key, "expected \(kind.expected), found '\(scalar.string)'") }
            guard range.contains(v) else { throw error(node, key, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
            return .int(v)
        case .double(let lo, let hi, let openLow):
            guard !quoted, let v = node.float, v.isFinite else { throw error(node, key, "expected \(kind.expected), found '\(scalar.string)'") }
            guard (openLow ? v > lo : v >= lo) && v <= hi else {
                throw error(node, key, "\(scalar.string) is out of range \(openLow ? "(" : "[")\(ChoiceValue.formatDouble(lo)), \(ChoiceValue.formatDouble(hi))]")
            }
            return .double(v)
        case .bool:
            guard !quoted, let v = node.bool else { throw error(node, key, "expected true or false, found '\(scalar.string)'") }
            return .bool(v)
        case .word(let allowed):
            let s = scalar.string
            guard allowed.contains(s) else {
                throw error(node, key, "'\(s)' is not one of \(allowed.joined(separator: ", "))")
            }
            return .string(s)
        case .text:
            return .string(scalar.string)
        }
    }

    /// A fixed value or a non-empty list of distinct choices.
    func choices(_ node: Node, key: String, _ kind: ValueKind) throws(SpaceError) -> [ChoiceValue] {
        if case .sequence(let seq) = node {
            if seq.isEmpty { throw error(node, key, "the list of choices is empty") }
            var out: [ChoiceValue] = []
            for item in seq {
                let v = try value(item, key: key, kind)
                if out.contains(where: { $0.matches(v) }) { throw error(item, key, "choice \(v) is listed twice") }
                out.append(v)
            }
            return out
        }
        return [try value(node, key: key, kind)]
    }

    /// The option closest to a misspelt word, if one is close enough to suggest.
    public static func closest(_ word: String, in options: [String]) -> String? {
        let scored = options.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let best = scored, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var prev = Array(0...y.count)
        for i in 1...x.count {
            var cur = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[y.count]
    }
}

/// The kind of a scalar and its allowed range.
enum ValueKind {
    case int(ClosedRange<Int>)
    case double(Double, Double, openLow: Bool)
    case bool
    case word([String])
    case text

    var expected: String {
        switch self {
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "true or false"
        case .word(let w): return "one of \(w.joined(separator: ", "))"
        case .text: return "text"
        }
    }
}

/// The checked entries of one YAML mapping.
public struct Entries {
    public let node: Node
    public let path: String
    let reader: YAMLReader
    public internal(set) var values: [String: Node] = [:]
    var keyNodes: [String: Node] = [:]
    public internal(set) var order: [String] = []

    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    subscript(_ key: String) -> Node? { values[key] }

    func value(_ key: String, _ kind: ValueKind, default def: ChoiceValue? = nil) throws(SpaceError) -> ChoiceValue {
        guard let n = values[key] else {
            if let def { return def }
            throw reader.error(node, path(key), "missing required key '\(key)'")
        }
        return try reader.value(n, key: path(key), kind)
    }

    func choices(_ key: String, _ kind: ValueKind, default def: [ChoiceValue]? = nil) throws(SpaceError) -> [ChoiceValue] {
        guard let n = values[key] else {
            if let def { return def }
            throw reader.error(node, path(key), "missing required key '\(key)'")
        }
        return try reader.choices(n, key: path(key), kind)
    }

    func int(_ key: String, _ range: ClosedRange<Int>, default def: Int? = nil) throws(SpaceError) -> Int {
        try value(key, .int(range), default: def.map { .int($0) }).intValue!
    }

    func string(_ key: String, default def: String? = nil) throws(SpaceError) -> String {
        try value(key, .text, default: def.map { .string($0) }).stringValue!
    }

    func word(_ key: String, _ allowed: [String], default def: String? = nil) throws(SpaceError) -> String {
        try value(key, .word(allowed), default: def.map { .string($0) }).stringValue!
    }

    func bool(_ key: String, default def: Bool) throws(SpaceError) -> Bool {
        try value(key, .bool, default: .bool(def)).boolValue!
    }
}
