import TopiaryCore

/// A strategy's settings as given by a user: `key=value` pairs (`--strategy-option
/// population=50`) or one JSON object (a search's stored `strategy_settings`). Each
/// strategy reads its own keys with `Reader`, which rejects unknown keys and bad values
/// with a message naming the option and what it accepts.
public struct StrategyOptions: Sendable, Equatable, CustomStringConvertible {
    /// Values as text, in the order given; a later key overrides an earlier one.
    public private(set) var values: [(key: String, value: String)] = []

    public init() {}

    public static func == (a: StrategyOptions, b: StrategyOptions) -> Bool {
        a.values.map(\.key) == b.values.map(\.key) && a.values.map(\.value) == b.values.map(\.value)
    }

    /// Parses `["population=50", "sample=10"]`; an element may also hold several pairs
    /// separated by commas (`population=50,sample=10`).
    public init(keyValues: [String]) throws(StrategyError) {
        for item in keyValues {
            for pair in item.split(separator: ",", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = parts[0].trimmingSpaces()
                guard parts.count == 2, !key.isEmpty else { throw .malformedOptions(String(pair)) }
                set(key, parts[1].trimmingSpaces())
            }
        }
    }

    /// Parses a JSON object of scalars: `{"population": 50, "sample": 10}`.
    public init(json: JSONValue) throws(StrategyError) {
        guard let pairs = json.objectPairs else { throw .malformedOptions(json.canonical) }
        for (k, v) in pairs {
            switch v {
            case .string(let s): set(k, s)
            case .array, .object, .null: throw .malformedOptions(json.canonical)
            default: set(k, v.canonical)
            }
        }
    }

    /// Parses either form from text: a JSON object if it starts with `{`, else `key=value` pairs.
    public init(text: String) throws(StrategyError) {
        let t = text.trimmingSpaces()
        if t.hasPrefix("{") {
            let v: JSONValue
            do { v = try JSONText.parse(t) } catch { throw .malformedOptions(text) }
            try self.init(json: v)
        } else {
            try self.init(keyValues: t.isEmpty ? [] : [t])
        }
    }

    public mutating func set(_ key: String, _ value: String) {
        values.removeAll { $0.key == key }
        values.append((key, value))
    }

    public subscript(key: String) -> String? { values.last { $0.key == key }?.value }

    /// The options as a JSON object of strings, for storing with the search.
    public var json: JSONValue { .object(values.map { ($0.key, .string($0.value)) }) }

    public var description: String { values.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }

    /// Reads typed options for one strategy and remembers which keys it knows.
    struct Reader {
        let strategy: String
        let options: StrategyOptions
        private(set) var known: [String] = []

        init(_ strategy: String, _ options: StrategyOptions) {
            self.strategy = strategy
            self.options = options
        }

        mutating func int(_ key: String, default d: Int, in range: ClosedRange<Int>) throws(StrategyError) -> Int {
            known.append(key)
            guard let text = options[key] else { return d }
            guard let v = Int(text), range.contains(v) else {
                throw .invalidOption(strategy: strategy, option: key, value: text, expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }

        mutating func double(_ key: String, default d: Double?, in range: ClosedRange<Double>) throws(StrategyError) -> Double? {
            known.append(key)
            guard let text = options[key] else { return d }
            guard let v = Double(text), v.isFinite, range.contains(v) else {
                throw .invalidOption(strategy: strategy, option: key, value: text, expected: "a number in \(fmt(range.lowerBound))...\(fmt(range.upperBound))")
            }
            return v
        }

        mutating func choice(_ key: String, default d: String, of choices: [String]) throws(StrategyError) -> String {
            known.append(key)
            guard let text = options[key] else { return d }
            guard choices.contains(text) else {
                throw .invalidOption(strategy: strategy, option: key, value: text, expected: "one of \(choices.joined(separator: ", "))")
            }
            return text
        }

        mutating func string(_ key: String) -> String? {
            known.append(key)
            return options[key]
        }

        /// Throws for the first key no read asked for.
        func finish() throws(StrategyError) {
            for (k, _) in options.values where !known.contains(k) {
                throw .unknownOption(strategy: strategy, option: k, known: known)
            }
        }

        private func fmt(_ d: Double) -> String {
            d == .infinity ? "inf" : d == -.infinity ? "-inf" : ChoiceValue.formatDouble(d)
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    func trimmingSpaces() -> String { self[...].trimmingSpaces() }
}
