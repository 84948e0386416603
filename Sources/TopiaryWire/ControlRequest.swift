import Foundation

/// The control protocol between the CLI (or any client) and the daemon's control
/// endpoint: one request, one reply, each a JSON object. Requests are these typed values;
/// both sides encode and decode them here, so defaults and checks live in one place.
/// A request carries `"version"`; a daemon refuses a version it does not speak.
public enum ControlRequest: Sendable, Equatable {
    case ping
    case startSearch(StartSearchRequest)
    case listSearches
    case showSearch(Int64)
    case pauseSearch(Int64)
    case resumeSearch(Int64)
    case cancelSearch(Int64)
    case workers
    case leaderboard(LeaderboardRequest)

    public static let version = 1

    /// The request's `op` field.
    public var op: String {
        switch self {
        case .ping: return "ping"
        case .startSearch: return "search.start"
        case .listSearches: return "search.list"
        case .showSearch: return "search.show"
        case .pauseSearch: return "search.pause"
        case .resumeSearch: return "search.resume"
        case .cancelSearch: return "search.cancel"
        case .workers: return "workers"
        case .leaderboard: return "leaderboard"
        }
    }

    public static let ops = ["ping", "search.start", "search.list", "search.show", "search.pause", "search.resume", "search.cancel", "workers", "leaderboard"]

    /// The request as JSON text.
    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding these plain values cannot fail.
        return String(decoding: try! encoder.encode(Coded(self)), as: UTF8.self)
    }

    /// Reads a request; errors say which field is wrong and how.
    public static func decode(_ bytes: [UInt8]) throws(ControlError) -> ControlRequest {
        do {
            return try JSONDecoder().decode(Coded.self, from: Data(bytes)).request
        } catch let e as ControlError {
            throw e
        } catch let e as DecodingError {
            throw ControlError(e)
        } catch {
            throw ControlError("not a JSON object: \(error)")
        }
    }

    /// The wire form: `op`, `version`, and the fields of the request beside them.
    private struct Coded: Codable {
        var request: ControlRequest
        init(_ r: ControlRequest) { request = r }

        enum Keys: String, CodingKey { case op, version, search }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            guard let op = try c.decodeIfPresent(String.self, forKey: .op) else { throw ControlError("request needs an 'op'") }
            let version = try c.decodeIfPresent(Int.self, forKey: .version) ?? ControlRequest.version
            guard version == ControlRequest.version else {
                throw ControlError("control protocol version \(version) is not supported; this daemon speaks \(ControlRequest.version)")
            }
            func id() throws -> Int64 {
                guard let id = try c.decodeIfPresent(Int64.self, forKey: .search) else {
                    throw ControlError("\(op): 'search' (an integer id) is required")
                }
                return id
            }
            switch op {
            case "ping": request = .ping
            case "search.start": request = .startSearch(try StartSearchRequest(from: decoder))
            case "search.list": request = .listSearches
            case "search.show": request = .showSearch(try id())
            case "search.pause": request = .pauseSearch(try id())
            case "search.resume": request = .resumeSearch(try id())
            case "search.cancel": request = .cancelSearch(try id())
            case "workers": request = .workers
            case "leaderboard": request = .leaderboard(try LeaderboardRequest(from: decoder))
            default: throw ControlError("unknown op '\(op)'; use one of \(ControlRequest.ops.joined(separator: ", "))")
            }
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(request.op, forKey: .op)
            try c.encode(ControlRequest.version, forKey: .version)
            switch request {
            case .startSearch(let s): try s.encode(to: encoder)
            case .showSearch(let id), .pauseSearch(let id), .resumeSearch(let id), .cancelSearch(let id): try c.encode(id, forKey: .search)
            case .leaderboard(let l): try l.encode(to: encoder)
            case .ping, .listSearches, .workers: break
            }
        }
    }
}

/// A control request the daemon refuses, with what to change.
public struct ControlError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ d: String) { description = d }

    /// A decoding error in words: which field, and what it must be.
    init(_ e: DecodingError) {
        func path(_ p: [CodingKey]) -> String { p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let key, let ctx): self.init("'\(path(ctx.codingPath + [key]))' is required")
        case .typeMismatch(let type, let ctx): self.init("'\(path(ctx.codingPath))' must be \(Self.name(type))")
        case .valueNotFound(let type, let ctx): self.init("'\(path(ctx.codingPath))' must be \(Self.name(type)), not null")
        case .dataCorrupted(let ctx):
            self.init(ctx.codingPath.isEmpty ? "not valid JSON: \(ctx.debugDescription)" : "'\(path(ctx.codingPath))' is not valid: \(ctx.debugDescription)")
        @unknown default: self.init("\(e)")
        }
    }

    static func name(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "an integer"
        case is UInt64.Type: return "a non-negative integer"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        default: return "\(type)"
        }
    }
}
