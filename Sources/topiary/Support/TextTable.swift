/// A plain-text table that reads well in a terminal: a header, a rule, aligned columns
/// (numbers right-aligned).
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns to right-align; by default those whose cells all look numeric.
    var rightAligned: Set<Int>?

    init(_ headers: [String]) { self.headers = headers }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let n = headers.count
        var widths = headers.map(\.count)
        for r in rows { for (i, c) in r.prefix(n).enumerated() { widths[i] = max(widths[i], c.count) } }
        let right = rightAligned ?? Set((0..<n).filter { i in
            !rows.isEmpty && rows.allSatisfy { r in i < r.count && Self.looksNumeric(r[i]) }
        })
        func line(_ cells: [String]) -> String {
            (0..<n).map { i in
                let c = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return right.contains(i) ? pad + c : c + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }

    static func looksNumeric(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isNumber || ".,-+%eEx ".contains($0) } && s.contains(where: \.isNumber)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Human-readable numbers: 1234567 -> "1.23M", bytes -> "12.3 KiB".

import Foundation
