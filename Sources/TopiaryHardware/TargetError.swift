/// A problem with a hardware-target file, with the place it was found.
///
/// `description` reads `FILE:LINE:COLUMN: at 'KEY': MESSAGE`, as search-space errors do,
/// so an editor can jump to the mistake.
public struct TargetError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Dotted path of the key, e.g. `compute.int8`.
    public var key: String?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        if let key, !key.isEmpty { return "\(place): at '\(key)': \(message)" }
        return "\(place): \(message)"
    }
}

/// Calibration that cannot be done (too few samples, unusable measurements) or a
/// calibration file that does not fit the target; `place` names the sample or file.
public struct CalibrationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var place: String?
    public var message: String

    public init(place: String? = nil, _ message: String) {
        self.place = place
        self.message = message
    }

    public var description: String {
        if let place { return "\(place): \(message)" }
        return "calibration: \(message)"
    }
}
