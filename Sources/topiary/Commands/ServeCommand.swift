import ArgumentParser
import Foundation
import TopiaryCoordinator
import TopiaryStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the coordinator daemon: resumes every search in the database and serves workers.",
        discussion: "Stops on SIGINT or SIGTERM. Trials still running are reclaimed by their workers when the daemon comes back, or queued again.")

    @Option(help: "SQLite database (created if missing).") var db: String
    @Option(help: "ZeroMQ endpoint workers dial.") var bind = "tcp://*:5555"
    @Option(help: "Control endpoint for the CLI.") var control = "tcp://127.0.0.1:5556"
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs = 1_000
    @Option(help: "Heartbeats missed before a worker is taken for dead.") var liveness = 5
    @Option(help: "Seconds to wait for running trials on shutdown.") var drain = 0.0
    @Option(help: "Commit durability: normal (survives a killed process) or full (also a power cut).") var durability = "normal"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard heartbeatMs >= 20 && heartbeatMs <= 60_000 else { throw ValidationError("--heartbeat-ms must be 20...60000") }
        guard liveness >= 2 && liveness <= 100 else { throw ValidationError("--liveness must be 2...100") }
        guard drain >= 0 else { throw ValidationError("--drain must not be negative") }
        guard ["normal", "full"].contains(durability) else { throw ValidationError("--durability must be normal or full") }
    }

    func run() async throws {
        let logger = try Logs.bootstrap(level: logLevel)
        let store: Store
        do { store = try Store(path: db, durability: durability == "full" ? .full : .normal, logger: logger) } catch {
            throw RuntimeError("\(error)")
        }
        var config = CoordinatorConfig(bind: bind, control: control)
        config.heartbeatMs = heartbeatMs
        config.liveness = liveness
        config.drainSeconds = drain
        let coordinator = Coordinator(config: config, store: store, logger: logger)
        do {
            try await runUntilSignalled(LoopService(name: "coordinator", body: { try coordinator.run() }, stop: { coordinator.stop() }), logger: logger)
        } catch {
            throw RuntimeError("the coordinator stopped: \(error)")
        }
    }
}
