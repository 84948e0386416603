import ArgumentParser
import Foundation
import TopiaryCore

extension TargetCommand {
    /// `topiary target measure T --space S --count N`: a measure search on a running daemon.
    struct Measure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time random candidates of a space on the target: queues measure jobs for workers tagged with it.",
            discussion: """
                Attach a worker on the device first, e.g. on a Raspberry Pi:
                  topiary worker --connect tcp://HOST:5555 --tags raspberry-pi-4 --trainer onnxruntime="python Workers/onnxruntime/measure_trainer.py"
                The measured latencies are stored; later searches for the target calibrate its latency model from them.
                """)
        @Argument(help: "Target name or YAML path.") var target: String
        @Option(help: "Search-space YAML whose candidates are timed.") var space: String
        @Option(help: "How many candidates.") var count = 20
        @Option(help: "Trainer name of the measuring worker.") var trainer = "onnxruntime"
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Option(help: "Timed runs per candidate.") var runs = 30
        @Flag(help: "Follow until done.") var follow = false
        @OptionGroup var control: ControlOptions
        @OptionGroup var location: TargetLocation

        func validate() throws {
            guard count >= 1 && count <= 100_000 else { throw ValidationError("--count must be 1...100000") }
            guard runs >= 1 && runs <= 10_000 else { throw ValidationError("--runs must be 1...10000") }
        }

        func run() async throws {
            let start = try SearchCommand.Start.parse([space, "--target", target, "--budget", String(count), "--kind", "measure",
                                                       "--trainer", trainer, "--seed", String(seed), "--fidelity", "runs=\(runs)",
                                                       "--control", control.control]
                                                      + (location.targetsDirectory.map { ["--targets", $0] } ?? [])
                                                      + (follow ? ["--follow"] : []))
            try await start.run()
        }
    }
}
