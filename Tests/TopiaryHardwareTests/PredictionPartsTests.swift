import Testing
import TopiaryCore
@testable import TopiaryHardware

/// `LatencyModel.predict` computes each layer's parts once; they must be exactly what the
/// features give under the same coefficients (calibration fits the features, the daemon
/// admits by the prediction).
@Suite struct PredictionPartsTests {
    @Test(arguments: [("fashion-mobilenet", "host-cpu"), ("mobilenetv3-imagenet", "raspberry-pi-4"),
                      ("nas-bench-macro", "cortex-m7"), ("nas-bench-201", "jetson-nano")])
    func layerTimesAreThoseOfTheFeatures(_ spaceName: String, _ targetName: String) throws {
        let s = try space(spaceName), t = try target(targetName)
        var rng = SeededGenerator(seed: 5)
        for c in s.sample(count: 12, seed: 11) {
            let g = NetworkGraph.build(compressed: c, in: s)
            let f = LatencyModel(target: t).features(g)
            // Every term at its own scale, and a default for the rest: no two coefficients alike.
            var values: [LatencyTerm: Double] = [:]
            for term in f.termTotals().keys { values[term] = 0.25 + Double(rng.index(below: 200)) / 50 }
            let coefficients = Coefficients(values, defaultValue: 1.3)
            let model = LatencyModel(target: t, coefficients: coefficients)
            let report = model.predict(g)
            #expect(report.layers.count == f.layers.count)
            for (layer, parts) in zip(report.layers, f.layers) {
                #expect(layer.milliseconds == parts.milliseconds(coefficients))
                #expect(layer.computeBound == parts.isComputeBound(coefficients))
                #expect(layer.computeMilliseconds == parts.computeMilliseconds(coefficients))
                #expect(layer.memoryMilliseconds == parts.memoryMilliseconds(coefficients))
            }
            let whole = f.milliseconds(with: coefficients)
            #expect(abs(report.milliseconds - whole) <= 1e-9 * max(1, whole))
            // The cost report handed in is the graph's own: the same prediction.
            #expect(model.predict(g, cost: g.cost()).milliseconds == report.milliseconds)
        }
    }
}
