import Synchronization
import TopiaryHardware

/// One `FigureCache` per (space, latency model): two searches of the same space for the
/// same calibrated target compute each candidate's cost and predicted latency once.
/// Bounded: beyond `capacity` pairs the oldest is forgotten (its searches keep theirs).
final class FigureCaches: Sendable {
    private struct Entry {
        var space: String
        var model: LatencyModel?
        var cache: FigureCache
    }
    private let entries = Mutex<[Entry]>([])
    static let capacity = 16

    /// The memo for `space` (its YAML text) and `model`, made when new.
    func cache(space: String, model: LatencyModel?) -> FigureCache {
        entries.withLock { list in
            if let e = list.first(where: { $0.space == space && $0.model == model }) { return e.cache }
            if list.count >= Self.capacity { list.removeFirst() }
            let made = FigureCache()
            list.append(Entry(space: space, model: model, cache: made))
            return made
        }
    }
}
