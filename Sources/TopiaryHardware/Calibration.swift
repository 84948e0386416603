import Foundation
import TopiaryCore

/// A target's fitted coefficients and how well they fit, saved as a small JSON file
/// beside the target profile (`NAME.calibration.json`) or wherever the caller says.
///
/// ```json
/// {"format":1,"target":"host-cpu","profile":"3f2a…","samples":20,"lambda":0.1,"scale":0.82,
///  "coefficients":{"compute.conv.fp32":0.91,…},
///  "fit":{"within_10pct":0.97,"spearman":0.99,"median_error":0.03},
///  "cross_validated":{"within_10pct":0.95,"spearman":0.98,"median_error":0.04}}
/// ```
public struct Calibration: Sendable, Equatable {
    public var target: String
    /// Fingerprint of the profile the coefficients multiply (`HardwareTarget.fingerprint`).
    public var profile: String
    public var coefficients: Coefficients
    /// The common scale coefficients were pulled toward; terms not seen take it.
    public var scale: Double
    public var lambda: Double
    public var samples: Int
    /// Fit on the calibration samples themselves.
    public var quality: FitQuality
    /// Held-out quality of the chosen model from the cross-validation that chose it
    /// (and λ), when there was one.
    public var crossValidated: FitQuality?
    /// The model predictions come from: the per-layer model with `coefficients`, a
    /// straight line (`linear`), or the blend of the two.
    public var form: LatencyForm = .perLayer
    /// The linear fit `form` uses (itself, or the blend's linear half).
    public var linear: LinearLatencyFit?
    /// Every model compared when choosing `form`, with its cross-validated error.
    public var forms: [FormScore] = []
    /// The cross-validated error of the chosen model (infinite when none was compared):
    /// what decides between calibrations fitted from different starting points.
    public var chosenError: Double { forms.first { $0.form == form }?.error ?? .infinity }
    /// What it was fitted on, in words: whole-network measurements (the default), a kernel
    /// sweep's kernels (`SweepPrior`), or measurements starting from a sweep's fit.
    public var source = Calibration.measured
    public static let measured = "measurements"
    public static let sweep = "kernel sweep"
    public static let measuredFromSweep = "measurements, starting from the kernel sweep's fit"

    /// One model's cross-validated error (mean squared log-ratio of held-out predictions
    /// to measurements) and quality.
    public struct FormScore: Sendable, Equatable {
        public var form: LatencyForm
        public var error: Double
        public var quality: FitQuality

        public init(form: LatencyForm, error: Double, quality: FitQuality) {
            self.form = form
            self.error = error
            self.quality = quality
        }
    }

    public init(target: String, profile: String = "", coefficients: Coefficients, scale: Double, lambda: Double, samples: Int,
                quality: FitQuality, crossValidated: FitQuality? = nil) {
        self.target = target
        self.profile = profile
        self.coefficients = coefficients
        self.scale = scale
        self.lambda = lambda
        self.samples = samples
        self.quality = quality
        self.crossValidated = crossValidated
    }

    /// The calibrated prediction for a network's features.
    public func milliseconds(_ features: LatencyFeatures) -> Double {
        milliseconds(perLayer: features.milliseconds(with: coefficients), summary: features.summary)
    }

    /// The calibrated prediction from the per-layer model's total (under `coefficients`)
    /// and the network's counts.
    public func milliseconds(perLayer: Double, summary: NetworkSummary) -> Double {
        // A kernel-sum calibration without the sweep it was fitted with (the file was not
        // copied along) falls back to the per-layer model rather than to a constant.
        guard form != .perLayer, let linear, LinearLatencyFit.applies(linear.form, summary) else { return perLayer }
        // A line with a zero intercept can reach 0 for a tiny network; latency cannot.
        let line = max(linear.milliseconds(summary), 1e-6)
        return form == .blend ? (max(perLayer, 1e-6) * line).squareRoot() : line
    }

    /// "per-layer", or e.g. "flops-linear (12 µs + 0.0031 ms per MMAC)".
    public var formDescription: String {
        guard form != .perLayer, let linear else { return form.rawValue }
        let terms = LinearLatencyFit.featureNames(linear.form).compactMap { n -> String? in
            guard let w = linear.weights[n], w > 0 else { return nil }
            switch n {
            case "intercept": return "\(Self.short(w)) ms"
            case "macs": return "\(Self.short(w * 1e6)) ms per MMAC"
            case "bytes": return "\(Self.short(w * 1e6)) ms per MB"
            case "kernels": return "\(Self.short(w)) x the kernels' sum"
            default: return "\(Self.short(w)) ms per \(n.replacingOccurrences(of: "layers.", with: "")) layer"
            }
        }
        let line = "\(linear.form.rawValue): " + (terms.isEmpty ? "0" : terms.joined(separator: " + "))
        return form == .blend ? "blend of per-layer and \(line)" : line
    }

    static func short(_ x: Double) -> String {
        let digits = x == 0 ? 0 : max(0, 3 - Int(log10(abs(x)).rounded(.down)))
        return String(format: "%.\(min(digits, 8))f", x)
    }

    /// Errors unless the calibration was made for this target and this profile.
    public func check(against target: HardwareTarget) throws(CalibrationError) {
        if self.target != target.name {
            throw CalibrationError("the calibration is for target '\(self.target)', not '\(target.name)'")
        }
        if !profile.isEmpty && profile != target.fingerprint {
            throw CalibrationError("the calibration was fitted to another version of the '\(target.name)' profile; calibrate again")
        }
    }

    public var json: JSONValue {
        func q(_ f: FitQuality) -> JSONValue {
            .object([("samples", .int(f.count)), ("within_10pct", .double(f.withinTenPercent)), ("spearman", .double(f.spearman)),
                     ("median_error", .double(f.medianRelativeError))])
        }
        var pairs: [(String, JSONValue)] = [
            ("format", .int(1)), ("target", .string(target)), ("profile", .string(profile)), ("samples", .int(samples)),
            ("lambda", .double(lambda)), ("scale", .double(scale)),
            ("coefficients", .object(coefficients.values.sorted { $0.key < $1.key }.map { ($0.key.name, .double($0.value)) })),
            ("fit", q(quality)),
        ]
        if let cv = crossValidated { pairs.append(("cross_validated", q(cv))) }
        pairs.append(("model", .string(form.rawValue)))
        if source != Self.measured { pairs.append(("source", .string(source))) }
        if let linear {
            pairs.append(("linear", .object([("form", .string(linear.form.rawValue)),
                                             ("weights", .object(linear.weights.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) }))])))
        }
        if !forms.isEmpty {
            pairs.append(("models_compared", .array(forms.map { f in
                .object([("model", .string(f.form.rawValue)), ("cv_error", .double(f.error))] + (q(f.quality).objectPairs ?? []))
            })))
        }
        return .object(pairs)
    }

    /// Reads a calibration file's JSON; `file` names it in errors.
    public static func parse(json text: String, file: String) throws(CalibrationError) -> Calibration {
        let doc: JSONValue
        do { doc = try JSONText.parse(text) } catch { throw CalibrationError(place: file, "not valid JSON: \(error)") }
        func num(_ v: JSONValue?, _ key: String) throws(CalibrationError) -> Double {
            guard let d = v?.doubleValue ?? v?.intValue.map(Double.init), d.isFinite else {
                throw CalibrationError(place: file, "'\(key)' must be a number")
            }
            return d
        }
        func quality(_ v: JSONValue?, _ key: String) throws(CalibrationError) -> FitQuality? {
            guard let v else { return nil }
            return FitQuality(count: Int(try num(v["samples"], "\(key).samples")), withinTenPercent: try num(v["within_10pct"], "\(key).within_10pct"),
                              spearman: try num(v["spearman"], "\(key).spearman"), medianRelativeError: try num(v["median_error"], "\(key).median_error"))
        }
        guard doc.objectPairs != nil else { throw CalibrationError(place: file, "expected a JSON object") }
        guard doc["format"]?.intValue == 1 else { throw CalibrationError(place: file, "'format' must be 1") }
        guard let target = doc["target"]?.stringValue else { throw CalibrationError(place: file, "'target' must be a name") }
        guard let pairs = doc["coefficients"]?.objectPairs else { throw CalibrationError(place: file, "'coefficients' must be an object") }
        var values: [LatencyTerm: Double] = [:]
        for (k, v) in pairs {
            guard let term = LatencyTerm(name: k) else { throw CalibrationError(place: file, "unknown term '\(k)' in 'coefficients'") }
            let x = try num(v, "coefficients.\(k)")
            guard x >= 0 else { throw CalibrationError(place: file, "coefficient '\(k)' is negative") }
            values[term] = x
        }
        let scale = try num(doc["scale"], "scale")
        guard scale >= 0 else { throw CalibrationError(place: file, "'scale' is negative") }
        var cal = Calibration(target: target, profile: doc["profile"]?.stringValue ?? "", coefficients: Coefficients(values, defaultValue: scale),
                              scale: scale, lambda: try num(doc["lambda"], "lambda"), samples: Int(try num(doc["samples"], "samples")),
                              quality: try quality(doc["fit"], "fit") ?? FitQuality(count: 0, withinTenPercent: 0, spearman: 0, medianRelativeError: 0),
                              crossValidated: try quality(doc["cross_validated"], "cross_validated"))
        if let s = doc["source"] {
            guard let text = s.stringValue, [measured, sweep, measuredFromSweep].contains(text) else {
                throw CalibrationError(place: file, "'source' must be one of \"\(measured)\", \"\(sweep)\", \"\(measuredFromSweep)\"")
            }
            cal.source = text
        }
        // Calibrations written before the model choice have neither key: per-layer.
        let formNames = LatencyForm.allCases.map(\.rawValue).joined(separator: ", ")
        if let name = doc["model"] {
            guard let f = name.stringValue.flatMap(LatencyForm.init(rawValue:)) else {
                throw CalibrationError(place: file, "'model' must be one of \(formNames)")
            }
            cal.form = f
        }
        if let l = doc["linear"] {
            guard let f = l["form"]?.stringValue.flatMap(LatencyForm.init(rawValue:)), LatencyForm.linear.contains(f) else {
                throw CalibrationError(place: file, "'linear.form' must be one of \(LatencyForm.linear.map(\.rawValue).joined(separator: ", "))")
            }
            guard let pairs = l["weights"]?.objectPairs else { throw CalibrationError(place: file, "'linear.weights' must be an object") }
            let known = Set(LinearLatencyFit.featureNames(f))
            var weights: [String: Double] = [:]
            for (k, v) in pairs {
                guard known.contains(k) else { throw CalibrationError(place: file, "unknown feature '\(k)' in 'linear.weights' of \(f.rawValue)") }
                let w = try num(v, "linear.weights.\(k)")
                guard w >= 0 else { throw CalibrationError(place: file, "weight '\(k)' in 'linear.weights' is negative") }
                weights[k] = w
            }
            cal.linear = LinearLatencyFit(form: f, weights: weights)
        }
        if cal.form != .perLayer && cal.linear == nil {
            throw CalibrationError(place: file, "'model' is \(cal.form.rawValue) but there is no 'linear' fit; calibrate again")
        }
        if let list = doc["models_compared"]?.arrayValue {
            for (i, entry) in list.enumerated() {
                guard let f = entry["model"]?.stringValue.flatMap(LatencyForm.init(rawValue:)),
                      let q = try quality(entry, "models_compared[\(i)]") else {
                    throw CalibrationError(place: file, "'models_compared[\(i)].model' must be one of \(formNames)")
                }
                cal.forms.append(FormScore(form: f, error: try num(entry["cv_error"], "models_compared[\(i)].cv_error"), quality: q))
            }
        }
        return cal
    }
}

extension HardwareTarget {
    /// A short hash of every number of the profile: calibrations remember it, so that
    /// coefficients fitted to one version of a profile are not applied to another.
    public var fingerprint: String {
        var parts = [name, kind.rawValue]
        parts += peakGOPS.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }
        parts += efficiency.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }
        let m = memory
        parts += [m.bandwidthGBs, m.cacheBandwidthGBs ?? -1, m.weightStreamGBs ?? -1].map { "\($0)" }
        parts += [m.cacheBytes, m.capacityBytes, m.weightStorageBytes, m.activationBytes, m.weightCacheBytes].map { "\($0 ?? -1)" }
        parts += ["\(overhead.layerMicroseconds)", "\(overhead.inferenceMicroseconds)", "\(sparsity.unstructured)", "\(sparsity.efficiency)",
                  "\(blockChannels ?? 0)", "\(vectorChannels ?? 0)", "\(genericEfficiency)"]
        if genericRowElements > 0 { parts.append("rows=\(genericRowElements)") }
        if let p = plainInputEfficiency { parts.append("plain=\(p)") }
        if !m.overlap { parts.append("sequential") }
        if let q = overhead.quantizedLayerMicroseconds { parts.append("qlayer=\(q)") }
        if let w = overhead.weightlessLayerMicroseconds { parts.append("wlayer=\(w)") }
        parts += quantizedEfficiency.sorted { $0.key.rawValue < $1.key.rawValue }.map { "q\($0.key.rawValue)=\($0.value)" }
        if let g = quantizedGenericEfficiency { parts.append("qgeneric=\(g)") }
        if let k = quantizedKernelChannels { parts.append("qchannels=\(k.input),\(k.output),\(k.minOutput),\(k.depthwise)") }
        if let l = layoutPrecisions { parts.append("layout:" + l.map(\.rawValue).sorted().joined(separator: ",")) }
        if quantizedChannelsLast { parts.append("qnhwc") }
        if let g = quantizedGenericCosts {
            parts.append("qcosts=\(g.positionMACs),\(g.im2colMACs),\(g.outputMACs),\(g.depthwiseLanes),\(g.depthwiseRemainderMACs),"
                         + "\(g.depthwiseTapMACs),\(g.depthwiseOutputMACs)")
        }
        if let f = floatActivations { parts.append("float:" + f.map(\.rawValue).sorted().joined(separator: ",")) }
        if let f = floatRunsAs { parts.append("floatas=\(f.rawValue)") }
        return String(SHA256.hex(parts.joined(separator: "|")).prefix(16))
    }
}
