import Foundation
import Logging
import Synchronization
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// Settings of the daemon (`topiary serve`).
public struct CoordinatorConfig: Sendable {
    public var bind: String
    public var control: String
    public var heartbeatMs = Wire.defaultHeartbeatMs
    public var liveness = Wire.defaultLiveness
    /// On shutdown, wait this long for running trials to finish before leaving them to
    /// be reclaimed after a restart (0: leave at once).
    public var drainSeconds = 0.0
    /// Queued trials kept ready per search, beyond the free slots.
    public var lookahead = 8
    /// Most workers served at once; more are refused.
    public var maxWorkers = 1_000
    /// Most jobs in flight on one worker, whatever slots it announces.
    public var maxSlotsPerWorker = 64
    /// HELLOs accepted per second across all peers (burst: twice as many); beyond, the
    /// peer is told to retry later (BYE), which a real worker does with backoff.
    public var helloRate = 20.0
    /// Progress reports kept per attempt; more are dropped.
    public var maxReportsPerAttempt = 10_000
    /// Seconds past a job's deadline before the coordinator gives up on it: it cancels the
    /// attempt and records it as failed (the worker's own SIGTERM/SIGKILL comes first).
    public var deadlineGraceSeconds = 30.0
    /// CURVE: the coordinator's key pair and the worker keys it admits (checked by a ZAP
    /// handler). Nil: plain TCP, which `run()` refuses on a non-loopback bind unless
    /// `allowPlainNetwork`.
    public var curve: (keys: CurveKeyPair, allow: AllowList)?
    public var allowPlainNetwork = false
    /// Prometheus metrics the loop and the store writer keep up to date, if wanted.
    public var metrics: DaemonMetrics?
    /// Where uploaded artifacts are kept, by content (nil: beside the database, `DB.artifacts`).
    public var artifacts: String?
    /// Largest artifact accepted, and most bytes of artifacts one search may keep; beyond,
    /// an artifact is recorded as refused and not fetched.
    public var maxArtifactBytes = 2 << 30
    public var maxSearchArtifactBytes = 50 << 30

    public init(bind: String, control: String) {
        self.bind = bind
        self.control = control
    }
}

/// The coordinator daemon: keeps every active search going, hands trials to workers over
/// ZeroMQ, and records what comes back in the store.
///
/// Made of parts with one job each (docs/ARCHITECTURE.md): the loop (`CoordinatorLoop`,
/// the caller of `run()`'s thread, which owns the sockets and moves messages), the worker
/// registry, the scheduler's pure decisions, the store writer's thread (every write of the
/// running daemon) and recovery (rebuilding searches from the store).
public final class Coordinator: Sendable {
    let config: CoordinatorConfig
    let store: Store
    let logger: Logger
    private let stopFlag = Atomic<Bool>(false)
    private let boundEndpoints = Mutex<(String, String)?>(nil)

    public init(config: CoordinatorConfig, store: Store, logger: Logger) {
        self.config = config
        self.store = store
        self.logger = logger
    }

    /// Asks the loop to finish (graceful shutdown).
    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// The worker and control endpoints actually bound, once `run()` has bound them.
    public var endpoints: (workers: String, control: String)? { boundEndpoints.withLock { $0.map { ($0.0, $0.1) } } }

    public func run() throws {
        var loop = try CoordinatorLoop(config: config, store: store, logger: logger)
        boundEndpoints.withLock { $0 = (loop.workerSocket.lastEndpoint, loop.controlSocket.lastEndpoint) }
        try loop.run(shouldStop: { self.stopFlag.load(ordering: .relaxed) })
    }
}

func printable(_ bytes: [UInt8]) -> String {
    let s = String(decoding: bytes.prefix(64), as: UTF8.self)
    return s.allSatisfy({ $0.isASCII && !$0.isNewline }) ? s : bytes.prefix(16).map { String($0, radix: 16) }.joined()
}
