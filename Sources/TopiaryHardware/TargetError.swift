import TopiaryCore

/// A problem with a hardware-target file, with the place it was found: the same
/// `FILE:LINE:COLUMN: at 'KEY': MESSAGE` error as search-space files give.
public typealias TargetError = SpaceError

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
