import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryHardware

extension TargetCommand {
    /// `topiary target profile T`: a kernel sweep on this machine, saved beside the target.
    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure the kernels networks are made of on this device (a kernel sweep) and save them beside the target.",
            discussion: """
                Run it on the device, with the runtime networks will run in. It times, one after another \
                for at most --minutes, the kernels of random candidates of the spaces (--space; default \
                every space beside the targets directory) and a grid of convolutions (k 1/3/5/7, stride \
                1/2), depthwise, pointwise, grouped, pooling, add, squeeze-excite, activation and linear \
                kernels over channels and resolutions, fp32 and int8, after probes of which operators the \
                runtime fuses. Each kernel's time is appended to NAME.kernels.csv as it is measured, so a \
                sweep stopped halfway keeps what it measured, and running it again measures only what is \
                missing. `target calibrate T --kernels saved` then fits the per-layer model to the swept \
                kernels (a calibration with no network measured); with --measurements it also tries that \
                fit as the starting point and considers predicting a network as the sum of its kernels \
                (the `kernel-sum` model), keeping what cross-validation prefers.
                """)
        @Argument(help: "Target name or YAML path.") var target: String
        @OptionGroup var location: TargetLocation
        @Option(help: "The runtime: onnxruntime or litert.") var runtime = "onnxruntime"
        @Option(help: "Time budget of the sweep, in minutes.") var minutes: Double = 10
        @Option(help: "Search-space YAML whose candidates' kernels are measured (repeatable).") var space: [String] = []
        @Option(help: "Random candidates drawn from each space.") var candidates = 60
        @Flag(help: "Leave out the grid of kernels (only the spaces' own).") var noGrid = false
        @Option(help: "Intra-op threads of the runtime.") var threads = 1
        @Option(help: "Python with the runtime installed (default: $TOPIARY_PYTHON, else python3).") var python: String?
        @Option(help: "The sweep script (default: Workers/onnxruntime/sweep.py of this checkout).") var script: String?
        @Option(help: "Where to write the sweep (default: beside the target, NAME.kernels.csv).") var out: String?
        @Option(help: "Seed of the candidates and the order.") var seed: UInt64 = 1
        @Flag(help: "Print the plan (how many kernels, families) and measure nothing.") var dryRun = false

        func validate() throws {
            guard ["onnxruntime", "litert"].contains(runtime) else { throw ValidationError("--runtime must be onnxruntime or litert, not '\(runtime)'") }
            guard minutes > 0 && minutes <= 24 * 60 else { throw ValidationError("--minutes must be in (0, 1440]") }
            guard candidates >= 0 && candidates <= 10_000 else { throw ValidationError("--candidates must be 0...10000") }
            guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be 1...256") }
        }

        func run() async throws {
            let path = try location.path(of: target)
            let t = try Targets.load(path: path)
            let dir = (path as NSString).deletingLastPathComponent
            let dest = out ?? KernelProfile.path(for: t.name, dir: dir)
            let spaces = try (space.isEmpty ? Self.defaultSpaces(beside: dir) : space).map { p -> SearchSpace in
                do { return try SearchSpace.load(path: p) } catch { throw InputError("\(error)") }
            }
            let label = "\(runtime), \(threads) thread\(threads == 1 ? "" : "s")"
            // Resume: what the file already holds is not measured again.
            var done = Set<String>()
            if FileManager.default.fileExists(atPath: dest) {
                let text: String
                do { text = try String(contentsOfFile: dest, encoding: .utf8) } catch { throw InputError("\(dest): cannot read: \(error.localizedDescription)") }
                let table: CSVTable
                do { table = try CSVTable.parse(text, file: dest) } catch { throw InputError(error.description) }
                guard let cs = table.column("signature"), let cr = table.column("runtime") else {
                    throw InputError("\(dest): not a kernel sweep (no signature and runtime columns); move it away or give --out")
                }
                for r in table.rows {
                    if r.fields[cr] != label {
                        throw InputError("\(dest):\(r.line): a sweep of '\(r.fields[cr])', not '\(label)'; give --out for another file")
                    }
                    done.insert(r.fields[cs])
                }
            }
            let plan = KernelSweep.plan(spaces: spaces, candidatesPerSpace: candidates, grid: !noGrid, seed: seed)
            let todo = plan.filter { !done.contains($0.signature) }
            let families = Set(plan.map(\.family)).count
            print("\(t.name): \(plan.count) kernels in \(families) families from \(spaces.map(\.name).joined(separator: ", "))\(noGrid ? "" : " and the grid"); "
                  + "\(done.count) already in \(dest), \(todo.count) to measure in at most \(Targets.number(minutes)) minutes with \(label)")
            if dryRun { return }

            // The kernels as JSON lines for the sweep script, the overhead kernel first.
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-sweep-\(ProcessInfo.processInfo.processIdentifier).jsonl")
            var lines: [String] = []
            if !done.contains("overhead") {
                lines.append(JSONValue.object([("signature", .string("overhead")), ("precision", .string("fp32")), ("graph", KernelSweep.overhead.json)]).text())
            }
            var byName: [String: Kernel] = [:]
            for k in todo {
                byName[k.signature] = k
                lines.append(JSONValue.object([("signature", .string(k.signature)), ("precision", .string(k.precision)), ("graph", k.graph.json)]).text())
            }
            do { try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: tmp) } catch {
                throw RuntimeError("\(tmp.path): cannot write the kernel list: \(error.localizedDescription)")
            }
            defer { try? FileManager.default.removeItem(at: tmp) }
            if !FileManager.default.fileExists(atPath: dest) {
                do { try Data((KernelProfile.header.joined(separator: ",") + "\n").utf8).write(to: URL(fileURLWithPath: dest)) } catch {
                    throw RuntimeError("\(dest): cannot write: \(error.localizedDescription)")
                }
            }
            guard let file = FileHandle(forWritingAtPath: dest) else { throw RuntimeError("\(dest): cannot open for appending") }
            file.seekToEndOfFile()
            let scriptPath = try script ?? Self.sweepScript()
            let py = python ?? ProcessInfo.processInfo.environment["TOPIARY_PYTHON"] ?? "python3"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [py, scriptPath, "--kernels", tmp.path, "--runtime", runtime, "--seconds", String(minutes * 60), "--threads", String(threads)]
            let pipe = Pipe()
            process.standardOutput = pipe
            do { try process.run() } catch { throw RuntimeError("cannot start \(py) \(scriptPath): \(error.localizedDescription)") }
            var measured = 0, failed = 0
            var buffer = Data()
            let started = Date()
            func handle(_ line: String) {
                guard let v = try? JSONText.parse(line), let sig = v["signature"]?.stringValue else { return }
                if let error = v["error"]?.stringValue {
                    failed += 1
                    if failed <= 5 { FileHandle.standardError.write(Data("kernel \(sig): \(error)\n".utf8)) }
                    return
                }
                guard let ms = v["median_ms"]?.doubleValue, ms > 0 else { return }
                let row = sig == "overhead" ? KernelProfile.line(nil, measuredMilliseconds: ms, runtime: label)
                    : byName[sig].map { KernelProfile.line($0, measuredMilliseconds: ms, runtime: label) }
                guard let row else { return }
                file.write(Data((row + "\n").utf8))
                measured += 1
                if measured % 100 == 0 {
                    // Written unbuffered, so a log shows progress as it happens.
                    FileHandle.standardOutput.write(Data("\(measured) kernels measured (\(Int(Date().timeIntervalSince(started))) s)\n".utf8))
                }
            }
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    handle(line)
                }
            }
            process.waitUntilExit()
            file.closeFile()
            if process.terminationStatus != 0 {
                throw RuntimeError("the sweep script exited with status \(process.terminationStatus) after \(measured) kernels (kept in \(dest)); see its message above")
            }
            let profile: KernelProfile
            do { profile = try KernelProfile.load(dest) } catch { throw RuntimeError(error.description) }
            print("\(measured) kernels measured in \(Int(Date().timeIntervalSince(started))) s, \(failed) the runtime could not build; "
                  + "\(dest) holds \(profile.rows.count) kernels, fixed cost \(Targets.number(profile.overheadMilliseconds * 1000)) µs per inference")
            Self.printFusion(profile)
            let k = out == nil ? "saved" : dest
            print("next: topiary target calibrate \(t.name) --kernels \(k)   (the per-layer model fitted to these kernels; no network measured)")
            print("  or: topiary target calibrate \(t.name) --kernels \(k) --measurements FILE.csv   (networks measured too)")
        }

        static func printFusion(_ profile: KernelProfile) {
            let f = profile.fusion
            guard !f.isEmpty else { return }
            print("after a 3x3 convolution: " + f.sorted { $0.key < $1.key }.map { op, share in
                "\(op) costs \(Int((share * 100).rounded()))% of its own time" + (share < 0.35 ? " (fused)" : "")
            }.joined(separator: ", "))
        }

        /// The spaces beside the targets directory (SearchSpaces/*.yaml when the targets are
        /// SearchSpaces/targets); none elsewhere.
        static func defaultSpaces(beside targets: String) -> [String] {
            let dir = (targets as NSString).deletingLastPathComponent
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            return files.map { (dir as NSString).appendingPathComponent($0) }
        }

        /// Workers/onnxruntime/sweep.py in the working directory or the checkout the binary was built in.
        static func sweepScript() throws -> String {
            let rel = "Workers/onnxruntime/sweep.py"
            if FileManager.default.fileExists(atPath: rel) { return rel }
            var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                let p = dir.appendingPathComponent(rel).path
                if FileManager.default.fileExists(atPath: p) { return p }
                dir = dir.deletingLastPathComponent()
            }
            throw InputError("no \(rel) here or beside the topiary binary; give --script PATH")
        }
    }
}
