import Foundation
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`topiary serve --metrics HOST:PORT` serves them at
/// `/metrics`). Counters move where things happen (the loop, the store writer); gauges are
/// set from the loop's state about once a second. Rates — dispatches or results per second —
/// are `rate()` of the counters. Every method is safe from any thread.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    let dispatched: Counter
    let ended: [String: Counter]
    let bytesIn: Counter
    let bytesOut: Counter
    let messagesIn: Counter
    let workers: Gauge
    let slotsTotal: Gauge
    let slotsBusy: Gauge
    let heartbeatLag: Gauge
    let queuedTrials: Gauge
    let runningTrials: Gauge
    let activeSearches: Gauge
    let storeWrite: ValueHistogram
    let storeHeld: Gauge
    private let rejectedByKind = Mutex<[String: Counter]>([:])
    private let queueBySearch = Mutex<[Int64: Gauge]>([:])

    public init() {
        let r = registry
        dispatched = r.makeCounter(name: "topiary_trials_dispatched_total", help: "Jobs sent to workers.")
        ended = Dictionary(uniqueKeysWithValues: ["completed", "failed", "stopped"].map { outcome in
            (outcome, r.makeCounter(name: "topiary_trials_ended_total", labels: [("outcome", outcome)],
                                    help: "Attempts that ended, by outcome (stopped: pruned or cancelled)."))
        })
        bytesIn = r.makeCounter(name: "topiary_worker_bytes_received_total", help: "Bytes of worker messages received.")
        bytesOut = r.makeCounter(name: "topiary_worker_bytes_sent_total", help: "Bytes of messages sent to workers.")
        messagesIn = r.makeCounter(name: "topiary_worker_messages_received_total", help: "Worker messages received.")
        workers = r.makeGauge(name: "topiary_workers_connected", help: "Workers connected now.")
        slotsTotal = r.makeGauge(name: "topiary_worker_slots", labels: [("state", "total")], help: "Worker slots, all and busy.")
        slotsBusy = r.makeGauge(name: "topiary_worker_slots", labels: [("state", "busy")], help: "Worker slots, all and busy.")
        heartbeatLag = r.makeGauge(name: "topiary_heartbeat_lag_seconds", help: "Longest time since any connected worker was heard.")
        queuedTrials = r.makeGauge(name: "topiary_trials", labels: [("state", "queued")], help: "Trials queued or running now.")
        runningTrials = r.makeGauge(name: "topiary_trials", labels: [("state", "running")], help: "Trials queued or running now.")
        activeSearches = r.makeGauge(name: "topiary_searches_active", help: "Searches the daemon is running.")
        storeWrite = r.makeValueHistogram(name: "topiary_store_write_seconds",
                                          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
                                          help: "Time of one store transaction of the writer (a batch of up to 64 writes).")
        storeHeld = r.makeGauge(name: "topiary_store_writes_held", help: "Writes held while the store is unavailable.")
    }

    func dispatchedJob() { dispatched.increment() }

    func trialEnded(_ outcome: String) { ended[outcome]?.increment() }

    func received(bytes: Int) {
        messagesIn.increment()
        bytesIn.increment(by: Int64(bytes))
    }

    func sent(bytes: Int) { bytesOut.increment(by: Int64(bytes)) }

    /// A message refused or dropped, by the kind the daemon logs it under (`malformed`,
    /// `refused-hello`, `unknown-key`, `deadline`, …).
    func rejected(_ kind: String) {
        let counter = rejectedByKind.withLock { table in
            if let c = table[kind] { return c }
            let c = registry.makeCounter(name: "topiary_messages_rejected_total", labels: [("kind", kind)],
                                         help: "Worker messages and connections refused or dropped, by kind.")
            table[kind] = c
            return c
        }
        counter.increment()
    }

    func storeTransaction(seconds: Double) { storeWrite.record(seconds) }

    func storeHeld(_ count: Int) { storeHeld.set(to: Double(count)) }

    /// The loop's state, once a second.
    func observe(workers: Int, slots: Int, busy: Int, lagSeconds: Double, queued: [Int64: Int], running: Int) {
        self.workers.set(to: Double(workers))
        slotsTotal.set(to: Double(slots))
        slotsBusy.set(to: Double(busy))
        heartbeatLag.set(to: lagSeconds)
        queuedTrials.set(to: Double(queued.values.reduce(0, +)))
        runningTrials.set(to: Double(running))
        activeSearches.set(to: Double(queued.count))
        queueBySearch.withLock { table in
            for (id, n) in queued {
                let g = table[id] ?? registry.makeGauge(name: "topiary_search_queue_depth", labels: [("search", String(id))],
                                                        help: "Trials queued, per search.")
                table[id] = g
                g.set(to: Double(n))
            }
            // A search that ended shows 0 (its series stays; Prometheus expects that).
            for (id, g) in table where queued[id] == nil { g.set(to: 0) }
        }
    }

    /// The metrics in Prometheus' text format.
    public func text() -> [UInt8] { registry.emitToBuffer() }
}
