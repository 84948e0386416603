import Foundation
import TopiaryCore
import TopiaryHardware

/// Validates the latency model against real measurements it was not fitted on: reads a
/// CSV of measured candidates (bench/latency_validation.py writes it), calibrates the
/// target on k random candidates and scores the predictions for all the others, over
/// many random draws of the k.
///
///     topiary-bench hardware [--data bench/data/host-cpu-ort.csv] [--target host-cpu]
///                            [--k 5,10,20,50] [--draws 50] [--seed 1] [--dump FILE] [--coefficients]
///                            [--predictions FILE]   (every held-out prediction: k, draw, CSV line, predicted, measured)
///                            [--prior FILE|saved|none]
///
/// Each k is run twice when the target has a saved calibration (NAME.calibration.json
/// beside its profile, fitted on other measurements of the same device) or --prior names
/// one: starting from the profile as written, and starting from that calibration.
enum HardwareBench {
    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var data = root.appendingPathComponent("bench/data/host-cpu-ort.csv").path
        var targetName = "host-cpu"
        var ks = [5, 10, 20, 50]
        var draws = 50
        var seed: UInt64 = 1
        var dump: String?
        var showCoefficients = false
        var predictionsFile: String?
        var priorFile: String?
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--data": data = it.next() ?? data
            case "--target": targetName = it.next() ?? targetName
            case "--k": ks = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--draws": draws = Int(it.next() ?? "") ?? draws
            case "--seed": seed = UInt64(it.next() ?? "") ?? seed
            case "--dump": dump = it.next()
            case "--coefficients": showCoefficients = true
            case "--predictions": predictionsFile = it.next()
            case "--prior": priorFile = it.next()
            default: throw BenchError("unknown option \(a); use --data CSV --target NAME --k 5,10,20,50 --draws N --seed S --prior FILE|saved|none")
            }
        }
        let target = try HardwareTarget.load(path: root.appendingPathComponent("SearchSpaces/targets/\(targetName).yaml").path)
        let model = LatencyModel(target: target)
        // The saved calibration beside the target (fitted on other measurements of the
        // same device) is the second starting point unless --prior names another or none.
        let targets = root.appendingPathComponent("SearchSpaces/targets").path
        let saved = TargetFiles.calibrationPath(for: targetName, dir: targets)
        if priorFile == nil || priorFile == "saved" { priorFile = FileManager.default.fileExists(atPath: saved) ? saved : nil }
        if priorFile == "none" { priorFile = nil }
        var prior: Coefficients?
        var priorName = ""
        if let priorFile {
            let cal = try TargetFiles.loadCalibration(priorFile, for: target)
            prior = cal.coefficients
            priorName = priorFile.hasPrefix(root.path + "/") ? String(priorFile.dropFirst(root.path.count + 1)) : priorFile
            print("second starting point: \(priorName), a calibration on \(cal.samples) other measurements")
        }
        let rows = try MeasurementFile.read(data, spaceDirectories: [root.appendingPathComponent("SearchSpaces").path])
        let samples = rows.map { $0.sample(model) }
        let groups = rows.map { $0.space.name + ($0.columns["precision"].map { "/" + $0 } ?? "") }
        let measured = samples.map(\.measuredMilliseconds)
        let sorted = measured.sorted()
        print("hardware benchmark: target \(target.name), \(samples.count) measured candidates from \(data)")
        print(String(format: "measured latency: min %.3f ms, median %.3f ms, max %.3f ms", sorted.first ?? 0, sorted[sorted.count / 2], sorted.last ?? 0))
        for (g, n) in Dictionary(grouping: groups, by: { $0 }).mapValues(\.count).sorted(by: { $0.key < $1.key }) {
            print("  \(g): \(n)")
        }
        if let dump {
            // Per-sample term totals of the uncalibrated profile, for analysis elsewhere.
            let totals = samples.map { $0.features.termTotals() }
            let terms = Set(totals.flatMap(\.keys)).sorted()
            var lines = ["group,measured_ms,layers," + terms.map(\.name).joined(separator: ",")]
            for (i, s) in samples.enumerated() {
                lines.append("\(groups[i]),\(s.measuredMilliseconds),\(s.features.layers.count)," + terms.map { String(totals[i][$0] ?? 0) }.joined(separator: ","))
            }
            try lines.joined(separator: "\n").write(toFile: dump, atomically: true, encoding: .utf8)
        }
        let raw = FitQuality(predicted: samples.map { $0.features.milliseconds() }, measured: measured)
        print("uncalibrated profile: \(raw)")
        if showCoefficients {
            // The coefficients fitted to every sample, beside each term's share of the total.
            let all = try Calibrator().fit(samples: samples, target: target)
            var share: [LatencyTerm: Double] = [:]
            for s in samples { for (t, v) in s.features.termTotals(with: all.coefficients) { share[t, default: 0] += all.coefficients[t] * v / s.measuredMilliseconds } }
            print(String(format: "fitted to all %d samples: λ %g, scale %.3f, %@", samples.count, all.lambda, all.scale, all.quality.description))
            for t in share.keys.sorted() {
                print(String(format: "  %-34@ %8.3f   share of the measured time %5.1f%%", t.name, all.coefficients[t], 100 * share[t]! / Double(samples.count)))
            }
        }
        func evaluate(prior: Coefficients?, from: String) throws {
            print("")
            print("calibrated on k random candidates, scored on all the others; \(draws) random draws of k; starting from \(from)")
            print("   k   within ±10% (mean / median / worst 10%)   Spearman ρ (mean / worst 10%)   median error   λ (median)")
            let calibrator = Calibrator()
            var rng = SeededGenerator(seed: seed)  // the same draws for every starting point
            var byGroup: [Int: [String: (Int, Int)]] = [:]
            var ratios: [Int: [String: [Double]]] = [:]
            var predictionLines = ["k,draw,line,group,predicted_ms,measured_ms"]
            for k in ks where k < samples.count {
                var within: [Double] = [], rho: [Double] = [], med: [Double] = [], lambdas: [Double] = []
                for draw in 0..<draws {
                    var idx = Array(samples.indices)
                    for i in 0..<k { idx.swapAt(i, i + rng.index(below: idx.count - i)) }
                    let train = idx.prefix(k).map { samples[$0] }
                    let testIdx = Array(idx.dropFirst(k))
                    let test = testIdx.map { samples[$0] }
                    let cal = try calibrator.fit(samples: train, target: target, prior: prior)
                    let predicted = test.map { $0.features.milliseconds(with: cal.coefficients) }
                    let q = FitQuality(predicted: predicted, measured: test.map(\.measuredMilliseconds))
                    for (j, i) in testIdx.enumerated() {
                        let ok = abs(predicted[j] / samples[i].measuredMilliseconds - 1) <= 0.1
                        let cur = byGroup[k, default: [:]][groups[i], default: (0, 0)]
                        byGroup[k, default: [:]][groups[i]] = (cur.0 + (ok ? 1 : 0), cur.1 + 1)
                        ratios[k, default: [:]][groups[i], default: []].append(predicted[j] / samples[i].measuredMilliseconds)
                        if predictionsFile != nil {
                            predictionLines.append("\(k),\(draw),\(rows[i].line),\(groups[i]),\(predicted[j]),\(samples[i].measuredMilliseconds)")
                        }
                    }
                    within.append(q.withinTenPercent)
                    rho.append(q.spearman)
                    med.append(q.medianRelativeError)
                    lambdas.append(cal.lambda)
                }
                func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
                func pct(_ v: [Double], _ p: Double) -> Double { v.sorted()[min(v.count - 1, Int(p * Double(v.count)))] }
                print(String(format: "%4d   %6.1f%% / %6.1f%% / %6.1f%%                  %.3f / %.3f                   %5.1f%%        %g",
                             k, 100 * mean(within), 100 * pct(within, 0.5), 100 * pct(within, 0.1), mean(rho), pct(rho, 0.1),
                             100 * mean(med), pct(lambdas, 0.5)))
            }
            if let predictionsFile {
                let predictionsFile = prior == nil ? predictionsFile : predictionsFile + ".prior"
                try predictionLines.joined(separator: "\n").write(toFile: predictionsFile, atomically: true, encoding: .utf8)
            }
            print("")
            print("share within ±10% by group (held-out predictions over all draws)")
            for k in ks where byGroup[k] != nil {
                print(String(format: "%4d   ", k) + byGroup[k]!.sorted { $0.key < $1.key }
                    .map { String(format: "%@ %.1f%%", $0.key, 100 * Double($0.value.0) / Double($0.value.1)) }.joined(separator: "   "))
            }
            print("")
            print("predicted / measured by group (median, and the 10th and 90th percentiles)")
            for k in ks where ratios[k] != nil {
                print(String(format: "%4d   ", k) + ratios[k]!.sorted { $0.key < $1.key }.map { g, v in
                    let s = v.sorted()
                    return String(format: "%@ %.3f [%.3f, %.3f]", g, s[s.count / 2], s[s.count / 10], s[min(s.count - 1, 9 * s.count / 10)])
                }.joined(separator: "   "))
            }
        }
        try evaluate(prior: nil, from: "the profile as written")
        if let prior { try evaluate(prior: prior, from: priorName) }
    }
}
