import Foundation
import TopiaryCore

enum Inputs {
    /// Text of a file, or of standard input for "-".
    static func text(_ path: String) throws -> String {
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard let s = String(data: data, encoding: .utf8) else { throw InputError("standard input is not UTF-8 text") }
            return s
        }
        guard FileManager.default.fileExists(atPath: path) else { throw InputError("\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read the file") }
        guard let s = String(data: data, encoding: .utf8) else { throw InputError("\(path): not UTF-8 text") }
        return s
    }

    /// Candidates from text holding one JSON object, or one per line (JSON lines).
    /// Errors name the source and line.
    static func candidates(_ text: String, source: String, space: SearchSpace) throws -> [Candidate] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { throw InputError("\(source): no candidate given") }
        if let whole = try? JSONText.parse(trimmed), whole.objectPairs != nil {
            do { return [try space.decode(json: whole)] } catch { throw InputError("\(source): \(error)") }
        }
        var out: [Candidate] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.isEmpty { continue }
            do {
                out.append(try space.decode(json: String(l)))
            } catch {
                throw InputError("\(source):\(i + 1): \(error)")
            }
        }
        return out
    }
}
