import ArgumentParser
import Foundation
import ServiceLifecycle
import TopiaryCoordinator
import TopiaryStore
import TopiaryWire

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the coordinator daemon: resumes every search in the database and serves workers.",
        discussion: "Stops on SIGINT or SIGTERM. Trials still running are reclaimed by their workers when the daemon comes back, or queued again.")

    @Option(help: "SQLite database (created if missing).") var db: String
    @Option(help: "ZeroMQ endpoint workers dial; beyond loopback (e.g. tcp://*:5555) it needs --key and --allow, or --insecure.")
    var bind = "tcp://127.0.0.1:5555"
    @Option(help: "Control endpoint for the CLI.") var control = "tcp://127.0.0.1:5556"
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs = 1_000
    @Option(help: "Heartbeats missed before a worker is taken for dead.") var liveness = 5
    @Option(help: "Seconds to wait for running trials on shutdown.") var drain = 0.0
    @Option(help: "Commit durability: normal (survives a killed process) or full (also a power cut).") var durability = "normal"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "The coordinator's CURVE key pair (a .key file from `topiary keys generate`); turns on encryption and authentication.")
    var key: String?
    @Option(help: "Worker public keys admitted: a directory of .pub files or a file of 'KEY NAME' lines; re-read when it changes.")
    var allow: String?
    @Flag(help: "Allow plain TCP (no encryption, no authentication) on a non-loopback --bind or --control.") var insecure = false
    @Option(help: "Most workers served at once.") var maxWorkers = 1_000
    @Option(help: "Most jobs in flight on one worker, whatever it asks for.") var maxSlotsPerWorker = 64
    @Option(help: "HELLOs accepted per second (burst twice that); more are told to retry later.") var helloRate = 20.0
    @Option(help: "Seconds past a job's deadline (search start --deadline) before the daemon cancels it and records it as failed.")
    var deadlineGrace = 30.0
    @Option(help: "Directory of uploaded artifacts, by content (default: beside --db, DB.artifacts).") var artifacts: String?
    @Option(help: "Largest artifact accepted from a worker, in MiB; larger ones are refused, not fetched.") var maxArtifactMb = 2_048
    @Option(help: "Most GiB of artifacts one search may keep; beyond, new ones are refused.") var maxSearchArtifactsGb = 50.0
    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464); beyond loopback only with --insecure.")
    var metrics: String?

    func validate() throws {
        guard heartbeatMs >= 20 && heartbeatMs <= 60_000 else { throw ValidationError("--heartbeat-ms must be 20...60000") }
        guard liveness >= 2 && liveness <= 100 else { throw ValidationError("--liveness must be 2...100") }
        guard drain >= 0 else { throw ValidationError("--drain must not be negative") }
        guard ["normal", "full"].contains(durability) else { throw ValidationError("--durability must be normal or full") }
        if key == nil && !insecure && !isLocalEndpoint(bind) {
            throw ValidationError("--bind \(bind) is reachable from other machines: give --key and --allow (see `topiary keys generate`), or pass --insecure for plain TCP")
        }
        if !insecure && !isLocalEndpoint(control) {
            throw ValidationError("--control \(control) would let anyone who reaches it start and cancel searches: bind it to 127.0.0.1 or ipc://, or pass --insecure")
        }
        guard (key == nil) == (allow == nil) else { throw ValidationError("--key and --allow go together: the key pair encrypts, the allow-list says who may join") }
        guard maxWorkers >= 1 && maxWorkers <= 100_000 else { throw ValidationError("--max-workers must be 1...100000") }
        guard maxSlotsPerWorker >= 1 && maxSlotsPerWorker <= 1024 else { throw ValidationError("--max-slots-per-worker must be 1...1024") }
        guard helloRate > 0 && helloRate <= 10_000 else { throw ValidationError("--hello-rate must be in (0, 10000]") }
        guard deadlineGrace >= 0 && deadlineGrace <= 86_400 else { throw ValidationError("--deadline-grace must be 0...86400 seconds") }
        guard maxArtifactMb >= 1 && maxArtifactMb <= 1 << 20 else { throw ValidationError("--max-artifact-mb must be 1...1048576") }
        guard maxSearchArtifactsGb > 0 && maxSearchArtifactsGb <= 1_048_576 else { throw ValidationError("--max-search-artifacts-gb must be positive") }
        if let metrics {
            let bind = try HTTPBind(metrics, option: "--metrics")
            if !bind.isLoopback && !insecure {
                throw ValidationError("--metrics \(metrics) would show the daemon's figures to anyone who reaches it: bind it to 127.0.0.1, or pass --insecure")
            }
        }
    }

    func run() async throws {
        let logger = try Logs.bootstrap(level: logLevel)
        let store: Store
        // The daemon waits at most 2 s for another process's lock (unless TOPIARY_BUSY_TIMEOUT_S
        // says otherwise): longer would stall its loop past the workers' liveness; it holds
        // what it could not write and retries instead.
        let busy = ProcessInfo.processInfo.environment["TOPIARY_BUSY_TIMEOUT_S"] == nil ? 2 : Store.defaultBusyTimeout
        do { store = try Store(path: db, durability: durability == "full" ? .full : .normal, logger: logger, busyTimeout: busy) } catch {
            throw RuntimeError("\(error)")
        }
        var config = CoordinatorConfig(bind: bind, control: control)
        config.heartbeatMs = heartbeatMs
        config.liveness = liveness
        config.drainSeconds = drain
        config.maxWorkers = maxWorkers
        config.maxSlotsPerWorker = maxSlotsPerWorker
        config.helloRate = helloRate
        config.deadlineGraceSeconds = deadlineGrace
        config.artifacts = artifacts
        config.maxArtifactBytes = maxArtifactMb << 20
        config.maxSearchArtifactBytes = Int(maxSearchArtifactsGb * 1_073_741_824)
        config.allowPlainNetwork = insecure
        if let key, let allow {
            do { config.curve = (try KeyFiles.loadPair(key), try AllowList(path: allow)) } catch let e as KeyError {
                throw InputError(e.description)
            }
        }
        var others: [any Service] = []
        if let metrics {
            let daemonMetrics = DaemonMetrics()
            config.metrics = daemonMetrics
            others.append(MetricsServer.application(daemonMetrics, bind: try HTTPBind(metrics, option: "--metrics"), logger: logger))
        }
        let coordinator = Coordinator(config: config, store: store, logger: logger)
        do {
            try await runUntilSignalled(LoopService(name: "coordinator", body: { try coordinator.run() }, stop: { coordinator.stop() }),
                                        beside: others, logger: logger)
        } catch let e as CoordinatorError {
            throw InputError(e.description)
        } catch {
            throw RuntimeError("the coordinator stopped: \(error)")
        }
    }
}
