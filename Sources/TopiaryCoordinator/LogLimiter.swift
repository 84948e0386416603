import Foundation

/// Limits repeated log lines: `burst` per kind in each `window`, then a count.
struct LogLimiter {
    var window: TimeInterval = 10
    var burst = 5
    private var counts: [String: (start: Date, logged: Int, dropped: Int)] = [:]

    /// Whether to log this one, and how many of this kind were left out in the window
    /// that just ended (to report once).
    mutating func check(_ kind: String, now: Date = Date()) -> (log: Bool, suppressed: Int) {
        var c = counts[kind] ?? (now, 0, 0)
        var suppressed = 0
        if now.timeIntervalSince(c.start) > window {
            suppressed = c.dropped
            c = (now, 0, 0)
        }
        let ok = c.logged < burst
        if ok { c.logged += 1 } else { c.dropped += 1 }
        counts[kind] = c
        return (ok, suppressed)
    }

    mutating func allow(_ kind: String) -> Bool { check(kind).log }

    /// Closes the windows that have ended: the kinds with lines left out, and how many.
    mutating func expired(now: Date = Date()) -> [(kind: String, suppressed: Int)] {
        var out: [(String, Int)] = []
        for (kind, c) in counts where now.timeIntervalSince(c.start) > window {
            if c.dropped > 0 { out.append((kind, c.dropped)) }
            counts[kind] = nil
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
