import Foundation
import TopiaryStore

/// Scheduling decisions as pure functions of what the worker registry and the searches
/// hold: how many trials to draw for each search, and which worker slot goes to which
/// search. No sockets, no store, no clock: the loop applies the decisions.
public enum Scheduler {
    /// A worker as the scheduler sees it.
    public struct WorkerSlots: Sendable, Equatable {
        public var name: String
        public var free: Int
        public var trainers: Set<String>
        public var tags: Set<String>
        public init(name: String, free: Int, trainers: Set<String>, tags: Set<String>) {
            self.name = name; self.free = free; self.trainers = trainers; self.tags = tags
        }
    }

    /// A search as the scheduler sees it.
    public struct SearchDemand: Sendable, Equatable {
        public var id: Int64
        public var active: Bool
        public var queued: Int
        public var running: Int
        public var trainer: String
        /// Measuring searches go only to workers tagged with their target.
        public var measureOn: String?
        public init(id: Int64, active: Bool, queued: Int, running: Int, trainer: String, measureOn: String? = nil) {
            self.id = id; self.active = active; self.queued = queued; self.running = running; self.trainer = trainer
            self.measureOn = measureOn
        }

        func servedBy(_ w: WorkerSlots) -> Bool {
            w.trainers.contains(trainer) && (measureOn.map { w.tags.contains($0) } ?? true)
        }
    }

    /// How many new trials a search should draw: enough to keep twice the free slots and
    /// `lookahead` more queued, within what its budget has left. `pending` counts trials
    /// drawn but not yet in the queue (their enqueue is still being written).
    public static func topUp(budget: Int, created: Int, queued: Int, pending: Int, freeSlots: Int, lookahead: Int) -> Int {
        max(0, min(budget - created, 2 * freeSlots + lookahead - queued - pending))
    }

    /// The queue beyond the free slots of a search whose strategy learns from results: each
    /// trial drawn ahead is suggested without the results that end meanwhile, so it keeps
    /// only what ends during one pipeline turn at the current rate (`rate`: none when trials
    /// take seconds or more), and at most a 25th of its budget (2 trials of 50) — a small
    /// search would otherwise draw a fifth of its trials blind.
    public static func learnerLookahead(budget: Int, ceiling: Int, rate: Int) -> Int {
        max(0, min(ceiling, rate, budget / 25))
    }

    /// Why no connected worker can take a search's trials, or nil when one can (busy or
    /// not): said by `search show` and `--follow` so a search does not wait silently.
    public static func stall(_ search: SearchDemand, workers: [WorkerSlots]) -> String? {
        if workers.isEmpty { return "no worker is connected (start one: topiary worker --connect …)" }
        let offering = workers.filter { $0.trainers.contains(search.trainer) }
        if offering.isEmpty {
            let offered = Set(workers.flatMap(\.trainers)).sorted()
            return "no connected worker offers the trainer '\(search.trainer)' (\(workers.count) connected, offering "
                + (offered.isEmpty ? "none" : offered.joined(separator: ", ")) + "; start one with --trainer \(search.trainer)=COMMAND)"
        }
        if let tag = search.measureOn, !offering.contains(where: { $0.tags.contains(tag) }) {
            return "no connected worker with the trainer '\(search.trainer)' is tagged '\(tag)' (measure trials run only on workers tagged with the target; start one with --tags \(tag))"
        }
        return nil
    }

    /// Assigns free worker slots to queued trials, fairly: workers take turns (by name) one
    /// slot at a time, and each slot goes to the search with the fewest running trials
    /// (then the lowest id) among the active ones the worker can serve that still have
    /// queued trials. Returns (worker, search) pairs in the order to start them.
    public static func assign(workers: [WorkerSlots], searches: [SearchDemand]) -> [(worker: String, search: Int64)] {
        var free = workers.sorted { $0.name < $1.name }
        var demand = searches.filter { $0.active && $0.queued > 0 }.sorted { $0.id < $1.id }
        var picks: [(String, Int64)] = []
        var progress = true
        while progress && !demand.isEmpty {
            progress = false
            for i in free.indices where free[i].free > 0 {
                var best: Int?
                for j in demand.indices where demand[j].queued > 0 && demand[j].servedBy(free[i]) {
                    if best == nil || demand[j].running < demand[best!].running { best = j }
                }
                guard let j = best else { continue }
                demand[j].queued -= 1
                demand[j].running += 1
                free[i].free -= 1
                picks.append((free[i].name, demand[j].id))
                progress = true
            }
        }
        return picks
    }
}
