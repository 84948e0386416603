import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryHardware

struct TargetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Hardware targets: list and show their profiles, calibrate them from measurements.",
        discussion: """
            A target is named (looked up as DIR/NAME.yaml, DIR being --targets, else $TOPIARY_TARGETS, \
            else SearchSpaces/targets, else the built-in profiles unpacked into ~/.local/share/topiary/targets) or given as a path to its YAML file. A calibration saved as \
            DIR/NAME.calibration.json is used by `candidate latency` unless --uncalibrated is given.
            """,
        subcommands: [List.self, Show.self, Calibrate.self, Measure.self, Profile.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the target profiles with their main figures.")
        @OptionGroup var location: TargetLocation

        func run() async throws {
            let dir = location.directory
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            if files.isEmpty { throw InputError("\(dir): no target profiles (NAME.yaml) there") }
            var t = TextTable(["target", "kind", "peak GOPS", "bandwidth", "limits", "calibrated", "description"])
            for f in files {
                let target = try Targets.load(path: (dir as NSString).appendingPathComponent(f))
                let peaks = target.precisions.map { "\($0.rawValue) \(Targets.number(target.peakGOPS[$0]!))" }.joined(separator: ", ")
                let cal = FileManager.default.fileExists(atPath: TargetFiles.calibrationPath(for: target.name, dir: dir)) ? "yes" : ""
                t.add([target.name, target.kind.rawValue, peaks, "\(Targets.number(target.memory.bandwidthGBs)) GB/s",
                       Targets.limits(target), cal, target.description])
            }
            t.rightAligned = []
            print(t.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one target's profile (and its calibration, if any).")
        @Argument(help: "Target name or YAML path.") var target: String
        @OptionGroup var location: TargetLocation
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let path = try location.path(of: target)
            let t = try Targets.load(path: path)
            let cal: Calibration?
            do { cal = try TargetFiles.savedCalibration(besideProfile: path, for: t)?.0 } catch { throw InputError(error.description) }
            if json {
                var pairs: [(String, JSONValue)] = [
                    ("name", .string(t.name)), ("kind", .string(t.kind.rawValue)), ("description", .string(t.description)),
                    ("file", .string(path)), ("fingerprint", .string(t.fingerprint)),
                    ("peak_gops", .object(t.precisions.map { ($0.rawValue, .double(t.peakGOPS[$0]!)) })),
                    ("efficiency", .object(OperationKind.allCases.map { ($0.rawValue, .double(t.efficiency[$0]!)) })),
                    ("memory", .object(Targets.memoryFields(t).map { ($0.0, $0.1) })),
                    ("overhead", .object([("layer_us", .double(t.overhead.layerMicroseconds)), ("inference_us", .double(t.overhead.inferenceMicroseconds))])),
                    ("sparsity", .object([("unstructured", .bool(t.sparsity.unstructured)), ("efficiency", .double(t.sparsity.efficiency))])),
                    ("power", .object([("active_w", .double(t.power.activeWatts)), ("idle_w", .double(t.power.idleWatts))])),
                ]
                if let cal { pairs.append(("calibration", cal.json)) }
                if let k = try Targets.savedKernels(path, t) {
                    pairs.append(("kernel_sweep", .object([("kernels", .int(k.rows.count)), ("runtime", .string(k.runtime)),
                                                           ("overhead_ms", .double(k.overheadMilliseconds)),
                                                           ("fusion", .object(k.fusion.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) }))])))
                }
                print(JSONValue.object(pairs).text(pretty: true))
                return
            }
            print("\(t.name) (\(t.kind.rawValue)): \(t.description)")
            print("file: \(path)")
            var p = TextTable(["precision", "peak GOPS"])
            for x in t.precisions { p.add([x.rawValue, Targets.number(t.peakGOPS[x]!)]) }
            print(p.render())
            print("efficiency (share of peak): " + OperationKind.allCases.map { "\($0.rawValue) \(Targets.number(t.efficiency[$0]!))" }.joined(separator: ", "))
            print("memory: " + Targets.memoryFields(t).map { k, v in "\(k) \(v.doubleValue.map(Targets.number) ?? v.intValue.map { Format.bytes($0) } ?? v.boolValue.map { "\($0)" } ?? "")" }.joined(separator: ", "))
            print("overhead: \(Targets.number(t.overhead.layerMicroseconds)) µs per layer"
                  + (t.overhead.quantizedLayerMicroseconds.map { " (\(Targets.number($0)) µs quantized)" } ?? "")
                  + (t.overhead.weightlessLayerMicroseconds.map { " (\(Targets.number($0)) µs without weights)" } ?? "")
                  + ", \(Targets.number(t.overhead.inferenceMicroseconds)) µs per inference")
            if let b = t.blockChannels {
                print("blocked layout: \(b) channels" + (t.layoutPrecisions.map { " (" + $0.map(\.rawValue).sorted().joined(separator: ", ") + ")" } ?? "")
                      + (t.plainInputEfficiency.map { "; a 1x1 convolution of fewer input channels runs at \(Targets.number($0)) of the efficiency" } ?? ""))
            }
            if let v = t.vectorChannels {
                print("vector width: \(v) channels; generic kernels at \(Targets.number(t.genericEfficiency))"
                      + (t.quantizedGenericEfficiency.map { " (\(Targets.number($0)) quantized)" } ?? "") + " of the efficiency"
                      + (t.genericRowElements > 0 ? "; a generic depthwise row costs \(Targets.number(t.genericRowElements)) elements more" : ""))
            }
            if !t.quantizedEfficiency.isEmpty || t.floatActivations != nil || t.quantizedChannelsLast || t.quantizedGenericCosts != nil {
                var parts = t.quantizedEfficiency.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \(Targets.number($0.value))" }
                if let f = t.floatActivations { parts.append("float activations " + f.map(\.rawValue).sorted().joined(separator: ", ")) }
                if t.quantizedChannelsLast { parts.append("channels-last (input and head transposed)") }
                if let g = t.quantizedGenericCosts {
                    parts.append("generic path per position \(Targets.number(g.positionMACs)) MACs + \(Targets.number(g.im2colMACs)) per im2col element"
                                 + " + \(Targets.number(g.outputMACs)) per output, depthwise \(g.depthwiseLanes) lanes"
                                 + " (left-over channel \(Targets.number(g.depthwiseRemainderMACs)), tap \(Targets.number(g.depthwiseTapMACs)),"
                                 + " output \(Targets.number(g.depthwiseOutputMACs)))")
                }
                print("quantized: " + parts.joined(separator: ", "))
            }
            if let f = t.floatRunsAs { print("wider networks run at: \(f.rawValue) (converted by the runtime)") }
            print("sparse kernels: " + (t.sparsity.unstructured ? "yes, \(Int(t.sparsity.efficiency * 100))% of the skipped work saved" : "no"))
            print("power: \(Targets.number(t.power.activeWatts)) W active, \(Targets.number(t.power.idleWatts)) W idle")
            if let cal {
                let unit = cal.source == Calibration.sweep ? "swept kernels (no whole network measured)"
                    : cal.source == Calibration.measuredFromSweep ? "measurements, starting from the kernel sweep's fit" : "measurements"
                print("calibrated: \(cal.samples) \(unit), scale \(Targets.number(cal.scale)), λ \(Targets.number(cal.lambda)); fit \(cal.quality)")
                print("  model: \(cal.formDescription)")
                if let cv = cal.crossValidated { print("  cross-validated: \(cv)") }
                Targets.printModelsCompared(cal, indent: "  ")
            } else {
                print("calibrated: no (topiary target calibrate \(t.name) --measurements FILE.csv)")
            }
            if let k = try Targets.savedKernels(path, t) {
                print("kernel sweep: \(k.rows.count) kernels measured (\(k.runtime)), fixed cost \(Targets.number(k.overheadMilliseconds * 1000)) µs per inference")
                TargetCommand.Profile.printFusion(k)
            } else {
                print("kernel sweep: none (topiary target profile \(t.name) on the device)")
            }
        }
    }

    struct Calibrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fit a target's latency model to measured latencies and save the calibration.",
            discussion: """
                FILE.csv has a header row and the columns `measured_ms` and either `candidate` (the \
                candidate's JSON, quoted) or `candidate_file` (a JSON file, relative to the CSV). The \
                space is --space, or a `space` column: a YAML path, or a NAME found as NAME.yaml beside the \
                CSV, beside the targets directory, or in SearchSpaces/. Other columns are \
                ignored, so bench/latency_validation.py's output reads as it is.
                A random --holdout share is left out of a first fit to report held-out quality (share of \
                predictions within ±10% and Spearman ρ); the saved calibration is then fitted on all rows.
                The model is chosen by cross-validation on the measurements alone (leave-one-out up to 20 \
                rows, else 5-fold): Topiary's per-layer model, straight lines through FLOPs, FLOPs and \
                bytes moved, or FLOPs and layer counts by kind, or the blend of the per-layer model and the \
                best line; --model fixes one instead.
                With --kernels (a kernel sweep of the device, `topiary target profile`), the per-layer model is \
                first fitted to the swept kernels — each a one-layer network timed on the device — and that fit \
                is tried as the starting point too (the smaller cross-validated error decides). Without \
                --measurements the calibration is that fit alone: a device's own kernels predict networks of \
                families no measurement came from (docs/HARDWARE.md).
                """)
        @Argument(help: "Target name or YAML path.") var target: String
        @OptionGroup var location: TargetLocation
        @Option(help: "CSV of measurements (repeatable: the files are fitted together); optional with --kernels.") var measurements: [String] = []
        @Option(help: "Search-space YAML of every candidate (else the CSV's `space` column).") var space: String?
        @Option(help: "Where to write the calibration (default: beside the target, NAME.calibration.json).") var out: String?
        @Option(help: "Share of rows held out to report quality (0 to skip).") var holdout: Double = 0.25
        @Option(help: "Seed of the held-out draw.") var seed: UInt64 = 1
        @Option(help: ArgumentHelp("Start from this calibration instead of the profile as written.",
                                   discussion: "Its proportions are kept and rescaled by the new measurements (a calibration fitted on many measurements of the same device, refined by a few new ones); `saved` names the calibration beside the target.",
                                   valueName: "file"))
        var prior: String?
        @Flag(help: "Fit and report, but write nothing.") var dryRun = false
        @Option(help: ArgumentHelp("The model to predict with: auto (chosen by cross-validation) or one of \(LatencyForm.allCases.map(\.rawValue).joined(separator: ", ")).",
                                   valueName: "name"))
        var model: String = "auto"
        @Option(help: ArgumentHelp("A kernel sweep of the device (`topiary target profile`): the sum of a network's kernels is then among the models compared; `saved` names NAME.kernels.csv beside the target.",
                                   valueName: "file"))
        var kernels: String?

        func validate() throws {
            if model != "auto" && LatencyForm(rawValue: model) == nil {
                throw ValidationError("--model must be auto or one of \(LatencyForm.allCases.map(\.rawValue).joined(separator: ", ")), not '\(model)'")
            }
            if !(0..<1).contains(holdout) { throw ValidationError("--holdout must be in [0, 1)") }
            if measurements.isEmpty && kernels == nil {
                throw ValidationError("--measurements FILE.csv is required (or --kernels FILE to calibrate from a kernel sweep alone)")
            }
            if measurements.isEmpty && prior != nil { throw ValidationError("--prior needs --measurements to refine it") }
        }

        func run() async throws {
            let path = try location.path(of: target)
            let t = try Targets.load(path: path)
            var plain = LatencyModel(target: t)
            if let kernels {
                let file = kernels == "saved" ? KernelProfile.path(for: t.name, dir: (path as NSString).deletingLastPathComponent) : kernels
                do { plain.kernels = try KernelProfile.load(file) } catch { throw InputError(error.description) }
                print("kernel sweep: \(plain.kernels!.rows.count) kernels (\(plain.kernels!.runtime)) from \(file)")
            } else if model == LatencyForm.kernels.rawValue {
                throw InputError("--model kernel-sum needs a kernel sweep: --kernels saved (NAME.kernels.csv beside the target) or --kernels FILE")
            }
            // The sweep's kernels as one-layer networks: the per-layer model fitted to them.
            var sweepFit: Calibration?
            if let profile = plain.kernels {
                let spaces = try Profile.defaultSpaces(beside: location.directory).map { p -> SearchSpace in
                    do { return try SearchSpace.load(path: p) } catch { throw InputError("\(p): \(error)") }
                }
                let kernelSamples = SweepPrior.samples(profile, plan: KernelSweep.plan(spaces: spaces, grid: true), model: LatencyModel(target: t))
                let matched = kernelSamples.count
                do { sweepFit = try SweepPrior.fit(kernelSamples, target: t) } catch { throw InputError(error.description) }
                if let sweepFit {
                    print("kernel sweep fit: the per-layer model on \(matched) of \(profile.rows.count) swept kernels (each a one-layer network): \(sweepFit.quality)")
                } else if measurements.isEmpty {
                    throw InputError("only \(matched) of the sweep's \(profile.rows.count) kernels are kernels of the grid or of the spaces beside the targets "
                                     + "(50 needed to fit the model to them alone); run `topiary target profile \(t.name)` again, or give --measurements")
                } else {
                    print("kernel sweep fit: only \(matched) of \(profile.rows.count) kernels recognised; not used as a starting point")
                }
            }
            let dir = (path as NSString).deletingLastPathComponent
            if measurements.isEmpty, var cal = sweepFit {
                cal.source = Calibration.sweep
                print("model: per-layer, fitted to the kernel sweep alone (no whole network measured)")
                print("scale \(Targets.number(cal.scale)); coefficients: " + cal.coefficients.values.sorted { $0.key < $1.key }
                    .map { "\($0.key.name) \(Targets.number($0.value))" }.joined(separator: ", "))
                if dryRun { return }
                try write(cal, to: out ?? TargetFiles.calibrationPath(for: t.name, dir: dir))
                return
            }
            let samples = try measurements.flatMap { try Targets.samples(csv: $0, space: space, model: plain, location: location) }
            var options = Calibrator.Options()
            if let fixed = LatencyForm(rawValue: model) { options.forms = fixed == .blend ? [.blend] : [fixed] }
            else if kernels != nil { options.forms = LatencyForm.allCases }
            let calibrator = Calibrator(options: options)
            let priorPath = prior == "saved" ? TargetFiles.calibrationPath(for: t.name, dir: dir) : prior
            let start = try priorPath.map { try Targets.loadCalibration($0, for: t) }
            print("\(t.name): \(samples.count) measurements from \(measurements.joined(separator: ", "))")
            if let priorPath, let start { print("starting from \(priorPath) (\(start.samples) samples)") }
            let raw = FitQuality(predicted: samples.map { $0.features.milliseconds() }, measured: samples.map(\.measuredMilliseconds))
            print("uncalibrated profile:   \(raw)")
            let heldCount = Int((holdout * Double(samples.count)).rounded())
            if heldCount >= 1 && samples.count - heldCount >= 2 {
                var rng = SeededGenerator(seed: seed)
                var idx = Array(samples.indices)
                for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.index(below: i + 1)) }
                let test = idx.prefix(heldCount).map { samples[$0] }
                let train = idx.dropFirst(heldCount).map { samples[$0] }
                let fit = try fitFromEither(calibrator, train, t, start, sweepFit)
                let q = FitQuality(predicted: test.map { fit.milliseconds($0.features) }, measured: test.map(\.measuredMilliseconds))
                print("held out (\(train.count) fitted, \(test.count) held out, \(fit.form.rawValue)): \(q)")
            }
            let cal = try fitFromEither(calibrator, samples, t, start, sweepFit)
            if sweepFit != nil {
                print("starting point chosen by cross-validation: " + (cal.source == Calibration.measuredFromSweep ? "the kernel sweep's fit" : start == nil ? "the profile as written" : "--prior"))
            }
            Targets.printModelsCompared(cal, indent: "")
            print("model: \(cal.formDescription)")
            print("fitted on all \(samples.count): \(cal.quality)")
            if let cv = cal.crossValidated { print("cross-validated (choosing the model and λ = \(Targets.number(cal.lambda))): \(cv)") }
            print("scale \(Targets.number(cal.scale)); coefficients: " + cal.coefficients.values.sorted { $0.key < $1.key }
                .map { "\($0.key.name) \(Targets.number($0.value))" }.joined(separator: ", "))
            if dryRun { return }
            try write(cal, to: out ?? TargetFiles.calibrationPath(for: t.name, dir: dir))
        }

        /// The fit from `start` (the profile as written, or --prior) and, with a sweep, the one
        /// from the sweep's fit: the one whose chosen model has the smaller cross-validated error.
        func fitFromEither(_ c: Calibrator, _ samples: [CalibrationSample], _ t: HardwareTarget, _ start: Calibration?,
                           _ sweepFit: Calibration?) throws -> Calibration {
            let plain = try Targets.fit(c, samples, t, prior: start)
            guard let sweepFit, samples.count >= 3 else { return plain }
            var swept = try Targets.fit(c, samples, t, prior: sweepFit)
            swept.source = Calibration.measuredFromSweep
            return swept.chosenError < plain.chosenError ? swept : plain
        }

        func write(_ cal: Calibration, to dest: String) throws {
            do {
                try Data((cal.json.text(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: dest))
            } catch {
                throw RuntimeError("\(dest): cannot write the calibration: \(error.localizedDescription)")
            }
            print("wrote \(dest)")
        }
    }
}

/// Where target profiles are looked up.
struct TargetLocation: ParsableArguments {
    @Option(name: .customLong("targets"), help: "Directory of target profiles (default: $TOPIARY_TARGETS, else SearchSpaces/targets, else the built-in profiles).")
    var targetsDirectory: String?

    var directory: String {
        targetsDirectory ?? ProcessInfo.processInfo.environment["TOPIARY_TARGETS"] ?? Self.defaultDirectory
    }

    /// `SearchSpaces/targets` in the working directory, else beside the checkout the
    /// executable was built in, else `share/topiary/targets` beside an installed binary,
    /// else the built-in profiles unpacked into the user's data directory (so `topiary`
    /// works from any directory, and a binary copied anywhere knows the built-in targets).
    static var defaultDirectory: String {
        let local = "SearchSpaces/targets"
        if FileManager.default.fileExists(atPath: local) { return local }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let installed = dir.deletingLastPathComponent().appendingPathComponent("share/topiary/targets").path
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent(local).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        if FileManager.default.fileExists(atPath: installed) { return installed }
        return BuiltinTargetFiles.unpacked() ?? local
    }

    /// Where to look, in words, for error messages.
    var provenance: String {
        if targetsDirectory != nil { return "--targets" }
        if ProcessInfo.processInfo.environment["TOPIARY_TARGETS"] != nil { return "$TOPIARY_TARGETS" }
        return "the default directory"
    }

    /// The YAML file of a target given by name or path.
    func path(of target: String) throws -> String {
        if target.hasSuffix(".yaml") || target.hasSuffix(".yml") || target.contains("/") {
            guard FileManager.default.fileExists(atPath: target) else { throw InputError("\(target): no such file") }
            return target
        }
        let dir = directory
        let p = (dir as NSString).appendingPathComponent("\(target).yaml")
        guard FileManager.default.fileExists(atPath: p) else {
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }
                .map { String($0.dropLast(5)) }.sorted()
            let hint = YAMLReader.closest(target, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            var message = "no target '\(target)' in \(dir) (\(provenance))\(hint)"
            message += known.isEmpty ? "; the directory has no profiles" : "; known: \(known.joined(separator: ", "))"
            message += ". Name a directory of profiles with --targets DIR or TOPIARY_TARGETS, or give the profile's path"
            if targetsDirectory != nil || ProcessInfo.processInfo.environment["TOPIARY_TARGETS"] != nil {
                message += "; leave both unset for the built-in targets (\(BuiltinTargetFiles.names.joined(separator: ", ")))"
            }
            throw InputError(message)
        }
        return p
    }
}

/// The built-in profiles as files: unpacked once into the user's data directory
/// (`$XDG_DATA_HOME/topiary/targets`, else `~/.local/share/topiary/targets`), where a
/// calibration can be saved beside them. Files already there are kept (the user may have
/// calibrated them); missing ones are written.
enum BuiltinTargetFiles {
    static var names: [String] { BuiltinTargets.files.keys.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted() }

    static func unpacked() -> String? {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".local/share")
        for root in [base, URL(fileURLWithPath: NSTemporaryDirectory())] {
            let dir = root.appendingPathComponent("topiary/targets")
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for (name, text) in BuiltinTargets.files where !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
                    try Data(text.utf8).write(to: dir.appendingPathComponent(name), options: .atomic)
                }
                return dir.path
            } catch {
                continue
            }
        }
        return nil
    }
}

/// Loading targets, calibrations and measurement files for the commands, with their
/// errors turned into bad-input errors (exit status 2).
enum Targets {
    static func load(path: String) throws -> HardwareTarget {
        do { return try HardwareTarget.load(path: path) } catch { throw InputError(error.description) }
    }

    static func loadCalibration(_ path: String, for target: HardwareTarget) throws -> Calibration {
        do { return try TargetFiles.loadCalibration(path, for: target) } catch { throw InputError(error.description) }
    }

    /// The model for a target: with an explicit calibration, else the one saved beside
    /// the profile (unless `uncalibrated`), else the profile as written.
    static func model(_ target: String, location: TargetLocation, calibration: String?, uncalibrated: Bool) throws -> (LatencyModel, String?) {
        let path = try location.path(of: target)
        let t = try load(path: path)
        if uncalibrated { return (LatencyModel(target: t), nil) }
        let kernels = try savedKernels(path, t)
        if let calibration {
            var m = LatencyModel(target: t, calibration: try loadCalibration(calibration, for: t))
            m.kernels = kernels
            return (m, calibration)
        }
        do {
            if let (cal, beside) = try TargetFiles.savedCalibration(besideProfile: path, for: t) {
                var m = LatencyModel(target: t, calibration: cal)
                m.kernels = kernels
                return (m, beside)
            }
        } catch { throw InputError(error.description) }
        return (LatencyModel(target: t), nil)
    }

    /// The kernel sweep beside a profile, with its errors as bad input.
    static func savedKernels(_ profilePath: String, _ t: HardwareTarget) throws -> KernelProfile? {
        do { return try TargetFiles.savedKernels(besideProfile: profilePath, target: t.name) } catch { throw InputError(error.description) }
    }

    /// The models a calibration's cross-validation compared, one line each, the chosen
    /// one marked.
    static func printModelsCompared(_ cal: Calibration, indent: String) {
        guard !cal.forms.isEmpty else { return }
        print("\(indent)models compared by cross-validation on the \(cal.samples) measurements (held-out predictions):")
        for f in cal.forms {
            let mark = f.form == cal.form ? "  ← chosen" : ""
            let name = f.form.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0)
            print(indent + "  " + name + String(format: "mean squared log error %.4f, %5.1f%% within ±10%%, ρ %.3f", f.error,
                                                100 * f.quality.withinTenPercent, f.quality.spearman) + mark)
        }
    }

    static func fit(_ c: Calibrator, _ samples: [CalibrationSample], _ t: HardwareTarget, prior: Calibration? = nil) throws -> Calibration {
        do { return try c.fit(samples: samples, target: t, prior: prior?.coefficients) } catch { throw InputError(error.description) }
    }

    /// Calibration samples from a measurement CSV (`MeasurementFile`); spaces named in it
    /// are also looked for beside the target profiles' directory. Errors name file:line.
    static func samples(csv path: String, space spacePath: String?, model: LatencyModel, location: TargetLocation) throws -> [CalibrationSample] {
        let spaces = (location.directory as NSString).deletingLastPathComponent
        do {
            return try MeasurementFile.read(path, space: spacePath, spaceDirectories: [spaces]).map { $0.sample(model) }
        } catch { throw InputError(error.description) }
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e12 { return String(Int(x)) }
        if abs(x) >= 100 { return String(format: "%.1f", x) }
        return String(format: "%.3g", x)
    }

    static func limits(_ t: HardwareTarget) -> String {
        var parts: [String] = []
        if let f = t.memory.weightStorageBytes { parts.append("flash \(Format.bytes(f))") }
        if let s = t.memory.activationBytes { parts.append("SRAM \(Format.bytes(s))") }
        if let c = t.memory.weightCacheBytes { parts.append("weight SRAM \(Format.bytes(c))") }
        if let c = t.memory.capacityBytes { parts.append("memory \(Format.bytes(c))") }
        return parts.joined(separator: ", ")
    }

    static func memoryFields(_ t: HardwareTarget) -> [(String, JSONValue)] {
        let m = t.memory
        var out: [(String, JSONValue)] = [("bandwidth_gbs", .double(m.bandwidthGBs))]
        if let v = m.cacheBytes { out.append(("cache_bytes", .int(v))) }
        if let v = m.cacheBandwidthGBs { out.append(("cache_bandwidth_gbs", .double(v))) }
        if let v = m.capacityBytes { out.append(("capacity_bytes", .int(v))) }
        if let v = m.weightStorageBytes { out.append(("weight_storage_bytes", .int(v))) }
        if let v = m.activationBytes { out.append(("activation_bytes", .int(v))) }
        if let v = m.weightCacheBytes { out.append(("weight_cache_bytes", .int(v))) }
        if let v = m.weightStreamGBs { out.append(("weight_stream_gbs", .double(v))) }
        if !m.overlap { out.append(("overlap", .bool(false))) }
        return out
    }
}
