import Foundation
import Testing
import TopiaryCore
@testable import TopiaryHardware

// The per-layer model fitted to a kernel sweep (SweepPrior): a device's own kernels, each a
// one-layer network, set how its kinds of operation compare, for families no whole-network
// measurement came from.

/// A made-up device that runs exactly like host-cpu's per-layer model with these
/// coefficients: dense convolutions dear, depthwise cheap, the rest in between.
private let device = Coefficients([.compute(.conv, .fp32): 2.5, .compute(.depthwise, .fp32): 0.4, .compute(.pointwise, .fp32): 1.2,
                                   .overhead(.conv, .fp32): 1.5], defaultValue: 0.8)

private func sweep(_ kernels: [Kernel], model: LatencyModel, overhead: Double = 0.001) throws -> KernelProfile {
    var lines = [KernelProfile.header.joined(separator: ",")]
    lines.append(KernelProfile.line(nil, measuredMilliseconds: overhead, runtime: "test"))
    for k in kernels {
        let t = model.features(k.graph).milliseconds(with: device)
        lines.append(KernelProfile.line(k, measuredMilliseconds: t, runtime: "test"))
    }
    for k in KernelSweep.probes().prefix(3) { lines.append(KernelProfile.line(k, measuredMilliseconds: 0.05, runtime: "test")) }
    return try KernelProfile.parse(lines.joined(separator: "\n") + "\n", file: "test.kernels.csv")
}

@Test func aSweepFitPredictsNetworksOfAFamilyItNeverSawAsTheDeviceRunsThem() throws {
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    // fp32 kernels of the grid only (every third, to keep the fit quick): no space's network.
    let grid = KernelSweep.plan(spaces: [], grid: true).filter { $0.precision == "fp32" && !$0.signature.hasPrefix("probe:") }
    let kernels = grid.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
    let profile = try sweep(kernels, model: model)
    let cal = try #require(try SweepPrior.fit(SweepPrior.samples(profile, plan: grid, model: model), target: t))
    #expect(cal.samples == kernels.count, "every swept kernel the plan describes, no probe")

    // Networks of a space the sweep took nothing from, fp32, timed by the made-up device.
    let s = try space("fashion-fused")
    var hits = 0, profileHits = 0, n = 0
    for c in s.sample(count: 40, seed: 9) {
        let g = NetworkGraph.build(compressed: c, in: s)
        guard KernelExtractor.precision(of: g) == "fp32" else { continue }
        let f = model.features(g)
        let truth = f.milliseconds(with: device)
        n += 1
        if abs(f.milliseconds(with: cal.coefficients) / truth - 1) <= 0.1 { hits += 1 }
        if abs(f.milliseconds() / truth - 1) <= 0.1 { profileHits += 1 }
    }
    #expect(n >= 10)
    #expect(Double(hits) >= 0.9 * Double(n), "the sweep's fit: \(hits) of \(n) within ±10%")
    #expect(Double(profileHits) <= 0.5 * Double(n), "the profile as written is not already right (\(profileHits) of \(n)): the test could not fail")
}

@Test func onlyKernelsThePlanDescribesBecomeSamplesAndTooFewFitNothing() throws {
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let grid = Array(KernelSweep.plan(spaces: [], grid: true).filter { !$0.signature.hasPrefix("probe:") }.prefix(60))
    let profile = try sweep(grid, model: model)
    // Probes are not kernels of networks; a signature the plan lacks has no graph.
    #expect(SweepPrior.samples(profile, plan: grid, model: model).count == 60)
    #expect(SweepPrior.samples(profile, plan: Array(grid.prefix(20)), model: model).count == 20)
    #expect(try SweepPrior.fit(SweepPrior.samples(profile, plan: Array(grid.prefix(20)), model: model), target: t) == nil)
}

@Test func aCalibrationSaysWhatItWasFittedOn() throws {
    var cal = Calibration(target: "host-cpu", coefficients: Coefficients([.mainMemory: 0.5], defaultValue: 0.3), scale: 0.3, lambda: 0.01,
                          samples: 12, quality: FitQuality(count: 12, withinTenPercent: 0.5, spearman: 0.9, medianRelativeError: 0.1))
    #expect(!cal.json.text().contains("\"source\""), "measurements, the default, are not written")
    #expect(try Calibration.parse(json: cal.json.text(), file: "c.json").source == Calibration.measured)
    for source in [Calibration.sweep, Calibration.measuredFromSweep] {
        cal.source = source
        #expect(try Calibration.parse(json: cal.json.text(), file: "c.json").source == source)
    }
    let bad = cal.json.text().replacingOccurrences(of: Calibration.measuredFromSweep, with: "a hunch")
    #expect(throws: CalibrationError.self) { try Calibration.parse(json: bad, file: "c.json") }
}
