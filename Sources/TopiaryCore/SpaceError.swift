/// A problem with a search-space file or a candidate, with the place it was found.
///
/// `description` reads `FILE:LINE:COLUMN: at KEY: MESSAGE`, the form editors and
/// terminals recognise, so a user can jump straight to the mistake.
public struct SpaceError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Dotted path of the key, e.g. `stages[2].block.kernel`.
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

/// A candidate that does not belong to its space, or a benchmark key that does not decode.
public struct CandidateError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The field (dimension name or JSON path) at fault, if one is.
    public var field: String?
    public var message: String

    public init(field: String? = nil, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { return "candidate field '\(field)': \(message)" }
        return "candidate: \(message)"
    }
}
