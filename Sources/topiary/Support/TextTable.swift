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
enum Format {
    static func count(_ n: Int) -> String {
        let d = Double(n)
        if abs(d) >= 1e9 { return String(format: "%.2fG", d / 1e9) }
        if abs(d) >= 1e6 { return String(format: "%.2fM", d / 1e6) }
        if abs(d) >= 1e4 { return String(format: "%.1fK", d / 1e3) }
        return String(n)
    }

    static func bytes(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
        if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
        if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
        return "\(n) B"
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}

import Foundation
