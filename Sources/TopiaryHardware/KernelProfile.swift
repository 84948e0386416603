import Foundation
import TopiaryCore

/// What a kernel sweep measured on one device and runtime (`topiary target profile`,
/// saved as `NAME.kernels.csv` beside the target), and the per-kernel predictors fitted
/// on it: a network is predicted as the runtime's fixed cost per inference plus the sum
/// of its kernels (nn-Meter's approach).
///
/// A kernel the sweep measured is looked up by signature. Any other kernel is predicted
/// by its family's predictor (same operations and precision, other sizes): a straight
/// line through MACs, elements moved and weights (non-negative, fitted in relative
/// error), times the mean log-ratio of the measured-to-line times of its three nearest
/// measured neighbours (in log sizes) — the line extrapolates, the neighbours carry
/// what a line cannot (vector-width effects, cache sizes). A family with fewer than
/// three measured kernels borrows the line of its kind at that precision.
public struct KernelProfile: Sendable {
    public struct Row: Sendable, Equatable {
        public var signature: String
        public var family: String
        public var kind: OperationKind
        public var precision: String
        public var features: [Double]
        /// The kernel's own time: its measurement less the runtime's fixed cost.
        public var milliseconds: Double
    }

    /// The runtime's fixed cost of one inference (the sweep's empty kernel).
    public var overheadMilliseconds: Double
    public var rows: [Row]
    /// Free text from the sweep: runtime, threads, date.
    public var runtime: String
    /// Fusion probes' times (less the fixed cost), by signature (`KernelSweep.probes`).
    public var probes: [String: Double] = [:]
    var exact: [String: Double] = [:]
    var families: [String: Predictor] = [:]
    var kinds: [String: Predictor] = [:]

    public init(rows: [Row], overheadMilliseconds: Double, runtime: String = "") {
        self.rows = rows
        self.overheadMilliseconds = overheadMilliseconds
        self.runtime = runtime
        var byFamily: [String: [Row]] = [:], byKind: [String: [Row]] = [:]
        for r in rows {
            if r.signature.hasPrefix("probe:") { probes[r.signature] = r.milliseconds; continue }
            exact[r.signature] = r.milliseconds
            byFamily[r.family, default: []].append(r)
            byKind["\(r.kind.rawValue)|\(r.precision)", default: []].append(r)
        }
        fusion = Self.fusion(probes)
        for (f, rs) in byFamily where rs.count >= 3 { families[f] = Predictor(rs) }
        for (k, rs) in byKind where rs.count >= 2 { kinds[k] = Predictor(rs) }
    }

    /// What the probes say the runtime fuses: for `add`, `relu` and `hswish` after a
    /// convolution, the share of the operator's own time that it still costs there
    /// (median over the probes; near 0: fused, near 1: run on its own). Nil without probes.
    public private(set) var fusion: [String: Double] = [:]

    static func fusion(_ probes: [String: Double]) -> [String: Double] {
        var out: [String: Double] = [:]
        for op in ["add", "relu", "hswish"] {
            var shares: [Double] = []
            for (sig, alone) in probes where sig.hasPrefix("probe:\(op)|") {
                let rest = sig.dropFirst("probe:\(op)".count)
                guard let conv = probes["probe:conv" + rest], let both = probes["probe:conv+\(op)" + rest], alone > 0 else { continue }
                shares.append(min(max((both - conv) / alone, 0), 1.5))
            }
            if !shares.isEmpty { out[op] = FitQuality.median(shares) }
        }
        return out
    }

    /// A kernel's predicted time, or nil when nothing measured resembles it.
    public func milliseconds(_ k: Kernel) -> Double? {
        if let t = exact[k.signature] { return t }
        if let p = families[k.family] { return p.predict(k.features) }
        return kinds["\(k.kind.rawValue)|\(k.precision)"]?.predict(k.features)
    }

    /// The network's predicted latency: the fixed cost plus its kernels; nil when a
    /// kernel cannot be predicted (its kind was not swept at this precision).
    public func milliseconds(_ graph: NetworkGraph, cost: CostReport) -> Double? {
        var total = overheadMilliseconds
        // A residual add straight after a convolution costs what the probes found it
        // costs there (an add the runtime fuses into the convolution costs almost nothing).
        let addShare = fusion["add"] ?? 1
        for (layer, k) in zip(cost.layers, KernelExtractor.kernels(of: graph, cost: cost)) {
            guard let k else { continue }
            guard var t = milliseconds(k) else { return nil }
            let first = graph.nodes[layer.nodes.lowerBound]
            if case .add = first.op, first.inputs.contains(where: { Self.endsConvolution(graph.nodes[$0].op) }) { t *= addShare }
            total += t
        }
        return total
    }

    static func endsConvolution(_ op: NetworkGraph.Op) -> Bool {
        switch op {
        case .conv, .batchNorm: return true
        default: return false
        }
    }

    /// A family's line and its measured points.
    struct Predictor: Sendable {
        var weights: [Double]
        var points: [(x: [Double], ratio: Double)]

        init(_ rows: [Row]) {
            // Relative-error non-negative fit of t ≈ a + Σ w·feature, columns scaled.
            let width = rows[0].features.count + 1
            var design = rows.map { r in ([1] + r.features).map { $0 / max(r.milliseconds, 1e-6) } }
            var scale = [Double](repeating: 1, count: width)
            for j in 0..<width {
                let m = design.reduce(0.0) { max($0, abs($1[j])) }
                scale[j] = m > 0 ? m : 1
                for i in design.indices { design[i][j] /= scale[j] }
            }
            let x = NNLS.solve(design, [Double](repeating: 1, count: rows.count)).x
            weights = (0..<width).map { x[$0] / scale[$0] }
            var pts: [(x: [Double], ratio: Double)] = []
            for r in rows {
                let line = Self.line(weights, r.features)
                pts.append((Self.position(r.features), log(max(r.milliseconds, 1e-6) / max(line, 1e-9))))
            }
            points = pts
        }

        static func line(_ w: [Double], _ f: [Double]) -> Double { zip(w, [1] + f).reduce(0) { $0 + $1.0 * $1.1 } }
        static func position(_ f: [Double]) -> [Double] { f.map { log1p($0) } }

        func predict(_ f: [Double]) -> Double {
            let base = max(Self.line(weights, f), 1e-6)
            let p = Self.position(f)
            let near = points.map { pt in (d: zip(pt.x, p).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, r: pt.ratio) }
                .sorted { $0.d < $1.d }.prefix(3)
            // Inverse-distance weights; a far neighbour says little, so the correction
            // fades toward the line as the nearest points move away.
            var num = 0.0, den = 0.0
            for n in near {
                let w = 1 / (n.d.squareRoot() + 0.1)
                num += w * n.r
                den += w
            }
            let fade = 1 / (1 + (near.first?.d ?? 0).squareRoot())
            return base * exp(den > 0 ? fade * num / den : 0)
        }
    }

    // MARK: - The file

    public static let header = ["signature", "family", "kind", "precision", "macs", "elements", "weights", "measured_ms", "runtime"]

    /// Reads a sweep's CSV: a header, one row per measured kernel, the row with signature
    /// `overhead` giving the fixed cost. Errors name `file:line`.
    public static func load(_ path: String) throws(CalibrationError) -> KernelProfile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CalibrationError(place: path, "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(CalibrationError) -> KernelProfile {
        let table = try CSVTable.parse(text, file: file)
        var idx: [String: Int] = [:]
        for h in header {
            guard let c = table.column(h) else {
                throw CalibrationError(place: file, "no '\(h)' column: a kernel sweep's file has \(header.joined(separator: ",")); run `topiary target profile` again")
            }
            idx[h] = c
        }
        var rows: [Row] = []
        var overhead: Double?
        var runtime = ""
        for r in table.rows {
            let place = "\(file):\(r.line)"
            func num(_ h: String) throws(CalibrationError) -> Double {
                let s = r.fields[idx[h]!].trimmingCharacters(in: .whitespaces)
                guard let v = Double(s), v.isFinite, v >= 0 else { throw CalibrationError(place: place, "\(h) '\(s)' is not a non-negative number") }
                return v
            }
            let ms = try num("measured_ms")
            guard ms > 0 else { throw CalibrationError(place: place, "measured_ms must be positive") }
            let sig = r.fields[idx["signature"]!]
            runtime = r.fields[idx["runtime"]!]
            if sig == "overhead" { overhead = ms; continue }
            guard let kind = OperationKind(rawValue: r.fields[idx["kind"]!]) else {
                throw CalibrationError(place: place, "kind '\(r.fields[idx["kind"]!])' is not one of \(OperationKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rows.append(Row(signature: sig, family: r.fields[idx["family"]!], kind: kind, precision: r.fields[idx["precision"]!],
                            features: [try num("macs"), try num("elements"), try num("weights")], milliseconds: ms))
        }
        guard let overhead else { throw CalibrationError(place: file, "no 'overhead' row (the empty kernel): the sweep did not finish its first measurement; run it again") }
        guard !rows.isEmpty else { throw CalibrationError(place: file, "no kernels measured; run `topiary target profile` again") }
        for i in rows.indices { rows[i].milliseconds = max(rows[i].milliseconds - overhead, 0.05 * rows[i].milliseconds) }
        return KernelProfile(rows: rows, overheadMilliseconds: overhead, runtime: runtime)
    }

    /// The file's line for a measured kernel (or the `overhead` row when `kernel` is nil).
    public static func line(_ kernel: Kernel?, measuredMilliseconds: Double, runtime: String) -> String {
        func q(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        guard let k = kernel else { return ["overhead", "", "", "", "0", "0", "0", String(measuredMilliseconds), q(runtime)].joined(separator: ",") }
        return [q(k.signature), q(k.family), k.kind.rawValue, k.precision, String(Int(k.macs)), String(Int(k.inputElements + k.outputElements)),
                String(Int(k.weights)), String(measuredMilliseconds), q(runtime)].joined(separator: ",")
    }

    /// Where a target's sweep is saved: `NAME.kernels.csv` beside its profile.
    public static func path(for target: String, dir: String) -> String {
        (dir as NSString).appendingPathComponent("\(target).kernels.csv")
    }
}

extension KernelProfile: Equatable {
    /// Two profiles are equal when they hold the same measurements (the predictors follow).
    public static func == (a: KernelProfile, b: KernelProfile) -> Bool {
        a.rows == b.rows && a.overheadMilliseconds == b.overheadMilliseconds && a.runtime == b.runtime
    }
}
