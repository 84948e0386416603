import Foundation
import Testing
import TopiaryCore
@testable import TopiaryHardware

// The choice between the per-layer model and straight lines through whole-network
// counts: each wins where the measurements follow it, and the choice travels with the
// calibration file.

/// Fashion-MobileNet networks on host-cpu, measured as `measure` says from each
/// network's features; ±`noise` relative noise, seeded.
private func measured(_ count: Int, seed: UInt64, noise: Double = 0.02,
                      _ measure: (LatencyFeatures) -> Double) throws -> [CalibrationSample] {
    let model = LatencyModel(target: try target("host-cpu"))
    let s = try space("fashion-mobilenet")
    var rng = SeededGenerator(seed: seed)
    return s.sample(count: count, seed: seed).enumerated().map { i, c in
        let f = model.features(NetworkGraph.build(compressed: c, in: s))
        let e = 1 + noise * (2 * Double(rng.next() >> 11) / Double(1 << 53) - 1)
        return CalibrationSample(features: f, measuredMilliseconds: measure(f) * e, label: "network \(i)")
    }
}

private func heldOut(_ cal: Calibration, _ test: [CalibrationSample]) -> FitQuality {
    FitQuality(predicted: test.map { cal.milliseconds($0.features) }, measured: test.map(\.measuredMilliseconds))
}

@Test func aDeviceThatFollowsFLOPsGetsTheStraightLine() throws {
    // A device whose latency is 50 µs plus 1 ms per 40 MMACs, whatever the layers: the
    // per-layer profile of host-cpu (overheads, memory-bound layers) does not follow it.
    let all = try measured(120, seed: 3) { 0.05 + $0.summary.macs / 40e6 }
    let train = Array(all.prefix(20)), test = Array(all.dropFirst(20))
    let cal = try Calibrator().fit(samples: train, target: try target("host-cpu"))
    #expect(LatencyForm.linear.contains(cal.form) || cal.form == .blend, "chose \(cal.form)")
    let ours = heldOut(cal, test)
    var perLayer = cal
    perLayer.form = .perLayer
    #expect(ours.withinTenPercent >= 0.95, "\(ours)")
    #expect(ours.withinTenPercent >= heldOut(perLayer, test).withinTenPercent)
    // Every model was compared, each with its held-out error (the kernel sum needs a sweep).
    #expect(Set(cal.forms.map(\.form)) == Set(LatencyForm.allCases).subtracting([.kernels]))
    #expect(cal.crossValidated == cal.forms.first { $0.form == cal.form }?.quality)
}

@Test func aDeviceThatFollowsTheProfileKeepsThePerLayerModel() throws {
    // Measurements the per-layer model itself makes (the profile at 0.3 of its times):
    // no straight line through FLOPs explains them, and the choice must not take one.
    let truth = Coefficients(defaultValue: 0.3)
    let all = try measured(120, seed: 4) { $0.milliseconds(with: truth) }
    let train = Array(all.prefix(20)), test = Array(all.dropFirst(20))
    let cal = try Calibrator().fit(samples: train, target: try target("host-cpu"))
    #expect(cal.form == .perLayer || cal.form == .blend, "chose \(cal.form)")
    let line = LinearLatencyFit.fit(.flops, summaries: train.map(\.features.summary), measured: train.map(\.measuredMilliseconds))!
    let flops = FitQuality(predicted: test.map { line.milliseconds($0.features.summary) }, measured: test.map(\.measuredMilliseconds))
    let ours = heldOut(cal, test)
    #expect(ours.withinTenPercent >= 0.95 && ours.withinTenPercent > flops.withinTenPercent, "\(ours) vs FLOPs \(flops)")
}

@Test func theOneStandardErrorChoiceTakesTheSimplestModelThatIsAsGood() throws {
    // A FLOPs device: the lines with more terms fit it as well, and the simplest is taken.
    // A device that follows the profile: no line comes within one standard error of it.
    var options = Calibrator.Options()
    options.formChoice = .simplestWithinOneSE
    let flops = try measured(20, seed: 3) { 0.05 + $0.summary.macs / 40e6 }
    #expect(try Calibrator(options: options).fit(samples: flops, target: try target("host-cpu")).form == .flops)
    let truth = Coefficients(defaultValue: 0.3)
    let profile = try measured(20, seed: 4) { $0.milliseconds(with: truth) }
    let cal = try Calibrator(options: options).fit(samples: profile, target: try target("host-cpu"))
    #expect(cal.form == .perLayer || cal.form == .blend, "chose \(cal.form)")
}

@Test func aFixedModelIsTheOnlyOneFitted() throws {
    let all = try measured(30, seed: 5) { 0.05 + $0.summary.macs / 40e6 }
    var options = Calibrator.Options()
    options.forms = [.opCounts]
    let cal = try Calibrator(options: options).fit(samples: all, target: try target("host-cpu"))
    #expect(cal.form == .opCounts && cal.linear?.form == .opCounts)
    #expect(cal.forms.map(\.form) == [.opCounts])
    // Too few samples to cross-validate: the per-layer model, whatever was asked.
    let two = try Calibrator(options: options).fit(samples: Array(all.prefix(2)), target: try target("host-cpu"))
    #expect(two.form == .perLayer && two.forms.isEmpty)
}

@Test func theChosenModelTravelsWithTheCalibrationFile() throws {
    let t = try target("host-cpu")
    let all = try measured(40, seed: 6) { 0.05 + $0.summary.macs / 40e6 + 2e-4 * Double($0.summary.layers[.depthwise] ?? 0) }
    let cal = try Calibrator().fit(samples: all, target: t)
    #expect(cal.form != .perLayer)
    let back = try Calibration.parse(json: cal.json.text(pretty: true), file: "cal.json")
    #expect(back.form == cal.form)
    #expect(back.linear?.form == cal.linear?.form)
    #expect(back.forms.map(\.form) == cal.forms.map(\.form))
    for s in all { #expect(abs(back.milliseconds(s.features) - cal.milliseconds(s.features)) <= 1e-9 * cal.milliseconds(s.features)) }

    // The latency model follows the chosen form, and its layers add up to the total.
    let model = LatencyModel(target: t, calibration: back)
    let sp = try space("fashion-mobilenet")
    let g = NetworkGraph.build(compressed: sp.sample(count: 1, seed: 77)[0], in: sp)
    let report = model.predict(g)
    #expect(abs(report.milliseconds - back.milliseconds(model.features(g))) <= 1e-9 * report.milliseconds)
    #expect(abs(report.layers.reduce(report.fixedMilliseconds) { $0 + $1.milliseconds } - report.milliseconds) <= 1e-9 * report.milliseconds)

    // A calibration written before the choice existed reads as per-layer.
    var old = cal.json.text(pretty: false)
    for key in ["model", "linear", "models_compared"] {
        if case .object(let pairs) = try JSONText.parse(old) { old = JSONValue.object(pairs.filter { $0.0 != key }).text(pretty: false) }
    }
    #expect(try Calibration.parse(json: old, file: "old.json").form == .perLayer)

    // Bad files name the key and what to do.
    func error(_ text: String) -> String {
        do { _ = try Calibration.parse(json: text, file: "bad.json"); return "" } catch { return error.description }
    }
    let unknown = cal.json.text(pretty: false).replacingOccurrences(of: "\"model\":\"\(cal.form.rawValue)\"", with: "\"model\":\"spline\"")
    #expect(error(unknown).contains("bad.json") && error(unknown).contains("'model' must be one of"))
    var noLine = cal.json.text(pretty: false)
    if case .object(let pairs) = try JSONText.parse(noLine) { noLine = JSONValue.object(pairs.filter { $0.0 != "linear" }).text(pretty: false) }
    #expect(error(noLine).contains("calibrate again"))
}
