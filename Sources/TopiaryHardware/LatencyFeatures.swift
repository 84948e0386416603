/// What one network costs a target, split into the terms of the latency model: per
/// layer, the compute parts, the memory-traffic part and the overhead, each in
/// milliseconds at coefficient 1; and the fixed per-inference parts.
///
/// This is what calibration fits on: `milliseconds(with:)` predicts for any
/// coefficients (each layer takes the larger of its scaled compute and memory times),
/// and `termTotals(with:)` gives the linear form of that prediction around the
/// coefficients (which terms bind in which layer).
public struct LatencyFeatures: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var compute: [TermTime]
        public var memory: TermTime
        public var overhead: TermTime
        /// Conversions of the layer's inputs between data layouts (fixed cost, traffic).
        public var layout: [TermTime] = []
        /// Conversions between integer and float tensors around the parts of a quantized
        /// layer that run in float (fixed cost, traffic).
        public var quantize: [TermTime] = []
        /// Whether compute and memory traffic overlap (the layer takes the larger of the
        /// two) or follow each other (it takes their sum): `HardwareTarget.Memory.overlap`.
        public var overlap: Bool = true

        public init(compute: [TermTime], memory: TermTime, overhead: TermTime, layout: [TermTime] = [], quantize: [TermTime] = [],
                    overlap: Bool = true) {
            self.compute = compute
            self.memory = memory
            self.overhead = overhead
            self.layout = layout
            self.quantize = quantize
            self.overlap = overlap
        }

        public func computeMilliseconds(_ c: Coefficients) -> Double {
            compute.reduce(0) { $0 + c[$1.term] * $1.milliseconds }
        }

        public func memoryMilliseconds(_ c: Coefficients) -> Double { c[memory.term] * memory.milliseconds }

        public func layoutMilliseconds(_ c: Coefficients) -> Double {
            layout.reduce(0) { $0 + c[$1.term] * $1.milliseconds }
        }

        public func quantizeMilliseconds(_ c: Coefficients) -> Double {
            quantize.reduce(0) { $0 + c[$1.term] * $1.milliseconds }
        }

        /// max(compute, memory) — or their sum without overlap — + overhead + layout and
        /// quantize conversions, with the coefficients applied.
        public func milliseconds(_ c: Coefficients) -> Double {
            let cm = computeMilliseconds(c), mm = memoryMilliseconds(c)
            return (overlap ? max(cm, mm) : cm + mm) + c[overhead.term] * overhead.milliseconds + layoutMilliseconds(c) + quantizeMilliseconds(c)
        }

        /// Whether compute (rather than memory traffic) bounds the layer; always true
        /// without overlap, where both count.
        public func isComputeBound(_ c: Coefficients) -> Bool { !overlap || computeMilliseconds(c) >= memoryMilliseconds(c) }
    }

    public var layers: [Layer]
    /// Per-inference parts: the fixed invocation cost and weights streamed in.
    public var fixed: [TermTime]
    /// Whole-network counts for the simple linear fits (`LinearLatencyFit`).
    public var summary: NetworkSummary

    public init(layers: [Layer], fixed: [TermTime], summary: NetworkSummary = NetworkSummary()) {
        self.layers = layers
        self.fixed = fixed
        self.summary = summary
    }

    /// The predicted latency with the given coefficients.
    public func milliseconds(with c: Coefficients = .identity) -> Double {
        layers.reduce(0) { $0 + $1.milliseconds(c) } + fixed.reduce(0) { $0 + c[$1.term] * $1.milliseconds }
    }

    /// Milliseconds per term at coefficient 1, counting each layer's compute terms where
    /// compute binds under `c` and its memory term where memory does (both where they do
    /// not overlap). Then
    /// `milliseconds(with: c) == Σ c[t] * termTotals(with: c)[t]`.
    public func termTotals(with c: Coefficients = .identity) -> [LatencyTerm: Double] {
        var out: [LatencyTerm: Double] = [:]
        for l in layers {
            if l.isComputeBound(c) {
                for t in l.compute { out[t.term, default: 0] += t.milliseconds }
            }
            if !l.overlap || !l.isComputeBound(c) {
                out[l.memory.term, default: 0] += l.memory.milliseconds
            }
            out[l.overhead.term, default: 0] += l.overhead.milliseconds
            for t in l.layout + l.quantize { out[t.term, default: 0] += t.milliseconds }
        }
        for t in fixed { out[t.term, default: 0] += t.milliseconds }
        return out
    }

    /// The same costs with every term's time multiplied by its coefficient in `c`: the
    /// features of a profile that already has `c` applied (a calibration used as the
    /// starting point of another).
    public func scaled(by c: Coefficients) -> LatencyFeatures {
        func s(_ t: TermTime) -> TermTime { TermTime(t.term, c[t.term] * t.milliseconds) }
        return LatencyFeatures(
            layers: layers.map { l in
                Layer(compute: l.compute.map(s), memory: s(l.memory), overhead: s(l.overhead), layout: l.layout.map(s),
                      quantize: l.quantize.map(s), overlap: l.overlap)
            },
            fixed: fixed.map(s), summary: summary)
    }

    /// Every term that appears, whether or not it binds.
    public var terms: Set<LatencyTerm> {
        var s = Set(fixed.map(\.term))
        for l in layers {
            for t in l.compute { s.insert(t.term) }
            s.insert(l.memory.term)
            s.insert(l.overhead.term)
            for t in l.layout + l.quantize { s.insert(t.term) }
        }
        return s
    }
}
