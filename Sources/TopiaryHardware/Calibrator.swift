import Foundation

/// One measurement to calibrate on: a network's cost split into the model's terms
/// (`LatencyModel.features`) and the latency measured on the device.
public struct CalibrationSample: Sendable {
    public var features: LatencyFeatures
    public var measuredMilliseconds: Double
    /// Where the sample came from (a candidate id, a CSV line), for error messages.
    public var label: String

    public init(features: LatencyFeatures, measuredMilliseconds: Double, label: String = "") {
        self.features = features
        self.measuredMilliseconds = measuredMilliseconds
        self.label = label
    }
}

/// Fits a target's latency-model coefficients to measurements.
///
/// The model is linear in its coefficients once each layer's bound (compute or memory)
/// is fixed, so the fit alternates: fix the bounds under the current coefficients, then
/// solve a non-negative least-squares problem in relative error,
///
///     min over θ ≥ 0, s ≥ 0 of  (1/n) Σᵢ (Σₜ θₜ Fᵢₜ / yᵢ − 1)²  +  λ Σₜ qₜ (θₜ − s)²,
///
/// where Fᵢₜ is sample i's time in term t at coefficient 1, yᵢ its measurement and
/// qₜ = (1/nₜ) Σᵢ (Fᵢₜ / yᵢ)², the mean over the nₜ samples that exercise term t, puts
/// the penalty in the same units. The penalty pulls every coefficient toward one common
/// scale s: with few samples the fit keeps the profile's proportions and only rescales
/// it; with many, each term follows the data. λ is chosen by cross-validation on the
/// samples themselves (leave-one-out up to 20 samples, else 5-fold) with, below 100
/// samples, the one-standard-error rule (the strongest pull whose held-out error is
/// within one standard error of the best), so nothing is tuned on data the fit does not
/// see and a few samples do not buy freedom that only looks better by chance. Terms the
/// samples do not exercise take the scale s, and so do terms fewer than three samples
/// exercise (cross-validation cannot judge them). A `prior` calibration replaces the profile as
/// the starting point: its proportions are kept and rescaled.
public struct Calibrator: Sendable {
    /// How a term's pull toward the common scale is measured.
    public enum PenaltyUnit: String, Sendable, CaseIterable {
        /// The term's mean squared share of the latency of the samples that exercise it: a
        /// term is held as firmly whatever its share (a term that is always a small part
        /// moves freely, as far as the little it explains allows).
        case termShare = "term"
        /// A whole network's latency: a term moves from the common scale only as far as
        /// its share of the measured latencies justifies (a term that is always a small
        /// part stays near the scale, and so extrapolates to networks where it is large).
        case network
    }

    public struct Options: Sendable {
        /// Candidate strengths of the pull toward a common scale.
        public var lambdas: [Double] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 100]
        /// Rounds of fixing the bounds and refitting.
        public var rounds: Int = 4
        /// Folds for choosing λ when there are more than 20 samples.
        public var folds: Int = 5
        /// Huber-weighted refits (iteratively reweighted least squares) so that a few
        /// disturbed measurements do not pull the fit; 0 for plain least squares.
        public var robustIterations: Int = 3
        /// Choose λ by the one-standard-error rule below `oneStandardErrorBelow` samples
        /// (else, and from there on, the smallest held-out error).
        public var oneStandardError: Bool = true
        /// Sample counts from which the smallest 5-fold error is trusted as it is.
        public var oneStandardErrorBelow: Int = 100
        /// Samples that must exercise a term before it is fitted on its own; a term fewer
        /// samples exercise keeps the common scale.
        public var minimumUses: Int = 3
        /// The unit of each term's pull toward the common scale.
        public var penaltyUnit: PenaltyUnit = .termShare
        /// The models to choose between by cross-validation (the per-layer model is
        /// always fitted: its coefficients are a later calibration's starting point).
        public var forms: [LatencyForm] = LatencyForm.defaultChoice
        /// How the model is chosen from their cross-validated errors.
        public var formChoice: FormChoice = .smallestError

        public init() {}
    }

    /// How `choose` picks a model from the cross-validated errors of those compared.
    public enum FormChoice: String, Sendable, CaseIterable {
        /// The smallest held-out error (ties to the per-layer model, then the simpler lines).
        case smallestError = "smallest"
        /// Below `oneStandardErrorBelow` samples, the simplest model (FLOPs line, FLOPs and
        /// memory line, op-count line, per-layer, blend) whose held-out error exceeds the
        /// smallest by at most one standard error of the paired per-sample difference.
        case simplestWithinOneSE = "1se"
    }

    public var options: Options
    /// The pull that holds a term to the common scale.
    static let heldLambda = 1000.0

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Fits coefficients starting from an earlier calibration's (`prior`) rather than
    /// from the profile as written: the penalty then keeps the prior's proportions and
    /// few samples only rescale it. A prior coefficient of 0 is raised to 5% of the
    /// prior's scale so that new samples can bring the term back.
    public func fit(samples: [CalibrationSample], target: HardwareTarget, prior: Coefficients?) throws(CalibrationError) -> Calibration {
        guard let prior else { return try fit(samples: samples, target: target) }
        let floor = 0.05 * prior.defaultValue
        let p = Coefficients(prior.values.mapValues { max($0, floor) }, defaultValue: max(prior.defaultValue, 1e-12))
        let scaled = samples.map { CalibrationSample(features: $0.features.scaled(by: p), measuredMilliseconds: $0.measuredMilliseconds, label: $0.label) }
        var cal = try fit(samples: scaled, target: target)
        var values: [LatencyTerm: Double] = [:]
        for t in Set(p.values.keys).union(cal.coefficients.values.keys) { values[t] = p[t] * cal.coefficients[t] }
        cal.scale *= p.defaultValue
        cal.coefficients = Coefficients(values, defaultValue: cal.scale)
        return cal
    }

    /// Fits coefficients of `target`'s model to the samples (made with
    /// `LatencyModel(target:).features`), choosing λ by cross-validation. Needs at least
    /// two samples with positive, finite measurements.
    public func fit(samples: [CalibrationSample], target: HardwareTarget) throws(CalibrationError) -> Calibration {
        try check(samples)
        let lambda: Double
        var perLayerCV: CrossValidation?
        if samples.count < 3 || options.lambdas.count == 1 {
            lambda = options.lambdas.max() ?? 1
            if samples.count >= 3 { perLayerCV = crossValidate(samples, lambda: lambda) }
        } else {
            // The one-standard-error rule: the strongest pull whose held-out error is
            // within one standard error of the smallest, so that a handful of samples
            // does not buy per-term freedom that only looks better by chance.
            let runs = options.lambdas.map { l in (lambda: l, cv: crossValidate(samples, lambda: l)) }
            let best = runs.min { $0.cv.error < $1.cv.error }!
            let limit = best.cv.error + (options.oneStandardError && samples.count < options.oneStandardErrorBelow ? best.cv.standardError : 0)
            let chosen = runs.filter { $0.cv.error <= limit + 1e-12 }.max { $0.lambda < $1.lambda }!
            lambda = chosen.lambda
            perLayerCV = chosen.cv
        }
        let (c, s) = fit(samples, lambda: lambda)
        var cal = Calibration(target: target.name, profile: target.fingerprint, coefficients: c, scale: s, lambda: lambda, samples: samples.count,
                              quality: FitQuality(count: 0, withinTenPercent: 0, spearman: 0, medianRelativeError: 0), crossValidated: perLayerCV?.quality)
        if let perLayerCV { choose(&cal, samples, perLayerCV) }
        cal.quality = FitQuality(predicted: samples.map { cal.milliseconds($0.features) }, measured: samples.map(\.measuredMilliseconds))
        return cal
    }

    /// Compares the per-layer model with the straight lines (and their blend) by the
    /// same cross-validation folds and keeps the one with the smallest held-out error (or,
    /// with `formChoice` `.simplestWithinOneSE`, the simplest within one standard error of
    /// it); a form with as many parameters as a fold has samples is not tried.
    func choose(_ cal: inout Calibration, _ samples: [CalibrationSample], _ perLayer: CrossValidation) {
        let measured = samples.map(\.measuredMilliseconds)
        let summaries = samples.map(\.features.summary)
        let n = samples.count
        let folds = foldCount(n)
        var scores: [(form: LatencyForm, cv: CrossValidation)] = []
        if options.forms.contains(.perLayer) || options.forms.contains(.blend) { scores.append((.perLayer, perLayer)) }
        for form in LatencyForm.linear where options.forms.contains(form) || options.forms.contains(.blend) {
            guard summaries.allSatisfy({ LinearLatencyFit.applies(form, $0) }) else { continue }
            // Room for every parameter in each training fold, and one sample to spare.
            guard LinearLatencyFit.parameters(form, summaries) < n - (n + folds - 1) / folds else { continue }
            var predicted = [Double](repeating: 0, count: n)
            for f in 0..<folds {
                let train = (0..<n).filter { $0 % folds != f }
                guard let line = LinearLatencyFit.fit(form, summaries: train.map { summaries[$0] }, measured: train.map { measured[$0] }) else { continue }
                for i in 0..<n where i % folds == f { predicted[i] = max(line.milliseconds(summaries[i]), 1e-6) }
            }
            scores.append((form, CrossValidation(predicted: predicted, measured: measured)))
        }
        let lines = scores.filter { LatencyForm.linear.contains($0.form) }
        if options.forms.contains(.blend), let bestLine = lines.min(by: { $0.cv.error < $1.cv.error }) {
            let predicted = zip(perLayer.predicted, bestLine.cv.predicted).map { (max($0, 1e-6) * $1).squareRoot() }
            scores.append((.blend, CrossValidation(predicted: predicted, measured: measured)))
            cal.linear = LinearLatencyFit.fit(bestLine.form, summaries: summaries, measured: measured)
        }
        scores = scores.filter { options.forms.contains($0.form) }
        cal.forms = scores.map { Calibration.FormScore(form: $0.form, error: $0.cv.error, quality: $0.cv.quality) }
        // Ties go to the earlier form: the per-layer model, then the simpler lines.
        guard var best = scores.enumerated().min(by: { ($0.element.cv.error, $0.offset) < ($1.element.cv.error, $1.offset) })?.element else { return }
        if options.formChoice == .simplestWithinOneSE && n < options.oneStandardErrorBelow {
            let simplicity: [LatencyForm] = [.flops, .flopsMemory, .opCounts, .kernels, .perLayer, .blend]
            let bestErrors = best.cv.squaredErrors(measured)
            for candidate in scores.sorted(by: { simplicity.firstIndex(of: $0.form)! < simplicity.firstIndex(of: $1.form)! }) {
                let diff = CrossValidation.meanAndStandardError(zip(candidate.cv.squaredErrors(measured), bestErrors).map { $0 - $1 })
                if diff.mean <= diff.standardError + 1e-12 { best = candidate; break }
            }
        }
        cal.form = best.form
        cal.crossValidated = best.cv.quality
        if LatencyForm.linear.contains(best.form) {
            cal.linear = LinearLatencyFit.fit(best.form, summaries: summaries, measured: measured)
        } else if best.form == .perLayer {
            cal.linear = nil
        }
    }

    /// Fits with a given λ; returns the coefficients and the common scale.
    public func fit(_ samples: [CalibrationSample], lambda: Double) -> (Coefficients, Double) {
        let n = Double(samples.count)
        var c = Coefficients.identity
        var scale = 1.0
        var lastBounds: [[Bool]] = []
        for _ in 0..<max(1, options.rounds) {
            let bounds = samples.map { s in s.features.layers.map { $0.isComputeBound(c) } }
            if bounds == lastBounds { break }
            lastBounds = bounds
            let totals = samples.map { $0.features.termTotals(with: c) }
            var termSet = Set<LatencyTerm>()
            for t in totals { for (k, v) in t where v > 0 { termSet.insert(k) } }
            let terms = termSet.sorted()
            let k = terms.count
            if k == 0 { break }
            // Relative design: F[i][t] / y[i], whose product with θ should be 1.
            var design = [[Double]](repeating: [Double](repeating: 0, count: k), count: samples.count)
            var q = [Double](repeating: 0, count: k)
            var uses = [Double](repeating: 0, count: k)
            for (i, s) in samples.enumerated() {
                for (j, t) in terms.enumerated() {
                    let f = (totals[i][t] ?? 0) / s.measuredMilliseconds
                    design[i][j] = f
                    q[j] += f * f
                    if f > 0 { uses[j] += 1 }
                }
            }
            // The penalty's unit is the mean over the samples that exercise the term: a
            // term that only one or two samples exercise is held to the common scale as
            // firmly as one they all do (over all samples, a rare term's penalty would
            // vanish and it would follow those few samples freely).
            for j in 0..<k { q[j] = options.penaltyUnit == .network ? 1 : q[j] / max(1, uses[j]) }
            var weights = [Double](repeating: 1, count: samples.count)
            var x = [Double](repeating: 0, count: k + 1)
            for pass in 0...max(0, options.robustIterations) {
                var rows: [[Double]] = []
                var rhs: [Double] = []
                rows.reserveCapacity(samples.count + k)
                for i in samples.indices {
                    let w = (weights[i] / n).squareRoot()
                    rows.append(design[i].map { $0 * w } + [0])
                    rhs.append(w)
                }
                for j in 0..<k {
                    var row = [Double](repeating: 0, count: k + 1)
                    // A term fewer than `minimumUses` samples exercise cannot be told
                    // apart from the others by cross-validation (leaving its samples out
                    // leaves it unfitted): it keeps the common scale.
                    let strength = uses[j] < Double(options.minimumUses) ? max(lambda, Self.heldLambda) : lambda
                    let r = (strength * q[j]).squareRoot()
                    row[j] = r
                    row[k] = -r
                    rows.append(row)
                    rhs.append(0)
                }
                x = NNLS.solve(rows, rhs).x
                if pass == options.robustIterations || samples.count < 5 { break }
                // Huber weights with the scale from the median absolute residual.
                let residuals = design.map { row in abs(zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } - 1) }
                let delta = max(0.02, 1.345 * 1.4826 * FitQuality.median(residuals))
                weights = residuals.map { $0 <= delta ? 1 : delta / $0 }
            }
            scale = x[k] > 0 ? x[k] : (x.prefix(k).reduce(0, +) / Double(k))
            var values: [LatencyTerm: Double] = [:]
            for (j, t) in terms.enumerated() { values[t] = x[j] }
            c = Coefficients(values, defaultValue: scale)
        }
        return (c, scale)
    }

    /// Held-out predictions of one model and how far they are from the measurements.
    struct CrossValidation {
        var predicted: [Double]
        /// Mean squared log-ratio (robust to the scale of latencies).
        var error: Double
        var standardError: Double
        var quality: FitQuality

        init(predicted: [Double], measured: [Double]) {
            self.predicted = predicted
            (error, standardError) = Self.meanAndStandardError(Self.squaredErrors(predicted, measured))
            quality = FitQuality(predicted: predicted, measured: measured)
        }

        /// The mean of `values` and its standard error.
        static func meanAndStandardError(_ values: [Double]) -> (mean: Double, standardError: Double) {
            let n = values.count
            let mean = values.reduce(0, +) / Double(max(1, n))
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, n - 1))
            return (mean, (variance / Double(max(1, n))).squareRoot())
        }

        /// Each sample's squared log-ratio of held-out prediction to measurement.
        func squaredErrors(_ measured: [Double]) -> [Double] { Self.squaredErrors(predicted, measured) }

        static func squaredErrors(_ predicted: [Double], _ measured: [Double]) -> [Double] {
            zip(predicted, measured).map { p, m in pow(log(max(p, 1e-9) / m), 2) }
        }
    }

    /// Leave-one-out up to 20 samples, else `options.folds`-fold; sample i is in fold i mod folds.
    func foldCount(_ n: Int) -> Int { n <= 20 ? n : min(options.folds, n) }

    /// Held-out predictions of the per-layer model at one λ.
    func crossValidate(_ samples: [CalibrationSample], lambda: Double) -> CrossValidation {
        let n = samples.count
        let folds = foldCount(n)
        var predicted = [Double](repeating: 0, count: n)
        for f in 0..<folds {
            let train = (0..<n).filter { $0 % folds != f }.map { samples[$0] }
            let (c, _) = fit(train, lambda: lambda)
            for i in 0..<n where i % folds == f { predicted[i] = samples[i].features.milliseconds(with: c) }
        }
        return CrossValidation(predicted: predicted, measured: samples.map(\.measuredMilliseconds))
    }

    func check(_ samples: [CalibrationSample]) throws(CalibrationError) {
        if samples.count < 2 { throw CalibrationError("need at least 2 measurements, got \(samples.count)") }
        for (i, s) in samples.enumerated() {
            let place = s.label.isEmpty ? "sample \(i + 1)" : s.label
            guard s.measuredMilliseconds.isFinite && s.measuredMilliseconds > 0 else {
                throw CalibrationError(place: place, "measured latency must be a positive number of milliseconds, got \(s.measuredMilliseconds)")
            }
            guard s.features.milliseconds() > 0 else {
                throw CalibrationError(place: place, "the network costs nothing on this target; it cannot calibrate the model")
            }
        }
    }
}
