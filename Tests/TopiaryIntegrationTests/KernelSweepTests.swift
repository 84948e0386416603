import Foundation
import Testing
import TopiaryCore
import TopiaryHardware

@Suite("Kernel sweep: topiary target profile measures kernels in a real runtime, keeps what it measured, resumes", .serialized)
struct KernelSweepTests {
    static let space = Paths.repo.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path

    func profileArgs(_ out: String, minutes: Double) -> [String] {
        ["target", "profile", "host-cpu", "--space", Self.space, "--candidates", "1", "--no-grid", "--minutes", String(minutes),
         "--out", out, "--python", PythonEnv.python ?? "python3"]
    }

    @Test("a sweep of a handful of kernels in ONNX Runtime: probes, kernels, fusion; a second run measures only what is missing",
          .enabled(if: PythonEnv.python != nil, "needs the Python environment with onnx and onnxruntime (bash scripts/setup.sh --python)"))
    func sweep() throws {
        let c = try Cluster()
        let out = c.dir.appendingPathComponent("host-cpu.kernels.csv").path
        let first = try c.run(profileArgs(out, minutes: 0.5), timeout: 120)
        #expect(first.status == 0, "\(first.err)")
        let profile = try KernelProfile.load(out)
        #expect(profile.overheadMilliseconds > 0 && profile.overheadMilliseconds < 1)
        #expect(!profile.probes.isEmpty, "no fusion probes")
        #expect(profile.rows.contains { $0.signature.hasPrefix("conv(3>32,k3,s1,p1,g1)") }, "the stem was not measured")
        #expect(first.out.contains("after a 3x3 convolution:"), "\(first.out)")
        let measured = profile.rows.count
        // Everything the plan holds fits in half a minute (1 candidate, no grid): the second
        // run finds it all in the file and measures nothing again.
        let second = try c.run(profileArgs(out, minutes: 0.5), timeout: 120)
        #expect(second.status == 0, "\(second.err)")
        #expect(second.out.contains("0 to measure") || second.out.contains("0 kernels measured"), "\(second.out)")
        #expect(try KernelProfile.load(out).rows.count == measured)
        // The sweep's kernel sums reach calibration: a model with the profile predicts.
        var model = LatencyModel(target: try HardwareTarget.load(path: Paths.repo.appendingPathComponent("SearchSpaces/targets/host-cpu.yaml").path))
        model.kernels = profile
        let s = try SearchSpace.load(path: Self.space)
        let g = NetworkGraph.build(compressed: s.sample(count: 1, seed: 1)[0], in: s)
        let sum = try #require(model.features(g).summary.kernelMilliseconds)
        #expect(sum > profile.overheadMilliseconds)
    }

    @Test("a sweep killed halfway keeps what it measured, and the next run goes on from there",
          .enabled(if: PythonEnv.python != nil, "needs the Python environment with onnx and onnxruntime (bash scripts/setup.sh --python)"))
    func interrupted() throws {
        let c = try Cluster()
        let out = c.dir.appendingPathComponent("k.csv").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.binary)
        p.arguments = profileArgs(out, minutes: 5)
        p.currentDirectoryURL = c.dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try waitUntil(60, "10 kernels in the file") {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").count >= 12
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let kept = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count - 1
        #expect(kept >= 11)
        let again = try c.run(profileArgs(out, minutes: 0.5), timeout: 120)
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("\(kept) already in"), "\(again.out)")
        #expect(try KernelProfile.load(out).rows.count + 1 > kept)
    }

    @Test("a sweep file of another runtime, a bad runtime name or a missing Python is refused, naming the fix")
    func refusals() throws {
        let c = try Cluster()
        let out = c.dir.appendingPathComponent("other.csv").path
        try (KernelProfile.header.joined(separator: ",") + "\noverhead,,,,0,0,0,0.01,\"litert, 1 thread\"\n").write(toFile: out, atomically: true, encoding: .utf8)
        let other = try c.run(profileArgs(out, minutes: 0.1))
        #expect(other.status == 2)
        #expect(other.err.contains("other.csv:2") && other.err.contains("--out"), "\(other.err)")
        let bad = try c.run(["target", "profile", "host-cpu", "--runtime", "tensorflow"])
        #expect(bad.status != 0 && bad.err.contains("--runtime must be onnxruntime or litert"), "\(bad.err)")
        let fresh = c.dir.appendingPathComponent("fresh.csv").path
        let noPython = try c.run(["target", "profile", "host-cpu", "--space", Self.space, "--candidates", "1", "--no-grid", "--minutes", "0.1",
                                  "--out", fresh, "--python", "/nonexistent/python"], timeout: 60)
        #expect(noPython.status != 0, "\(noPython.out)")
    }

    @Test("calibrate from a sweep alone: the per-layer model fitted to the swept kernels, saved and shown as such; too few kernels refused")
    func calibrateFromTheSweepAlone() throws {
        let c = try Cluster()
        // 400 kernels of a sweep of this machine type kept in the repository (ONNX Runtime, one thread).
        let kept = try String(contentsOfFile: Paths.repo.appendingPathComponent("bench/data/loo/sweeps/ort1.kernels.csv").path, encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let kernelRows = kept.dropFirst(2).filter { !$0.contains("probe:") }
        let sweep = c.dir.appendingPathComponent("some.kernels.csv").path
        try (kept.prefix(2) + kernelRows.prefix(400)).joined(separator: "\n").write(toFile: sweep, atomically: true, encoding: .utf8)
        let targets = c.dir.appendingPathComponent("targets").path
        try FileManager.default.createDirectory(atPath: targets, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Paths.repo.appendingPathComponent("SearchSpaces/targets/host-cpu.yaml").path, toPath: targets + "/host-cpu.yaml")
        let out = targets + "/host-cpu.calibration.json"
        let r = try c.run(["target", "calibrate", "host-cpu", "--targets", targets, "--kernels", sweep, "--out", out], timeout: 300)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("fitted to the kernel sweep alone"), "\(r.out)")
        let cal = try Calibration.parse(json: String(contentsOfFile: out, encoding: .utf8), file: out)
        #expect(cal.source == Calibration.sweep && cal.samples > 100 && cal.form == .perLayer, "\(cal.samples) kernels (the grid's: no space is beside these targets)")
        let show = try c.run(["target", "show", "host-cpu", "--targets", targets])
        #expect(show.out.contains("swept kernels (no whole network measured)"), "\(show.out)")
        // A sweep of three kernels cannot carry a model.
        let few = c.dir.appendingPathComponent("few.kernels.csv").path
        try (kept.prefix(2) + kernelRows.prefix(3)).joined(separator: "\n").write(toFile: few, atomically: true, encoding: .utf8)
        let refused = try c.run(["target", "calibrate", "host-cpu", "--targets", targets, "--kernels", few, "--dry-run"], timeout: 120)
        #expect(refused.status == 2 && refused.err.contains("50 needed") && refused.err.contains("--measurements"), "\(refused.err)")
        let neither = try c.run(["target", "calibrate", "host-cpu", "--targets", targets])
        #expect(neither.status != 0 && neither.err.contains("--kernels FILE to calibrate from a kernel sweep alone"), "\(neither.err)")
    }
}
