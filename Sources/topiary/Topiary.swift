import ArgumentParser
import Foundation
import TopiaryCore

@main
struct Topiary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topiary",
        abstract: "Hardware-aware neural architecture search: spaces, candidates and their costs.",
        discussion: """
            Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input.
            """,
        version: "0.1.0",
        subcommands: [SpaceCommand.self, CandidateCommand.self, ServeCommand.self, DashboardCommand.self, WorkerCommand.self, SearchCommand.self,
                      WorkersCommand.self, LeaderboardCommand.self, TrialsCommand.self, ExportCommand.self, ArtifactsCommand.self, DBCommand.self, TargetCommand.self,
                      KeysCommand.self, SupernetCommand.self]
    )

    /// Runs the command and maps every failure to the documented exit status.
    static func main() async {
        // A trainer that exits without reading its job must not kill the worker with SIGPIPE:
        // the write fails with EPIPE instead and the job's exit status tells what happened.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exitFor(error)
        }
    }

    static func exitFor(_ error: Error) -> Never {
        switch error {
        case let e as SpaceError: fail(e.description, code: 2)
        case let e as CandidateError: fail(e.description, code: 2)
        case let e as InputError: fail(e.description, code: 2)
        case let e as RuntimeError: fail(e.description, code: 1)
        case let e as ExitCode: Foundation.exit(e.rawValue)
        default:
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            if code == .validationFailure {
                fail(message.isEmpty ? "\(error)" : message, code: 2, prefix: false)
            }
            fail(message.isEmpty ? "\(error)" : message, code: 1)
        }
    }

    static func fail(_ message: String, code: Int32, prefix: Bool = true) -> Never {
        FileHandle.standardError.write(Data(((prefix ? "error: " : "") + message + "\n").utf8))
        Foundation.exit(code)
    }
}

/// Bad input from the user: exit status 2.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A failure while doing the work: exit status 1.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
