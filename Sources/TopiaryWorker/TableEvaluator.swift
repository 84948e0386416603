import Foundation
import TopiaryCore

/// The built-in `table` trainer: looks a candidate's metrics up in a benchmark table
/// (CSV, first column the benchmark key) instead of training it, so a whole distributed
/// search runs in seconds. With NAS-Bench-Macro, `accuracy` is one of the three recorded
/// trainings drawn with the job's seed (real training noise) and `accuracy_mean` their mean.
public struct TableEvaluator: Sendable {
    public let path: String
    let columns: [String]
    let rows: [String: [Double]]
    /// Indices of the repeated-run columns (`..._run1`, `..._run2`, …).
    let runColumns: [Int]

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw TableError("\(path): cannot read the table") }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(whereSeparator: \.isNewline).makeIterator()
        guard let header = lines.next() else { throw TableError("\(path): the table is empty") }
        let names = header.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard names.count >= 2 else { throw TableError("\(path):1: expected a key column and at least one metric") }
        let cols = Array(names.dropFirst())
        columns = cols
        var rows: [String: [Double]] = [:]
        var lineNo = 1
        while let line = lines.next() {
            lineNo += 1
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count == names.count else { throw TableError("\(path):\(lineNo): \(f.count) fields, expected \(names.count)") }
            var values: [Double] = []
            for (i, v) in f.dropFirst().enumerated() {
                guard let d = Double(v.trimmingCharacters(in: .whitespaces)) else {
                    throw TableError("\(path):\(lineNo): column '\(names[i + 1])' is not a number: '\(v)'")
                }
                values.append(d)
            }
            rows[String(f[0])] = values
        }
        self.rows = rows
        runColumns = cols.indices.filter { cols[$0].range(of: #"_run\d+$"#, options: .regularExpression) != nil }
    }

    public var count: Int { rows.count }

    /// The metrics of the candidate with this key; nil when the table has no such row.
    public func evaluate(key: String, seed: UInt64) -> [String: Double]? {
        guard let values = rows[key] else { return nil }
        var m: [String: Double] = [:]
        for (i, c) in columns.enumerated() where !runColumns.contains(i) { m[c] = values[i] }
        if !runColumns.isEmpty {
            var rng = SeededGenerator(seed: seed)
            m["accuracy"] = values[runColumns[rng.index(below: runColumns.count)]]
            if let mean = m["mean_acc"] { m["accuracy_mean"] = mean }
        } else if m["accuracy"] == nil, let mean = m["mean_acc"] {
            m["accuracy"] = mean
        }
        return m
    }
}

public struct TableError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
