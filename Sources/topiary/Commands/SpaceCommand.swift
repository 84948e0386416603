import ArgumentParser
import Foundation
import TopiaryCore

struct SpaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space",
        abstract: "Check, describe, sample and key search spaces.",
        subcommands: [Validate.self, Describe.self, Sample.self, Decode.self, Encode.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check search-space files; errors name file:line:column and the key.")
        @Argument(help: "Search-space YAML files.") var files: [String]

        func run() async throws {
            var firstError: Error?
            for f in files {
                do {
                    let s = try SearchSpace.load(path: f)
                    print("\(f): ok — \(s.name), \(s.dimensions.count) dimensions, \(s.count()) candidates")
                } catch {
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                    firstError = firstError ?? error
                }
            }
            if firstError != nil { throw ExitCode(2) }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a space's dimensions and count its candidates exactly.")
        @Argument(help: "Search-space YAML file.") var file: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let s = try SearchSpace.load(path: file)
            let arch = s.count(.arch), comp = s.count(.compression), total = s.count()
            if json {
                let dims: [JSONValue] = s.dimensions.map { p in
                    .object([("name", .string(p.name)), ("section", .string(p.section.rawValue)),
                             ("choices", .array(p.choices.map(JSONValue.init)))])
                }
                let doc = JSONValue.object([
                    ("name", .string(s.name)), ("hash", .string(s.hash)),
                    ("input", .string(s.input.description)), ("classes", .int(s.classes)),
                    ("architectures", .string(arch.description)), ("compression_settings", .string(comp.description)),
                    ("candidates", .string(total.description)), ("dimensions", .array(dims)),
                ])
                print(doc.text(pretty: true))
                return
            }
            print("\(s.name): \(s.summary)")
            let family: String
            switch s.network {
            case .mobilenet(let m): family = "mobilenet (\(m.stages.count) stages)"
            case .cell(let c): family = "cell (\(c.nodes) nodes, \(c.edges.count) edges, \(c.stages.map { "\($0.cells)x\($0.width)" }.joined(separator: ", ")))"
            }
            let sizes = s.parameter(named: SearchSpace.inputSizeDimension).map { " (elastic: \($0.choices.map(\.description).joined(separator: ", ")) px)" } ?? ""
            print("input \(s.input)\(sizes), \(s.classes) classes, network \(family)" + (s.benchmark.map { ", benchmark \($0.rawValue)" } ?? ""))
            var t = TextTable(["dimension", "choices", "when"])
            for p in s.dimensions {
                t.add([p.name, p.choices.map(\.description).joined(separator: " | "), p.condition.map(conditionText) ?? ""])
            }
            t.rightAligned = []
            print(t.render())
            let fixed = s.parameters.filter { $0.isFixed && $0.section == .compression }
            if !fixed.isEmpty {
                print("fixed compression: " + fixed.map { "\($0.name)=\($0.choices[0])" }.joined(separator: ", "))
            }
            print("architectures:         \(arch)\(sci(arch))")
            print("compression settings:  \(comp)")
            print("candidates (total):    \(total)\(sci(total))")
        }

        func sci(_ c: BigCount) -> String {
            c.intValue.map { $0 >= 1_000_000 ? String(format: " (%.3g)", Double($0)) : "" } ?? String(format: " (%.3g)", c.doubleValue)
        }

        func conditionText(_ c: Condition) -> String {
            switch c {
            case let .atLeast(d, n): return "\(d) >= \(n)"
            case let .notEqual(d, v): return "\(d) != \(v)"
            case let .anyAtMost(ds, n): return ds.map { "\($0) <= \(n)" }.joined(separator: " or ")
            }
        }
    }

    struct Sample: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Draw candidates with a seed; the same seed gives the same candidates.")
        @Argument(help: "Search-space YAML file.") var file: String
        @Option(help: "How many candidates.") var count = 10
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Flag(help: "Print canonical JSON, one candidate per line.") var json = false

        func validate() throws {
            guard count >= 0 && count <= 10_000_000 else { throw ValidationError("--count must be between 0 and 10000000") }
        }

        func run() async throws {
            let s = try SearchSpace.load(path: file)
            var rng = SeededGenerator(seed: seed)
            var t = TextTable(["id", "MACs", "params", "size", "peak act", "compression"])
            for _ in 0..<count {
                let c = s.sample(using: &rng)
                if json { print(c.canonicalJSON); continue }
                let r = NetworkGraph.build(compressed: c, in: s).cost()
                t.add([c.id, Format.count(r.macs), Format.count(r.params), Format.bytes(r.sizeBytes),
                       Format.bytes(r.peakActivationBytes), c.compression.summary])
            }
            if !json { print(t.render()) }
        }
    }

    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn a benchmark key into candidate JSON.",
            discussion: "KEY is a NAS-Bench-Macro digit string (e.g. 12021102) or a NAS-Bench-201 architecture string.")
        @Argument(help: "Search-space YAML file.") var file: String
        @Argument(help: "Benchmark key.") var key: String

        func run() async throws {
            let s = try SearchSpace.load(path: file)
            let c = try s.decode(benchmarkKey: key)
            print(c.json.text(pretty: true, sorted: true))
        }
    }

    struct Encode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn candidate JSON back into its benchmark key.")
        @Argument(help: "Search-space YAML file.") var file: String
        @Argument(help: "Candidate JSON text, a file holding it, or - for standard input.") var candidate: String

        func run() async throws {
            let s = try SearchSpace.load(path: file)
            let text = candidate.hasPrefix("{") ? candidate : try Inputs.text(candidate)
            for c in try Inputs.candidates(text, source: candidate.hasPrefix("{") ? "<argument>" : candidate, space: s) {
                print(try s.encodeBenchmarkKey(c))
            }
        }
    }
}
