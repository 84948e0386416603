import Foundation

/// Where a target's files live beside its profile, and how they are read: the one place
/// the CLI, the benchmarks and the daemon find a calibration (`NAME.calibration.json`
/// beside `NAME.yaml`).
public enum TargetFiles {
    /// The calibration saved for target `name` in the profiles' directory `dir`.
    public static func calibrationPath(for name: String, dir: String) -> String {
        (dir as NSString).appendingPathComponent("\(name).calibration.json")
    }

    /// The calibration beside a profile file (whatever the file is called, it is named
    /// after the target inside it).
    public static func calibrationPath(besideProfile profilePath: String, target: String) -> String {
        calibrationPath(for: target, dir: (profilePath as NSString).deletingLastPathComponent)
    }

    /// Reads a calibration and checks it belongs to `target` (this version of its profile).
    public static func loadCalibration(_ path: String, for target: HardwareTarget) throws(CalibrationError) -> Calibration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CalibrationError(place: path, "cannot read: \(error.localizedDescription)")
        }
        let cal = try Calibration.parse(json: text, file: path)
        do { try cal.check(against: target) } catch { throw CalibrationError(place: path, error.message) }
        return cal
    }

    /// The kernel sweep saved beside a profile (`NAME.kernels.csv`, `topiary target
    /// profile`), if there is one.
    public static func savedKernels(besideProfile profilePath: String, target: String) throws(CalibrationError) -> KernelProfile? {
        let path = KernelProfile.path(for: target, dir: (profilePath as NSString).deletingLastPathComponent)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try KernelProfile.load(path)
    }

    /// The calibration saved beside a profile, if there is one.
    public static func savedCalibration(besideProfile profilePath: String, for target: HardwareTarget) throws(CalibrationError) -> (Calibration, path: String)? {
        let path = calibrationPath(besideProfile: profilePath, target: target.name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return (try loadCalibration(path, for: target), path)
    }
}
