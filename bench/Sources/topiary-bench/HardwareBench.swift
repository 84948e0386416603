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
///                            [--prior FILE|saved|none] [--by-group] [--models auto|per-layer|flops-linear,…]
///                            [--targets DIR] [--spaces DIR]   (a new device's profile and spaces, no rebuild;
///                                                              --target also takes a YAML path)
///
/// Beside Topiary's calibrated model (the form its cross-validation chose, and the
/// per-layer model alone) it fits the two baselines a user would fit on the same k rows:
/// latency against FLOPs and against op counts by kind (ordinary least squares). With
/// --by-group every group (space and precision) is calibrated and scored on its own, as a
/// user calibrating one device and runtime for one space would.
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
        var byGroup = false
        var forms = LatencyForm.allCases
        var targetsDir = root.appendingPathComponent("SearchSpaces/targets").path
        var spaceDirs = [root.appendingPathComponent("SearchSpaces").path]
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
            case "--by-group": byGroup = true
            case "--targets": targetsDir = it.next() ?? targetsDir
            case "--spaces": spaceDirs.insert(it.next() ?? spaceDirs[0], at: 0)
            case "--models":
                let v = it.next() ?? ""
                if v != "auto" {
                    forms = try v.split(separator: ",").map { n in
                        guard let f = LatencyForm(rawValue: String(n)) else {
                            throw BenchError("--models: unknown model '\(n)'; use auto or some of \(LatencyForm.allCases.map(\.rawValue).joined(separator: ","))")
                        }
                        return f
                    }
                }
            default: throw BenchError("unknown option \(a); use --data CSV --target NAME --k 5,10,20,50 --draws N --seed S --prior FILE|saved|none --by-group --models auto|LIST --targets DIR --spaces DIR")
            }
        }
        let targetPath = targetName.hasSuffix(".yaml") || targetName.contains("/") ? targetName : "\(targetsDir)/\(targetName).yaml"
        let target = try HardwareTarget.load(path: targetPath)
        let model = LatencyModel(target: target)
        // The saved calibration beside the target (fitted on other measurements of the
        // same device) is the second starting point unless --prior names another or none.
        let saved = TargetFiles.calibrationPath(for: target.name, dir: (targetPath as NSString).deletingLastPathComponent)
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
        let rows = try MeasurementFile.read(data, spaceDirectories: spaceDirs)
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
        var options = Calibrator.Options()
        options.forms = forms
        let calibrator = Calibrator(options: options)
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        func pct(_ v: [Double], _ p: Double) -> Double { v.isEmpty ? 0 : v.sorted()[min(v.count - 1, Int(p * Double(v.count)))] }

        /// Calibrates on k random rows of `pool` and scores the rest, `draws` times per k;
        /// prints one line per k for Topiary (chosen form), the per-layer model alone and
        /// the two baselines.
        func evaluate(_ pool: [Int], prior: Coefficients?, title: String, predictionLines: inout [String]) throws {
            print("")
            print(title)
            print("   k   Topiary ±10% / ±5% / ρ (worst 10% ±10%)   per-layer ±10% / ρ   FLOPs-linear ±10% / ρ   op-count ±10% / ρ   forms chosen")
            var rng = SeededGenerator(seed: seed)  // the same draws for every starting point
            for k in ks where k + 5 <= pool.count {
                var ours: [FitQuality] = [], five: [Double] = [], layer: [FitQuality] = [], flops: [FitQuality] = [], ops: [FitQuality] = []
                var chosen: [LatencyForm: Int] = [:]
                for draw in 0..<draws {
                    var idx = pool
                    for i in 0..<k { idx.swapAt(i, i + rng.index(below: idx.count - i)) }
                    let train = idx.prefix(k).map { samples[$0] }
                    let testIdx = Array(idx.dropFirst(k))
                    let test = testIdx.map { samples[$0] }
                    let truth = test.map(\.measuredMilliseconds)
                    let cal = try calibrator.fit(samples: train, target: target, prior: prior)
                    chosen[cal.form, default: 0] += 1
                    let predicted = test.map { cal.milliseconds($0.features) }
                    ours.append(FitQuality(predicted: predicted, measured: truth))
                    five.append(Double(zip(predicted, truth).filter { abs($0 / $1 - 1) <= 0.05 }.count) / Double(truth.count))
                    layer.append(FitQuality(predicted: test.map { $0.features.milliseconds(with: cal.coefficients) }, measured: truth))
                    let fitted = train.map { ($0.features.summary, $0.measuredMilliseconds) }
                    flops.append(FitQuality(predicted: LatencyBaseline.flops.predict(train: fitted, test: test.map(\.features.summary)), measured: truth))
                    ops.append(FitQuality(predicted: LatencyBaseline.opCounts.predict(train: fitted, test: test.map(\.features.summary)), measured: truth))
                    if predictionsFile != nil {
                        for (j, i) in testIdx.enumerated() {
                            predictionLines.append("\(k),\(draw),\(rows[i].line),\(groups[i]),\(cal.form.rawValue),\(predicted[j]),\(samples[i].measuredMilliseconds)")
                        }
                    }
                }
                func w(_ q: [FitQuality]) -> Double { 100 * mean(q.map(\.withinTenPercent)) }
                func r(_ q: [FitQuality]) -> Double { mean(q.map(\.spearman)) }
                let forms = chosen.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
                print(String(format: "%4d   %5.1f%% / %5.1f%% / %.3f (%5.1f%%)              %5.1f%% / %.3f       %5.1f%% / %.3f         %5.1f%% / %.3f     %@",
                             k, w(ours), 100 * mean(five), r(ours), 100 * pct(ours.map(\.withinTenPercent), 0.1), w(layer), r(layer),
                             w(flops), r(flops), w(ops), r(ops), forms))
            }
        }
        func evaluateAll(prior: Coefficients?, from: String) throws {
            var predictionLines = ["k,draw,line,group,model,predicted_ms,measured_ms"]
            if byGroup {
                for g in Set(groups).sorted() {
                    let pool = samples.indices.filter { groups[$0] == g }
                    try evaluate(pool, prior: prior, title: "\(g) (\(pool.count) candidates): calibrated on k random candidates of the group, scored on the rest; \(draws) draws; starting from \(from)",
                                 predictionLines: &predictionLines)
                }
            } else {
                try evaluate(Array(samples.indices), prior: prior, title: "calibrated on k random candidates, scored on all the others; \(draws) random draws of k; starting from \(from)",
                             predictionLines: &predictionLines)
            }
            if let predictionsFile {
                let file = prior == nil ? predictionsFile : predictionsFile + ".prior"
                try predictionLines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            }
        }
        try evaluateAll(prior: nil, from: "the profile as written")
        if let prior { try evaluateAll(prior: prior, from: priorName) }
    }
}
