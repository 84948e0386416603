import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryStore

/// `topiary supernet train|list|pool`: weight-sharing supernets (docs/SUPERNET.md).
struct SupernetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supernet",
        abstract: "Train a space's weight-sharing supernet once; searches then evaluate candidates by inheriting its weights (--evaluator supernet).",
        subcommands: [Train.self, List.self, Pool.self])

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue the training of a space's supernet on a worker (one trial: the largest network, sandwich rule).",
            discussion: """
                A worker with the pytorch trainer trains it and uploads its checkpoint (supernet.pt); `topiary supernet list` \
                shows it ready. Then: topiary search start SPACE --evaluator supernet --budget 200 ...
                """)
        @Argument(help: "Search-space YAML file (a network space; benchmark spaces use their tables).") var space: String
        @Option(help: "Epochs of supernet training.") var epochs = 3
        @Option(name: .customLong("data-fraction"), help: "Share of the training images each epoch uses.") var dataFraction = 1.0
        @Option(help: "Sampled networks the sandwich rule draws from (besides the largest and smallest).") var pool = SupernetPool.defaultSize
        @Option(help: "Random seed (the pool and the training).") var seed: UInt64 = 0
        @Option(help: "Trainer name the workers know.") var trainer = "pytorch"
        @Option(help: "Seconds the training may run.") var deadline = 6 * 3600
        @Option(help: ArgumentHelp("Train on this data instead of Fashion-MNIST (as `search start --dataset`).", valueName: "path"))
        var dataset: String?
        @Option(help: "Another fidelity setting KEY=VALUE (repeatable), e.g. batch_size=256, lr=0.002.") var fidelity: [String] = []
        @Flag(help: "Follow until done.") var follow = false
        @OptionGroup var control: ControlOptions
        @OptionGroup var location: TargetLocation

        func validate() throws {
            guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be 1...1000") }
            guard dataFraction > 0 && dataFraction <= 1 else { throw ValidationError("--data-fraction must be in (0, 1]") }
            guard SupernetPool.sizes.contains(pool) else { throw ValidationError("--pool must be \(SupernetPool.sizes.lowerBound)...\(SupernetPool.sizes.upperBound)") }
        }

        func run() async throws {
            let parsed = try SearchSpace.parse(yaml: try Inputs.text(space), file: space)
            if let why = SupernetPool.refusal(parsed) { throw InputError(why) }
            var args = [space, "--kind", "supernet", "--budget", "1", "--trainer", trainer, "--seed", String(seed),
                        "--fidelity", "epochs=\(epochs)", "--fidelity", "data_fraction=\(dataFraction)",
                        "--deadline", String(deadline), "--supernet-pool", String(pool), "--control", control.control]
            args += fidelity.flatMap { ["--fidelity", $0] }
            args += location.targetsDirectory.map { ["--targets", $0] } ?? []
            args += dataset.map { ["--dataset", $0] } ?? []
            args += follow ? ["--follow"] : []
            let start = try SearchCommand.Start.parse(args)
            try await start.run()
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Supernets in a database: the search that trains each, its settings, its accuracy by inheritance, its checkpoint.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Only this space's.") var space: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let db = try store.openForReading()
            let rows = try mappingStoreErrors { try db.supernets(space: space) }
            if json {
                print(JSONValue.array(rows.map { r in
                    .object([("supernet", .int(Int(r.search.id!))), ("space", .string(r.search.spaceName)), ("space_hash", .string(r.search.spaceHash)),
                             ("state", .string(r.trial?.state.rawValue ?? r.search.state.rawValue)), ("ready", .bool(r.isReady)),
                             ("fidelity", r.settings["fidelity"] ?? .null), ("pool", r.settings["supernet_pool"] ?? .null),
                             ("metrics", r.metrics ?? .null), ("checkpoint", r.checkpoint.map { .string($0.sha256) } ?? .null),
                             ("checkpoint_bytes", r.checkpoint.map { .int($0.bytes) } ?? .null),
                             ("created_at", .string(ISO8601DateFormatter().string(from: r.search.createdAt)))])
                }).text(pretty: true))
                return
            }
            if rows.isEmpty {
                print("no supernets" + (space.map { " of the space \($0)" } ?? "") + "; train one with `topiary supernet train SPACE`")
                return
            }
            var t = TextTable(["supernet", "space", "state", "epochs", "data", "pool", "largest", "smallest", "sampled", "checkpoint"])
            for r in rows {
                let f = r.settings["fidelity"], m = r.metrics
                func pct(_ k: String) -> String { m?[k]?.doubleValue.map { String(format: "%.2f", $0) } ?? "-" }
                t.add([String(r.search.id!), r.search.spaceName, r.trial?.state.rawValue ?? r.search.state.rawValue,
                       f?["epochs"].map { $0.text() } ?? "-", f?["data_fraction"].map { $0.text() } ?? "1",
                       r.settings["supernet_pool"].map { $0.text() } ?? "-", pct("accuracy"), pct("smallest_accuracy"), pct("sampled_accuracy"),
                       r.checkpoint.map { "\($0.sha256.prefix(16)) \(Format.bytes($0.bytes))" } ?? "-"])
            }
            print(t.render())
            print("accuracy by inheritance (validation, %); evaluate a search with it: topiary search start SPACE --evaluator supernet:ID")
        }
    }

    struct Pool: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the networks a supernet job trains on, as JSON: the largest, the smallest and sampled graphs.")
        @Argument(help: "Search-space YAML file.") var space: String
        @Option(help: "Sampled networks.") var count = 8
        @Option(help: "Random seed.") var seed: UInt64 = 0

        func validate() throws {
            guard SupernetPool.sizes.contains(count) else { throw ValidationError("--count must be \(SupernetPool.sizes.lowerBound)...\(SupernetPool.sizes.upperBound)") }
        }

        func run() async throws {
            let parsed = try SearchSpace.parse(yaml: try Inputs.text(space), file: space)
            if let why = SupernetPool.refusal(parsed) { throw InputError(why) }
            print(SupernetPool.json(space: parsed, count: count, seed: seed).text())
        }
    }
}
