import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryHardware

extension CandidateCommand {
    struct Latency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predicted latency, energy and memory of candidates on a hardware target, with a per-layer table.",
            discussion: """
                Reads one candidate JSON object, or JSON lines. Uses the target's calibration \
                (NAME.calibration.json beside its profile) when there is one. A candidate that cannot \
                run on the target (precision, flash, SRAM, memory) is reported with the reason; with \
                several candidates each gets one line.
                """)
        @Argument(help: "Candidate JSON file, or - for standard input.") var file: String = "-"
        @Option(help: "The candidate's search-space YAML file.") var space: String
        @Option(help: "Target name or YAML path.") var target: String
        @OptionGroup var location: TargetLocation
        @Option(help: "A calibration file to use instead of the one beside the target.") var calibration: String?
        @Flag(help: "Use the profile as written, ignoring any calibration.") var uncalibrated = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let s = try SearchSpace.load(path: space)
            let (model, calibrationFile) = try Targets.model(target, location: location, calibration: calibration, uncalibrated: uncalibrated)
            let candidates = try Inputs.candidates(try Inputs.text(file), source: file == "-" ? "<stdin>" : file, space: s)
            let single = candidates.count == 1
            for c in candidates {
                let graph = NetworkGraph.build(compressed: c, in: s)
                let r = model.predict(graph)
                if json {
                    print(Self.json(c, graph, r, calibrated: calibrationFile != nil, perLayer: single).text(pretty: single))
                    continue
                }
                let verdict = r.fits ? "fits" : "does not fit: " + r.problems.map(\.description).joined(separator: "; ")
                if !single {
                    print("\(c.id)  \(Self.ms(r.milliseconds)) ms  \(Self.ms(r.energyMillijoules)) mJ  peak act \(Format.bytes(r.peakActivationBytes))  \(r.precision.rawValue)  \(verdict)")
                    continue
                }
                print("candidate \(c.id) in \(s.name) on \(model.target.name)" + (calibrationFile.map { " (calibrated: \($0))" } ?? " (uncalibrated profile)")
                      + "   compression: \(c.compression.summary)")
                var t = TextTable(["layer", "ops", "kind", "prec", "MACs", "bytes", "compute ms", "memory ms", "overhead ms", "layout ms", "quantize ms", "ms", "bound"])
                for l in r.layers {
                    let ops = graph.nodes[l.nodes].map(\.opName).joined(separator: "+")
                    t.add([l.name, ops, l.kind.rawValue, l.precision.rawValue, Format.grouped(l.effectiveMACs), Format.grouped(l.bytes),
                           Self.ms(l.computeMilliseconds), Self.ms(l.memoryMilliseconds), Self.ms(l.overheadMilliseconds),
                           l.layoutConversions > 0 ? Self.ms(l.layoutMilliseconds) : "", l.floatActivations > 0 ? Self.ms(l.quantizeMilliseconds) : "",
                           Self.ms(l.milliseconds), l.bound])
                }
                t.rightAligned = [4, 5, 6, 7, 8, 9, 10, 11]
                print(t.render())
                print("per-inference fixed:  \(Self.ms(r.fixedMilliseconds)) ms")
                print("predicted latency:    \(Self.ms(r.milliseconds)) ms")
                print("energy:               \(Self.ms(r.energyMillijoules)) mJ")
                print("weights:              \(Format.bytes(r.weightBytes)) stored, \(Format.bytes(r.runtimeWeightBytes)) at \(r.precision.rawValue)")
                print("peak activations:     \(Format.bytes(r.peakActivationBytes))")
                print("verdict:              \(verdict)")
            }
        }

        static func ms(_ x: Double) -> String {
            x >= 100 ? String(format: "%.1f", x) : (x >= 1 ? String(format: "%.3f", x) : String(format: "%.4f", x))
        }

        static func json(_ c: Candidate, _ graph: NetworkGraph, _ r: LatencyReport, calibrated: Bool, perLayer: Bool) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("id", .string(c.id)), ("target", .string(r.target)), ("calibrated", .bool(calibrated)),
                ("milliseconds", .double(r.milliseconds)), ("energy_mj", .double(r.energyMillijoules)),
                ("weight_bytes", .int(r.weightBytes)), ("runtime_weight_bytes", .int(r.runtimeWeightBytes)),
                ("peak_activation_bytes", .int(r.peakActivationBytes)), ("precision", .string(r.precision.rawValue)),
                ("fits", .bool(r.fits)), ("problems", .array(r.problems.map { .string($0.description) })),
            ]
            if perLayer {
                pairs.append(("layers", .array(r.layers.map { l in
                    .object([("name", .string(l.name)), ("kind", .string(l.kind.rawValue)), ("precision", .string(l.precision.rawValue)),
                             ("macs", .int(l.macs)), ("effective_macs", .int(l.effectiveMACs)), ("bytes", .int(l.bytes)),
                             ("compute_ms", .double(l.computeMilliseconds)), ("memory_ms", .double(l.memoryMilliseconds)),
                             ("overhead_ms", .double(l.overheadMilliseconds)), ("layout_conversions", .int(l.layoutConversions)),
                             ("layout_ms", .double(l.layoutMilliseconds)), ("float_activations", .int(l.floatActivations)),
                             ("quantize_ms", .double(l.quantizeMilliseconds)), ("ms", .double(l.milliseconds)),
                             ("bound", .string(l.bound)),
                             ("nodes", .array([.int(l.nodes.lowerBound), .int(l.nodes.upperBound - 1)]))])
                })))
            }
            return .object(pairs)
        }
    }
}
