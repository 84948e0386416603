import Testing
@testable import TopiaryCoordinator

@Suite("Scheduler: top-up and fair dispatch as pure decisions")
struct SchedulerTests {
    typealias W = Scheduler.WorkerSlots
    typealias S = Scheduler.SearchDemand

    @Test("top-up keeps twice the free slots plus the lookahead queued, counts trials being enqueued, stops at the budget")
    func topUp() {
        #expect(Scheduler.topUp(budget: 100, created: 0, queued: 0, pending: 0, freeSlots: 4, lookahead: 8) == 16)
        #expect(Scheduler.topUp(budget: 100, created: 10, queued: 6, pending: 4, freeSlots: 4, lookahead: 8) == 6)
        #expect(Scheduler.topUp(budget: 12, created: 10, queued: 0, pending: 0, freeSlots: 4, lookahead: 8) == 2)
        #expect(Scheduler.topUp(budget: 12, created: 12, queued: 0, pending: 0, freeSlots: 4, lookahead: 8) == 0)
        #expect(Scheduler.topUp(budget: 100, created: 0, queued: 30, pending: 0, freeSlots: 4, lookahead: 8) == 0, "never negative")
    }

    @Test("a learning strategy's queue beyond the free slots: what ends in one pipeline turn, at most a 25th of its budget and the configured lookahead")
    func learnerLookahead() {
        #expect(Scheduler.learnerLookahead(budget: 50, ceiling: 8, rate: 0) == 0, "slow trials: nothing drawn blind")
        #expect(Scheduler.learnerLookahead(budget: 50, ceiling: 8, rate: 8) == 2)
        #expect(Scheduler.learnerLookahead(budget: 1_000, ceiling: 8, rate: 8) == 8)
        #expect(Scheduler.learnerLookahead(budget: 1_000, ceiling: 8, rate: 3) == 3)
        #expect(Scheduler.learnerLookahead(budget: 10, ceiling: 8, rate: 8) == 0)
    }

    @Test("each slot goes to the search with the fewest running trials; ties to the lower id; workers take turns by name")
    func fairness() {
        let workers = [W(name: "b", free: 2, trainers: ["table"], tags: []), W(name: "a", free: 2, trainers: ["table"], tags: [])]
        let searches = [S(id: 2, active: true, queued: 10, running: 0, trainer: "table"),
                        S(id: 1, active: true, queued: 10, running: 1, trainer: "table")]
        let picks = Scheduler.assign(workers: workers, searches: searches)
        #expect(picks.map(\.worker) == ["a", "b", "a", "b"])
        #expect(picks.map(\.search) == [2, 1, 2, 1], "search 2 first (fewer running), then they alternate, ties to id 1")
    }

    @Test("a worker gets only searches whose trainer it offers; measure searches only on workers tagged with their target")
    func capabilities() {
        let workers = [W(name: "gpu", free: 3, trainers: ["pytorch"], tags: []),
                       W(name: "pi", free: 3, trainers: ["onnxruntime"], tags: ["raspberry-pi-4"]),
                       W(name: "other", free: 3, trainers: ["onnxruntime"], tags: ["jetson-nano"])]
        let searches = [S(id: 1, active: true, queued: 5, running: 0, trainer: "pytorch"),
                        S(id: 2, active: true, queued: 5, running: 0, trainer: "onnxruntime", measureOn: "raspberry-pi-4")]
        let picks = Scheduler.assign(workers: workers, searches: searches)
        #expect(picks.filter { $0.worker == "gpu" }.allSatisfy { $0.search == 1 })
        #expect(picks.filter { $0.worker == "pi" }.allSatisfy { $0.search == 2 })
        #expect(!picks.contains { $0.worker == "other" })
        #expect(picks.count == 6)
    }

    @Test("paused searches and empty queues get nothing; never more picks than queued trials or free slots")
    func limits() {
        let workers = [W(name: "a", free: 8, trainers: ["t"], tags: []), W(name: "busy", free: 0, trainers: ["t"], tags: [])]
        let searches = [S(id: 1, active: false, queued: 50, running: 0, trainer: "t"),
                        S(id: 2, active: true, queued: 3, running: 0, trainer: "t"),
                        S(id: 3, active: true, queued: 0, running: 0, trainer: "t")]
        let picks = Scheduler.assign(workers: workers, searches: searches)
        #expect(picks.count == 3 && picks.allSatisfy { $0.search == 2 && $0.worker == "a" })
        #expect(Scheduler.assign(workers: [], searches: searches).isEmpty)
    }

    @Test("with 1,000 workers of one slot and two searches, the slots split evenly", arguments: [1_000])
    func manyWorkers(count: Int) {
        let workers = (0..<count).map { W(name: "w\($0)", free: 1, trainers: ["t"], tags: []) }
        let picks = Scheduler.assign(workers: workers, searches: [S(id: 1, active: true, queued: 10_000, running: 0, trainer: "t"),
                                                                  S(id: 2, active: true, queued: 10_000, running: 0, trainer: "t")])
        #expect(picks.count == count)
        #expect(picks.filter { $0.search == 1 }.count == count / 2)
        #expect(Set(picks.map(\.worker)).count == count, "every worker gets one")
    }

    @Test("a search no connected worker can serve says why: no workers, no worker with its trainer, none tagged for measuring")
    func stall() {
        let s = S(id: 1, active: true, queued: 3, running: 0, trainer: "pytorch")
        #expect(Scheduler.stall(s, workers: [])?.contains("no worker is connected") == true)
        let table = W(name: "t", free: 2, trainers: ["table"], tags: [])
        #expect(Scheduler.stall(s, workers: [table])?.contains("no connected worker offers the trainer 'pytorch' (1 connected, offering table") == true)
        let busy = W(name: "p", free: 0, trainers: ["pytorch"], tags: [])
        #expect(Scheduler.stall(s, workers: [table, busy]) == nil, "a busy worker with the trainer will take it")
        let measure = S(id: 2, active: true, queued: 1, running: 0, trainer: "pytorch", measureOn: "raspberry-pi-4")
        #expect(Scheduler.stall(measure, workers: [busy])?.contains("tagged 'raspberry-pi-4'") == true)
    }
}

@Suite("Store health: back-off while the store is unavailable")
struct StoreHealthTests {
    @Test("failures back off 1, 2, 4, 8, then 10 s; a success makes it available again")
    func backoff() {
        let t0 = Date(timeIntervalSince1970: 1_000)
        var h = StoreHealth.available
        var intervals: [Double] = []
        for _ in 0..<6 {
            h = h.failed(at: t0)
            guard case .retrying(let until, let interval) = h else { Issue.record("not retrying"); return }
            #expect(until == t0.addingTimeInterval(interval))
            intervals.append(interval)
        }
        #expect(intervals == [1, 2, 4, 8, 10, 10])
        #expect(!h.isAvailable && h.retryAt == t0.addingTimeInterval(10))
        h = h.succeeded()
        #expect(h == .available && h.retryAt == .distantPast)
        #expect(h.failed(at: t0) == .retrying(until: t0.addingTimeInterval(1), interval: 1), "the back-off starts over")
    }
}

import Foundation
