import Foundation
import Testing
import TopiaryCore
@testable import TopiaryHardware

/// Measurement CSVs and saved calibrations, read in one place for the CLI and the bench.
@Suite("Measurement files and target files")
struct MeasurementFileTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let spaces = repo.appendingPathComponent("SearchSpaces").path

    func tempDir() throws -> URL {
        let d = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-mf-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// A CSV of `rows` random NAS-Bench-Macro candidates with the given space column and times.
    func csv(in dir: URL, space: String, times: [String]) throws -> String {
        let s = try SearchSpace.load(path: Self.spaces + "/nas-bench-macro.yaml")
        var rng = SeededGenerator(seed: 5)
        var lines = ["space,measured_ms,precision,candidate"]
        for t in times { lines.append("\(space),\(t),fp32,\(quoted(s.sample(using: &rng).canonicalJSON))") }
        let path = dir.appendingPathComponent("m.csv").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a space named in the CSV is found in the given directories wherever the command runs; other columns are kept")
    func findsSpaces() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try csv(in: dir, space: "nas-bench-macro", times: ["1.5", "2.25"])
        let rows = try MeasurementFile.read(path, spaceDirectories: [Self.spaces])
        #expect(rows.count == 2 && rows.map(\.milliseconds) == [1.5, 2.25])
        #expect(rows[0].space.name == "nas-bench-macro" && rows[0].columns["precision"] == "fp32")
        #expect(rows[1].line == 3 && rows[1].place == "\(path):3")
        let model = LatencyModel(target: try HardwareTarget.load(path: Self.spaces + "/targets/host-cpu.yaml"))
        #expect(rows[0].sample(model).measuredMilliseconds == 1.5)
    }

    @Test("bad rows are refused naming file:line and what is wrong", arguments: [
        (["0"], "m.csv:2: measured_ms '0' is not a positive number"),
        (["1", "fast"], "m.csv:3: measured_ms 'fast' is not a positive number"),
        (["-2"], "m.csv:2: measured_ms '-2'"),
    ])
    func badTimes(_ times: [String], _ message: String) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try csv(in: dir, space: "nas-bench-macro", times: times)
        let e = #expect(throws: CalibrationError.self) { try MeasurementFile.read(path, spaceDirectories: [Self.spaces]) }
        #expect(e?.description.contains(message) == true, "got: \(e?.description ?? "nothing")")
    }

    @Test("an unknown space says where it was looked for; missing columns are named")
    func unknownSpaceAndColumns() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try csv(in: dir, space: "no-such-space", times: ["1"])
        let e = #expect(throws: CalibrationError.self) { try MeasurementFile.read(path, spaceDirectories: [Self.spaces]) }
        #expect(e?.description.contains("m.csv:2: no search space 'no-such-space' (looked for") == true, "got: \(e?.description ?? "")")
        #expect(e?.description.contains(Self.spaces + "/no-such-space.yaml") == true)

        let bare = dir.appendingPathComponent("bare.csv").path
        try "candidate,seconds\n{},1\n".write(toFile: bare, atomically: true, encoding: .utf8)
        let e2 = #expect(throws: CalibrationError.self) { try MeasurementFile.read(bare) }
        #expect(e2?.description.contains("no 'measured_ms' column") == true)
        let other = try csv(in: dir, space: "fashion-mobilenet", times: ["1"])  // NAS-Bench-Macro candidates in another space
        #expect(throws: CalibrationError.self) { try MeasurementFile.read(other, spaceDirectories: [Self.spaces]) }
    }

    @Test("the calibration beside a profile is found by the target's name and refused for another target")
    func savedCalibration() throws {
        let profile = Self.spaces + "/targets/host-cpu.yaml"
        let host = try HardwareTarget.load(path: profile)
        #expect(TargetFiles.calibrationPath(besideProfile: profile, target: "host-cpu") == Self.spaces + "/targets/host-cpu.calibration.json")
        let saved = try TargetFiles.savedCalibration(besideProfile: profile, for: host)
        #expect(saved?.0.target == "host-cpu" && (saved?.0.samples ?? 0) > 0)
        let pi = try HardwareTarget.load(path: Self.spaces + "/targets/raspberry-pi-4.yaml")
        let e = #expect(throws: CalibrationError.self) { try TargetFiles.loadCalibration(Self.spaces + "/targets/host-cpu.calibration.json", for: pi) }
        #expect(e?.description.contains("host-cpu.calibration.json: the calibration is for target 'host-cpu'") == true, "got: \(e?.description ?? "")")
    }
}
