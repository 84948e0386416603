/// A parsed CSV file (RFC 4180: fields may be quoted, with `""` for a quote, and quoted
/// fields may span lines), as measurement files are written. Rows remember the line
/// they start on, for error messages.
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [Row]

    public struct Row: Sendable {
        /// 1-based line of the file where the row starts.
        public var line: Int
        public var fields: [String]
    }

    /// Index of a header column.
    public func column(_ name: String) -> Int? { header.firstIndex(of: name) }

    /// Parses CSV text whose first row is the header; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(CalibrationError) -> CSVTable {
        var records: [Row] = []
        var field = ""
        var fields: [String] = []
        var inQuotes = false
        var line = 1
        var rowStart = 1
        var fieldStarted = false
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        func endRow() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Row(line: rowStart, fields: fields)) }
            fields = []
            field = ""
            fieldStarted = false
        }
        while i < chars.count {
            let ch = chars[i]
            if inQuotes {
                if ch == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if ch == "\n" { line += 1 }
                    field.unicodeScalars.append(ch)
                }
            } else {
                switch ch {
                case "\"":
                    if fieldStarted { throw CalibrationError(place: "\(file):\(line)", "a quote inside an unquoted field; quote the whole field") }
                    inQuotes = true
                    fieldStarted = true
                case ",":
                    fields.append(field)
                    field = ""
                    fieldStarted = false
                case "\r":
                    break
                case "\n":
                    endRow()
                    line += 1
                    rowStart = line
                default:
                    field.unicodeScalars.append(ch)
                    fieldStarted = true
                }
            }
            i += 1
        }
        if inQuotes { throw CalibrationError(place: "\(file):\(rowStart)", "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        guard let head = records.first else { throw CalibrationError(place: file, "the file is empty") }
        let body = Array(records.dropFirst())
        for r in body where r.fields.count != head.fields.count {
            throw CalibrationError(place: "\(file):\(r.line)", "\(r.fields.count) fields where the header has \(head.fields.count)")
        }
        return CSVTable(header: head.fields.map { $0.trimmingSpaces }, rows: body)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
