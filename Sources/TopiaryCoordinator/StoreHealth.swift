import Foundation

/// Whether the store takes writes, as the store writer sees it: a small state machine so
/// that "down since when, next try when, how long to back off" is one value, not flags.
///
/// `available` → (an unavailable error: disk full, read-only, locked, I/O) →
/// `retrying(until:, interval:)`; another failure doubles the interval (1 s up to 10 s);
/// a successful write → `available` again.
public enum StoreHealth: Equatable, Sendable, CustomStringConvertible {
    case available
    case retrying(until: Date, interval: TimeInterval)

    public static let firstInterval: TimeInterval = 1
    public static let longestInterval: TimeInterval = 10

    /// The state after a write failed because the store is unavailable at `now`.
    public func failed(at now: Date) -> StoreHealth {
        switch self {
        case .available:
            return .retrying(until: now.addingTimeInterval(Self.firstInterval), interval: Self.firstInterval)
        case .retrying(_, let interval):
            let next = min(interval * 2, Self.longestInterval)
            return .retrying(until: now.addingTimeInterval(next), interval: next)
        }
    }

    /// The state after a write succeeded.
    public func succeeded() -> StoreHealth { .available }

    public var isAvailable: Bool { self == .available }

    /// When the next write may be tried (now, when available).
    public var retryAt: Date {
        switch self {
        case .available: return .distantPast
        case .retrying(let until, _): return until
        }
    }

    public var description: String {
        switch self {
        case .available: return "available"
        case .retrying(let until, let interval): return "unavailable, retrying at \(until) (back-off \(Int(interval)) s)"
        }
    }
}
