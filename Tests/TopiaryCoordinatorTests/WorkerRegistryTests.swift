import Foundation
import Testing
import TopiaryWire
@testable import TopiaryCoordinator

@Suite("Worker registry: joining, limits and liveness")
struct WorkerRegistryTests {
    let t0 = Date(timeIntervalSince1970: 10_000)

    func hello(_ name: String, slots: Int = 2, version: Int = Wire.version) -> Hello {
        Hello(worker: name, host: "h", slots: slots, tags: ["cpu"], trainers: ["table"], version: version)
    }

    @Test("HELLOs: a burst of twice the rate, then refused until the bucket refills; one key at most 5 per 10 s")
    func helloLimits() {
        var r = WorkerRegistry(maxWorkers: 10, maxSlotsPerWorker: 4, helloRate: 2, now: t0)
        let gates = (0..<5).map { _ in r.gateHello(key: nil, now: t0) }
        #expect(gates == [.pass, .pass, .pass, .pass, .tooManyJoining])
        #expect(r.gateHello(key: nil, now: t0.addingTimeInterval(0.5)) == .pass, "one token back after half a second at 2/s")

        var k = WorkerRegistry(maxWorkers: 10, maxSlotsPerWorker: 4, helloRate: 1_000, now: t0)
        let byKey = (0..<6).map { _ in k.gateHello(key: "KEY", now: t0) }
        #expect(byKey == [.pass, .pass, .pass, .pass, .pass, .tooManyFromKey])
        #expect(k.gateHello(key: "OTHER", now: t0) == .pass, "other keys are not held up")
        #expect(k.gateHello(key: "KEY", now: t0.addingTimeInterval(11)) == .pass, "a new window")
    }

    @Test("a name held by another key or another protocol version is refused; a full registry turns new names away; slots are capped")
    func refusals() {
        var r = WorkerRegistry(maxWorkers: 1, maxSlotsPerWorker: 4, helloRate: 100, now: t0)
        #expect(r.refusal(hello("a"), key: "K1") == nil)
        r.join(hello("a", slots: 64), identity: [1], key: "K1", held: [:], now: t0)
        #expect(r["a"]?.slots == 4)
        #expect(r.refusal(hello("a"), key: "K2")?.contains("in use by another key") == true)
        #expect(r.refusal(hello("b", version: 99), key: nil)?.contains("protocol version 99") == true)
        #expect(r.isFull(for: "b"))
        #expect(!r.isFull(for: "a"), "a reconnecting worker is not new")
    }

    @Test("a reconnect replaces the socket identity; removal forgets both; silence past the liveness marks a worker lost")
    func identityAndLiveness() {
        var r = WorkerRegistry(maxWorkers: 10, maxSlotsPerWorker: 4, helloRate: 100, now: t0)
        r.join(hello("a"), identity: [1], key: nil, held: [:], now: t0)
        r.join(hello("a"), identity: [2], key: nil, held: [AttemptRef(trial: 5, attempt: 1): 1], now: t0)
        #expect(r.name(of: [1]) == nil && r.name(of: [2]) == "a")
        #expect(r["a"]?.running.count == 1 && r.freeSlots == 1)
        r.join(hello("b"), identity: [3], key: nil, held: [:], now: t0)
        r.heard("b", at: t0.addingTimeInterval(4))
        #expect(r.silent(now: t0.addingTimeInterval(6), deadAfter: 5) == ["a"])
        #expect(r.dueHeartbeat(now: t0.addingTimeInterval(1), interval: 1).count == 2)
        r.sent(to: [3], at: t0.addingTimeInterval(1))
        #expect(r.dueHeartbeat(now: t0.addingTimeInterval(1.5), interval: 1).map(\.name) == ["a"])
        let gone = r.remove("a")
        #expect(gone?.running.count == 1 && r.name(of: [2]) == nil && r.count == 1)
    }

    @Test("progress reports per attempt are counted up to the limit, then refused; the first over the limit is marked")
    func reportLimit() {
        var r = WorkerRegistry(maxWorkers: 10, maxSlotsPerWorker: 4, helloRate: 100, now: t0)
        let ref = AttemptRef(trial: 1, attempt: 1)
        r.join(hello("a"), identity: [1], key: nil, held: [ref: 1], now: t0)
        let counts = (0..<5).map { _ in r.countReport("a", ref, limit: 3) }
        #expect(counts == [.within, .within, .within, .firstOverLimit, .overLimit])
        #expect(r.countReport("nobody", ref, limit: 3) == .overLimit)
    }
}
