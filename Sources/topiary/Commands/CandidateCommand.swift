import ArgumentParser
import Foundation
import TopiaryCore

struct CandidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candidate",
        abstract: "Inspect candidates: what they cost.",
        subcommands: [Cost.self, Graph.self, Latency.self]
    )

    struct Cost: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "MACs, parameters, bytes on disk and peak activation memory of candidates, with a per-layer table.",
            discussion: "Reads one candidate JSON object, or JSON lines (as `space sample --json` prints them).")
        @Argument(help: "Candidate JSON file, or - for standard input.") var file: String = "-"
        @Option(help: "The candidate's search-space YAML file.") var space: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let s = try SearchSpace.load(path: space)
            let candidates = try Inputs.candidates(try Inputs.text(file), source: file == "-" ? "<stdin>" : file, space: s)
            for c in candidates {
                let graph = NetworkGraph.build(compressed: c, in: s)
                let r = graph.cost()
                if json {
                    print(Self.json(c, graph, r, perLayer: candidates.count == 1).text(pretty: candidates.count == 1))
                    continue
                }
                if candidates.count > 1 {
                    print("\(c.id)  MACs \(Format.count(r.macs))  params \(Format.count(r.params))  size \(Format.bytes(r.sizeBytes))  peak act \(Format.bytes(r.peakActivationBytes))  [\(c.compression.summary)]")
                    continue
                }
                print("candidate \(c.id) in \(s.name)   compression: \(c.compression.summary)")
                var t = TextTable(["layer", "ops", "output", "MACs", "params", "bytes"])
                for l in r.layers {
                    t.add([l.name, graph.opsDescription(l), l.output.description, Format.grouped(l.macs), Format.grouped(l.params), Format.grouped(l.sizeBytes)])
                }
                t.rightAligned = [3, 4, 5]
                print(t.render())
                print("total MACs:        \(Format.grouped(r.macs))" + (r.sparseMACs != r.macs ? " (\(Format.grouped(r.sparseMACs)) with zero weights skipped)" : ""))
                print("total params:      \(Format.grouped(r.params))" + (r.nonzeroParams != r.params ? " (\(Format.grouped(r.nonzeroParams)) non-zero)" : ""))
                print("size on disk:      \(Format.grouped(r.sizeBytes)) bytes (\(Format.bytes(r.sizeBytes)))")
                print("peak activations:  \(Format.grouped(r.peakActivationBytes)) bytes (\(Format.bytes(r.peakActivationBytes)))")
            }
        }

        static func json(_ c: Candidate, _ graph: NetworkGraph, _ r: CostReport, perLayer: Bool) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("id", .string(c.id)), ("macs", .int(r.macs)), ("sparse_macs", .int(r.sparseMACs)),
                ("params", .int(r.params)), ("nonzero_params", .int(r.nonzeroParams)),
                ("size_bytes", .int(r.sizeBytes)), ("peak_activation_bytes", .int(r.peakActivationBytes)),
            ]
            if perLayer {
                pairs.append(("layers", .array(r.layers.map { l in
                    .object([("name", .string(l.name)), ("ops", .string(graph.opsDescription(l))), ("category", .string(l.category.rawValue)),
                             ("output", .array([.int(l.output.channels), .int(l.output.height), .int(l.output.width)])),
                             ("macs", .int(l.macs)), ("params", .int(l.params)), ("size_bytes", .int(l.sizeBytes))])
                })))
            }
            return .object(pairs)
        }
    }

    struct Graph: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the candidate's network graph as JSON (what workers build and train).",
            discussion: "Nodes in execution order with their ops, inputs and output shapes. --uncompressed skips the compression transforms.")
        @Argument(help: "Candidate JSON file, or - for standard input.") var file: String = "-"
        @Option(help: "The candidate's search-space YAML file.") var space: String
        @Flag(help: "The network before compression.") var uncompressed = false
        @Flag(help: "Indent the JSON.") var pretty = false

        func run() async throws {
            let s = try SearchSpace.load(path: space)
            for c in try Inputs.candidates(try Inputs.text(file), source: file == "-" ? "<stdin>" : file, space: s) {
                let g = uncompressed ? NetworkGraph.build(c, in: s) : NetworkGraph.build(compressed: c, in: s)
                print(g.json.text(pretty: pretty))
            }
        }
    }
}
