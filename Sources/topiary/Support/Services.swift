import Foundation
import Logging
import ServiceLifecycle

/// Runs a blocking loop (the coordinator's or the worker's, which own ZeroMQ sockets and
/// so must stay on one thread) as a `Service`: the loop gets its own thread, and a
/// graceful shutdown (SIGINT/SIGTERM via the `ServiceGroup`) asks it to stop.
struct LoopService: Service {
    let name: String
    let body: @Sendable () throws -> Void
    let stop: @Sendable () -> Void

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let thread = Thread {
                    do {
                        try body()
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = name
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onGracefulShutdown: {
            stop()
        }
    }
}

/// Runs one loop service (and any others beside it, e.g. an HTTP server) until the loop
/// ends or a signal stops it.
func runUntilSignalled(_ service: LoopService, beside others: [any Service] = [], logger: Logger) async throws {
    let group = ServiceGroup(configuration: .init(
        services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)]
            + others.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
}

/// Options every long-running command takes for its logs.
enum Logs {
    static func bootstrap(level: String) throws -> Logger {
        guard let lvl = Logger.Level(rawValue: level) else {
            throw InputError("--log-level '\(level)': use one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = lvl
            return EscapingLogHandler(inner: h)
        }
        var logger = Logger(label: "topiary")
        logger.logLevel = lvl
        return logger
    }
}
