import Foundation

/// Trials ended per second, over the last window of at least `window` seconds: how deep
/// the queue of a search whose strategy does not learn from results may be (enough for
/// what the workers finish while the store writer commits a batch).
struct Throughput {
    let window: TimeInterval
    private var windowStart: TimeInterval
    private var count = 0
    /// The rate of the last full window (0 until one has passed).
    private(set) var perSecond = 0.0

    init(window: TimeInterval = 0.1, now: TimeInterval = ProcessInfo.processInfo.systemUptime) {
        self.window = window
        windowStart = now
    }

    mutating func ended(_ n: Int = 1) { count += n }

    /// Closes the window when it has lasted long enough; a window with nothing ended
    /// brings the rate to 0.
    mutating func tick(now: TimeInterval = ProcessInfo.processInfo.systemUptime) {
        let elapsed = now - windowStart
        guard elapsed >= window else { return }
        perSecond = Double(count) / elapsed
        count = 0
        windowStart = now
    }

    /// Trials to keep queued beyond the free slots: `floor`, or what ends in `seconds` at
    /// the current rate when that is more (at most `ceiling`).
    func lookahead(floor: Int, seconds: Double, ceiling: Int) -> Int {
        max(floor, min(ceiling, Int(perSecond * seconds)))
    }
}
