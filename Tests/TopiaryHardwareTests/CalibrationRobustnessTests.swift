import Foundation
import Testing
import TopiaryCore
@testable import TopiaryHardware

// How calibration behaves with few samples: terms few samples exercise, the choice of
// λ, and starting from an earlier calibration.

/// Samples of `graphs` on `target`, measured as `truth` predicts.
private func samples(_ graphs: [NetworkGraph], _ model: LatencyModel, truth: Coefficients) -> [CalibrationSample] {
    graphs.enumerated().map { i, g in
        let f = model.features(g)
        return CalibrationSample(features: f, measuredMilliseconds: f.milliseconds(with: truth), label: "synthetic \(i)")
    }
}

@Test func aTermFewSamplesExerciseKeepsTheCommonScale() throws {
    // Twenty float networks and one int8 network whose int8 terms are 5x the profile:
    // the int8 terms appear in one sample only, so they stay within 2% of the common
    // scale rather than follow it 5x (which would make the other int8 networks'
    // predictions follow one measurement).
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let s = try space("fashion-mobilenet")
    var graphs: [NetworkGraph] = []
    var int8: [NetworkGraph] = []
    for c in s.sample(count: 200, seed: 4) {
        let g = NetworkGraph.build(compressed: c, in: s)
        if model.predict(g).precision == .int8 { int8.append(g) } else if graphs.count < 20 { graphs.append(g) }
    }
    #expect(graphs.count == 20 && int8.count >= 2)
    var truth = Coefficients(defaultValue: 0.5)
    for term in model.features(int8[0]).terms where term.name.contains("int8") { truth.values[term] = 2.5 }
    let train = samples(graphs + [int8[0]], model, truth: truth)
    let cal = try Calibrator().fit(samples: train, target: t)
    for term in model.features(int8[0]).terms where term.name.contains("int8") {
        #expect(abs(cal.coefficients[term] - cal.scale) < 0.02 * cal.scale, "\(term.name): \(cal.coefficients[term]) vs scale \(cal.scale)")
    }
    // With the rule off, one sample moves them.
    var options = Calibrator.Options()
    options.minimumUses = 0
    options.oneStandardError = false
    let free = try Calibrator(options: options).fit(samples: train, target: t)
    let moved = model.features(int8[0]).terms.filter { $0.name.contains("int8") }.contains { abs(free.coefficients[$0] - free.scale) > 0.01 * free.scale }
    #expect(moved)
}

@Test func theOneStandardErrorRuleKeepsTheProportionsWhenNothingIsGained() throws {
    // Measurements exactly 0.6x the profile: every λ fits them, so the rule takes the
    // strongest pull; the smallest error alone may take any.
    let t = try target("raspberry-pi-4")
    let model = LatencyModel(target: t)
    let train = samples(try syntheticGraphs(count: 12, seed: 9), model, truth: Coefficients(defaultValue: 0.6))
    let cal = try Calibrator().fit(samples: train, target: t)
    #expect(cal.lambda == Calibrator.Options().lambdas.max())
    #expect(abs(cal.scale - 0.6) < 0.01)
}

@Test func aPriorCalibrationIsKeptAndRescaled() throws {
    // The device's terms are far from the profile's proportions; a calibration fitted on
    // many of its measurements, rescaled by five new ones taken when the device ran 1.3x
    // slower, predicts the rest, where five measurements alone cannot.
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let graphs = try syntheticGraphs(count: 160, seed: 12)
    var rng = SeededGenerator(seed: 3)
    var device = Coefficients(defaultValue: 1)
    for term in graphs.reduce(into: Set<LatencyTerm>(), { $0.formUnion(model.features($1).terms) }).sorted() {
        device.values[term] = 0.2 + 3 * Double(rng.next() >> 11) / Double(1 << 53)
    }
    let many = samples(Array(graphs.prefix(100)), model, truth: device)
    let prior = try Calibrator().fit(samples: many, target: t)
    var slower = device
    slower.values = device.values.mapValues { 1.3 * $0 }
    let later = samples(Array(graphs.dropFirst(100)), model, truth: slower)
    let few = Array(later.prefix(5)), rest = Array(later.dropFirst(5))
    func quality(_ c: Calibration) -> FitQuality {
        FitQuality(predicted: rest.map { $0.features.milliseconds(with: c.coefficients) }, measured: rest.map(\.measuredMilliseconds))
    }
    let refined = try Calibrator().fit(samples: few, target: t, prior: prior.coefficients)
    let alone = try Calibrator().fit(samples: few, target: t)
    #expect(quality(refined).medianRelativeError < 0.03, "\(quality(refined))")
    #expect(quality(refined).medianRelativeError < quality(alone).medianRelativeError / 2, "\(quality(refined)) vs \(quality(alone))")
    #expect(abs(refined.scale / prior.scale - 1.3) < 0.1)
    // No prior is the same as the profile.
    let same = try Calibrator().fit(samples: few, target: t, prior: nil)
    #expect(same.coefficients == alone.coefficients)
}

@Test func scaledFeaturesPredictWhatTheCoefficientsPredict() throws {
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    var c = Coefficients(defaultValue: 0.7)
    c.values[.mainMemory] = 2
    c.values[.compute(.pointwise, .fp32)] = 0.3
    for g in try syntheticGraphs(count: 6, seed: 2) {
        let f = model.features(g)
        #expect(abs(f.scaled(by: c).milliseconds() - f.milliseconds(with: c)) < 1e-9 * f.milliseconds(with: c))
    }
}

@Test func inNetworkUnitsATermThatIsAlwaysASmallShareStaysNearTheScale() throws {
    // Fashion networks (a dense convolution only as the stem, a few percent of the time),
    // measured with ±5% noise: in the term's own units the stem's term may wander with the
    // noise; in a whole network's units it stays nearer the common scale, which is what a
    // family of dense networks would then be predicted with.
    let t = try target("host-cpu")
    let model = LatencyModel(target: t)
    let s = try space("fashion-mobilenet")
    let graphs = s.sample(count: 120, seed: 5).map { NetworkGraph.build(compressed: $0, in: s) }.filter { model.predict($0).precision == .fp32 }.prefix(40)
    var state: UInt64 = 7
    let train = samples(Array(graphs), model, truth: Coefficients(defaultValue: 0.5)).map { s -> CalibrationSample in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let noise = 0.95 + 0.1 * Double(state >> 11) / Double(1 << 53)
        return CalibrationSample(features: s.features, measuredMilliseconds: s.measuredMilliseconds * noise, label: s.label)
    }
    let dense = LatencyTerm.compute(.conv, .fp32)
    var options = Calibrator.Options()
    let term = try Calibrator(options: options).fit(samples: train, target: t)
    options.penaltyUnit = .network
    let network = try Calibrator(options: options).fit(samples: train, target: t)
    let drift = { (c: Calibration) in abs(log(c.coefficients[dense] / c.scale)) }
    #expect(drift(network) < drift(term), "network units: \(network.coefficients[dense]) vs scale \(network.scale); term units: \(term.coefficients[dense]) vs \(term.scale)")
    #expect(drift(network) < 0.25)
}
