import Foundation
import TopiaryCore

/// One measured candidate of a measurement file.
public struct Measurement: Sendable {
    public var candidate: Candidate
    public var space: SearchSpace
    public var milliseconds: Double
    /// The line of the file the row starts on, and `file:line` for messages.
    public var line: Int
    public var place: String
    /// Every column of the row by header name (e.g. `precision`, `runtime`).
    public var columns: [String: String]

    /// The calibration sample of this measurement under `model`.
    public func sample(_ model: LatencyModel) -> CalibrationSample {
        model.sample(NetworkGraph.build(compressed: candidate, in: space), measuredMilliseconds: milliseconds, label: place)
    }
}

/// Measurement CSV files (`bench/latency_validation.py` and `topiary target measure` write
/// them): a header row, `measured_ms`, and either `candidate` (the candidate's JSON) or
/// `candidate_file` (a JSON file, relative to the CSV); the search space from `space` (a
/// name or a YAML path) unless one space is given for all rows. Errors name `file:line`.
public enum MeasurementFile {
    /// Reads every row. A `space` column's name is looked for as `NAME.yaml` beside the CSV,
    /// in `spaceDirectories`, then in `SearchSpaces/` of the working directory; a relative
    /// path beside the CSV, then in the working directory.
    public static func read(_ path: String, space: String? = nil, spaceDirectories: [String] = []) throws(CalibrationError) -> [Measurement] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CalibrationError(place: path, "cannot read: \(error.localizedDescription)")
        }
        let table = try CSVTable.parse(text, file: path)
        guard let cMs = table.column("measured_ms") else {
            throw CalibrationError(place: path, "no 'measured_ms' column (header: \(table.header.joined(separator: ",")))")
        }
        let cCand = table.column("candidate"), cFile = table.column("candidate_file"), cSpace = table.column("space")
        if cCand == nil && cFile == nil { throw CalibrationError(place: path, "needs a 'candidate' (JSON) or 'candidate_file' column") }
        if space == nil && cSpace == nil { throw CalibrationError(place: path, "no 'space' column; give the search space (--space)") }
        let base = (path as NSString).deletingLastPathComponent
        var spaces: [String: SearchSpace] = [:]
        var out: [Measurement] = []
        for row in table.rows {
            let place = "\(path):\(row.line)"
            let msText = row.fields[cMs].trimmingCharacters(in: .whitespaces)
            guard let ms = Double(msText), ms.isFinite, ms > 0 else {
                throw CalibrationError(place: place, "measured_ms '\(row.fields[cMs])' is not a positive number")
            }
            let spaceFile: String
            if let space { spaceFile = space } else {
                spaceFile = try locate(row.fields[cSpace!], base: base, directories: spaceDirectories, place: place)
            }
            let s: SearchSpace
            if let known = spaces[spaceFile] { s = known } else {
                do { s = try SearchSpace.load(path: spaceFile) } catch { throw CalibrationError(place: place, "\(error)") }
                spaces[spaceFile] = s
            }
            var json = cCand.map { row.fields[$0] } ?? ""
            if json.isEmpty, let cFile {
                let f = row.fields[cFile]
                let file = f.hasPrefix("/") ? f : (base as NSString).appendingPathComponent(f)
                do { json = try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw CalibrationError(place: place, "cannot read candidate_file \(file)")
                }
            }
            let candidate: Candidate
            do { candidate = try s.decode(json: json.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
                throw CalibrationError(place: place, "\(error)")
            }
            var columns: [String: String] = [:]
            for (i, h) in table.header.enumerated() { columns[h] = row.fields[i] }
            out.append(Measurement(candidate: candidate, space: s, milliseconds: ms, line: row.line, place: place, columns: columns))
        }
        if out.isEmpty { throw CalibrationError(place: path, "no measurements") }
        return out
    }

    /// The YAML file of a space named in a measurement row.
    static func locate(_ name: String, base: String, directories: [String], place: String) throws(CalibrationError) -> String {
        let fm = FileManager.default
        var tried: [String] = []
        func found(_ p: String) -> Bool { tried.append(p); return fm.fileExists(atPath: p) }
        if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.contains("/") {
            if name.hasPrefix("/") { if found(name) { return name } } else {
                let beside = (base as NSString).appendingPathComponent(name)
                if found(beside) { return beside }
                if found(name) { return name }
            }
        } else {
            for dir in [base] + directories + ["SearchSpaces"] {
                let p = (dir as NSString).appendingPathComponent("\(name).yaml")
                if found(p) { return p }
            }
        }
        throw CalibrationError(place: place, "no search space '\(name)' (looked for \(tried.joined(separator: ", ")))")
    }
}
