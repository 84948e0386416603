import TopiaryCore

/// A hardware target's profile: what it can compute and how fast, how much memory it
/// has, and what it draws. Loaded from `SearchSpaces/targets/NAME.yaml`
/// (`HardwareTarget.load(path:)`); numbers come from published specifications and are
/// refined for a real device by calibration (`Calibrator`).
public struct HardwareTarget: Sendable, Equatable {
    /// The broad class of device; informational (the latency model uses the numbers).
    public enum Kind: String, Sendable, CaseIterable {
        case cpu, gpu, npu, mcu
    }

    public var name: String
    public var description: String
    public var kind: Kind
    /// Peak throughput in giga-operations per second for each precision the target
    /// computes in (one multiply-accumulate is two operations). A precision that is
    /// absent is not supported: a layer that needs it runs at the next wider precision,
    /// or not at all when there is none.
    public var peakGOPS: [Precision: Double]
    /// Share of the peak that each kind of operation reaches in practice (0...1].
    public var efficiency: [OperationKind: Double]
    public var memory: Memory
    public var overhead: Overhead
    public var sparsity: Sparsity
    public var power: Power
    /// Channels per block when the runtime computes convolutions in a blocked data layout
    /// (NCHWc: ONNX Runtime's NCHWc kernels, oneDNN's nChw16c), else `nil`. Convolutions
    /// then pad their output channels to a whole block, and tensors are converted between
    /// the plain and the blocked layout where a layer cannot take the blocked one.
    public var blockChannels: Int?
    /// Channels the runtime's fast convolution kernels work in (its vector width): a
    /// depthwise convolution whose channels, or a dense k x k convolution whose input
    /// channels, are not a multiple of it runs a generic kernel at `genericEfficiency`
    /// times the usual efficiency. `nil`: no such distinction.
    public var vectorChannels: Int?
    public var genericEfficiency: Double = 1
    /// A generic float depthwise convolution copies its input one output row per kernel
    /// tap (im2col, then a small GEMM per channel): each such row costs as much as this
    /// many more input elements, so narrow tensors cost more per MAC (ONNX Runtime: about
    /// 20). 0: the work is the MACs alone.
    public var genericRowElements: Double = 0
    /// The efficiency, relative to the blocked kernel's, of a float 1x1 convolution whose
    /// input channels are fewer than a block, read in the plain layout (`nil`: the same).
    public var plainInputEfficiency: Double?
    /// The precisions whose kernels use the blocked layout, or `nil` for all (ONNX
    /// Runtime's NCHWc kernels are float only; its quantized kernels work in the plain
    /// layout and need no reorders).
    public var layoutPrecisions: Set<Precision>?

    /// Whether layers at `precision` use the blocked layout of `blockChannels`.
    public func usesLayout(_ precision: Precision) -> Bool { layoutPrecisions?.contains(precision) ?? true }
    /// Activation functions that the runtime's integer kernels cannot apply: in a network
    /// that runs quantized, each runs in float between a dequantize and a quantize
    /// operator (ONNX Runtime's QDQ graphs keep them for hard-swish, sigmoid, ...), and the
    /// network's float input and output are quantized and dequantized too. `nil`: the
    /// target runs quantized networks end to end in integers (no conversions modelled).
    public var floatActivations: Set<Activation>?
    /// The precision the target's runtime runs wider networks at (`float_runs_as`): a GPU
    /// delegate that computes float models at fp16, or an NPU/VPU toolchain that converts
    /// float models to int8. Without it, a network wider than every precision does not fit.
    public var floatRunsAs: Precision?
    /// Shares of the peak that operation kinds reach at integer precisions, where they
    /// differ from `efficiency` (a depthwise convolution has no channel reduction for
    /// dot-product instructions to speed up).
    public var quantizedEfficiency: [OperationKind: Double] = [:]
    /// `genericEfficiency` of the integer kernels, where it differs.
    public var quantizedGenericEfficiency: Double?
    /// The channel counts the runtime's fast integer convolution kernels take, where they
    /// differ from the float kernels' `vectorChannels`: any other shape, a 1x1
    /// convolution included, runs the generic integer path (`nil`: the float rule).
    public var quantizedKernelChannels: QuantizedKernelChannels?
    /// Whether the integer kernels work channels-last while the network is channels-first:
    /// a quantized network is transposed on the way in and on the way out (ONNX Runtime's
    /// QLinearConv region: a Transpose after the input's QuantizeLinear and one before the
    /// first float or pooling operator of the head).
    public var quantizedChannelsLast = false
    /// What the generic integer path costs beyond its multiply-adds (`nil`: nothing).
    public var quantizedGenericCosts: QuantizedGenericCosts?

    /// The generic integer path of a runtime like ONNX Runtime's QLinearConv, whose cost
    /// is mostly not multiply-adds: a dense convolution packs each output position's
    /// im2col row for a u8 x s8 GEMM and requantizes its output in a separate pass; the
    /// generic depthwise kernel steps through the channels `depthwiseLanes` at a time,
    /// then one by one, at every output position and kernel tap. Each cost is counted in
    /// multiply-adds of the kernel it belongs to, so calibration scales it with them.
    /// With these costs a generic dense convolution's multiply-adds run at the pointwise
    /// (GEMM) efficiency, whatever its kernel size.
    public struct QuantizedGenericCosts: Sendable, Hashable {
        /// Dense: per output position (packing its GEMM row, setting it up).
        public var positionMACs: Double
        /// Dense: per element of a position's im2col row, for kernels larger than 1x1.
        public var im2colMACs: Double
        /// Dense: per output element (the separate requantization).
        public var outputMACs: Double
        /// Depthwise: channels per vector step.
        public var depthwiseLanes: Int
        /// Depthwise: per channel left over after the vector steps, per position and tap.
        public var depthwiseRemainderMACs: Double
        /// Depthwise: per output position and tap (its indirection).
        public var depthwiseTapMACs: Double
        /// Depthwise: per output element (requantization).
        public var depthwiseOutputMACs: Double

        public init(positionMACs: Double, im2colMACs: Double, outputMACs: Double, depthwiseLanes: Int, depthwiseRemainderMACs: Double,
                    depthwiseTapMACs: Double, depthwiseOutputMACs: Double) {
            self.positionMACs = positionMACs; self.im2colMACs = im2colMACs; self.outputMACs = outputMACs
            self.depthwiseLanes = depthwiseLanes; self.depthwiseRemainderMACs = depthwiseRemainderMACs
            self.depthwiseTapMACs = depthwiseTapMACs; self.depthwiseOutputMACs = depthwiseOutputMACs
        }

        /// The work, in multiply-adds, of a convolution on the generic path: `macs` for a
        /// dense one plus its per-position costs, or the depthwise kernel's steps.
        public func work(macs: Double, conv: NetworkGraph.Conv, outHeight: Int, outWidth: Int) -> Double {
            let positions = Double(outHeight * outWidth), taps = Double(conv.kernel * conv.kernel)
            if conv.groups > 1 {
                let c = conv.inChannels, lanes = max(1, depthwiseLanes)
                let steps = Double(c / lanes * lanes) + depthwiseRemainderMACs * Double(c % lanes) + depthwiseTapMACs
                return positions * (taps * steps + depthwiseOutputMACs * Double(conv.outChannels))
            }
            let im2col = conv.kernel > 1 ? im2colMACs * taps * Double(conv.inChannels) : 0
            return macs + positions * (positionMACs + im2col + outputMACs * Double(conv.outChannels))
        }
    }

    /// ONNX Runtime's symmetric int8 convolution (MLAS ConvSym) takes a dense
    /// convolution whose input channels are a multiple of `input`, whose output channels
    /// are a multiple of `output` and at least `minOutput`, and a depthwise convolution
    /// whose channels are a multiple of `depthwise`; other convolutions go through
    /// im2col and a general integer GEMM, or a generic depthwise kernel, and requantize
    /// separately.
    public struct QuantizedKernelChannels: Sendable, Hashable {
        public var input: Int
        public var output: Int
        public var minOutput: Int
        public var depthwise: Int
        public init(input: Int, output: Int, minOutput: Int, depthwise: Int) {
            self.input = input; self.output = output; self.minOutput = minOutput; self.depthwise = depthwise
        }
        /// Whether a convolution of these channels and groups runs the fast kernel.
        public func fast(inChannels: Int, outChannels: Int, groups: Int) -> Bool {
            if groups > 1 { return groups == inChannels && inChannels == outChannels && inChannels % depthwise == 0 }
            return inChannels % input == 0 && outChannels % output == 0 && outChannels >= minOutput
        }
    }

    /// The share of the peak that `kind` reaches at `precision`.
    public func efficiency(_ kind: OperationKind, _ precision: Precision) -> Double {
        precision.isInteger ? quantizedEfficiency[kind] ?? efficiency[kind]! : efficiency[kind]!
    }

    /// Memory bandwidths and capacities. Capacities that are `nil` are not checked.
    public struct Memory: Sendable, Equatable {
        /// Main-memory (DRAM) bandwidth in GB/s.
        public var bandwidthGBs: Double
        /// Bytes of on-chip cache or SRAM that serve a layer whose working set fits.
        public var cacheBytes: Int?
        /// Bandwidth of that cache in GB/s.
        public var cacheBandwidthGBs: Double?
        /// Memory for weights and activations together at run time (DRAM).
        public var capacityBytes: Int?
        /// Non-volatile storage that must hold the weights (a microcontroller's flash).
        public var weightStorageBytes: Int?
        /// Memory that must hold the peak activations (a microcontroller's SRAM).
        public var activationBytes: Int?
        /// On-chip memory that caches weights (an accelerator's SRAM); weights beyond it
        /// are streamed in at `weightStreamGBs` on every inference.
        public var weightCacheBytes: Int?
        public var weightStreamGBs: Double?
        /// Whether a layer's memory traffic overlaps its computation (the layer takes the
        /// larger of the two, as on a GPU or a multi-threaded CPU that prefetches) or not
        /// (it takes their sum: one core running small kernels waits for its loads).
        public var overlap: Bool = true

        public init(bandwidthGBs: Double, cacheBytes: Int? = nil, cacheBandwidthGBs: Double? = nil, capacityBytes: Int? = nil,
                    weightStorageBytes: Int? = nil, activationBytes: Int? = nil, weightCacheBytes: Int? = nil, weightStreamGBs: Double? = nil) {
            self.bandwidthGBs = bandwidthGBs
            self.cacheBytes = cacheBytes
            self.cacheBandwidthGBs = cacheBandwidthGBs
            self.capacityBytes = capacityBytes
            self.weightStorageBytes = weightStorageBytes
            self.activationBytes = activationBytes
            self.weightCacheBytes = weightCacheBytes
            self.weightStreamGBs = weightStreamGBs
        }
    }

    /// Fixed costs in microseconds: per layer (a kernel launch or operator dispatch)
    /// and per inference (invoking the runtime).
    public struct Overhead: Sendable, Equatable {
        public var layerMicroseconds: Double
        public var inferenceMicroseconds: Double
        /// Per layer with weights that runs at an integer precision, when it differs from
        /// `layerMicroseconds`: a quantized convolution or GEMM also loads its scales and
        /// zero points and sets up the requantization of its output.
        public var quantizedLayerMicroseconds: Double?

        /// The fixed cost of a layer that runs at `precision`: `quantizedLayerMicroseconds`
        /// for an integer layer with weights (a QLinearConv or QGemm reads per-channel
        /// scales and sets up its requantization), `weightlessLayerMicroseconds` for one
        /// without weights, else `layerMicroseconds`.
        public func layerMicroseconds(_ precision: Precision, weights: Bool = true) -> Double {
            guard weights else { return weightlessMicroseconds }
            return precision.isInteger ? quantizedLayerMicroseconds ?? layerMicroseconds : layerMicroseconds
        }
        /// The fixed cost of an operator without weights, or of a conversion.
        public var weightlessMicroseconds: Double { weightlessLayerMicroseconds ?? layerMicroseconds }
        /// Per operator without weights (pooling, adds, multiplies, layout and quantize
        /// conversions), when it differs from `layerMicroseconds`: nothing to look up or
        /// partition, a single pass over a tensor.
        public var weightlessLayerMicroseconds: Double?

        public init(layerMicroseconds: Double, inferenceMicroseconds: Double) {
            self.layerMicroseconds = layerMicroseconds
            self.inferenceMicroseconds = inferenceMicroseconds
        }
    }

    /// Whether the target has kernels that skip zero weights of unstructured
    /// (magnitude) pruning, and what share of the skipped work they turn into time saved.
    public struct Sparsity: Sendable, Equatable {
        public var unstructured: Bool
        public var efficiency: Double

        public init(unstructured: Bool, efficiency: Double = 0) {
            self.unstructured = unstructured
            self.efficiency = efficiency
        }
    }

    /// Power draw in watts while computing and while idle; energy is active power times
    /// time (millijoules = watts x milliseconds).
    public struct Power: Sendable, Equatable {
        public var activeWatts: Double
        public var idleWatts: Double

        public init(activeWatts: Double, idleWatts: Double) {
            self.activeWatts = activeWatts
            self.idleWatts = idleWatts
        }
    }

    public init(name: String, description: String = "", kind: Kind, peakGOPS: [Precision: Double], efficiency: [OperationKind: Double],
                memory: Memory, overhead: Overhead, sparsity: Sparsity = Sparsity(unstructured: false), power: Power,
                blockChannels: Int? = nil, vectorChannels: Int? = nil, genericEfficiency: Double = 1,
                floatActivations: Set<Activation>? = nil, layoutPrecisions: Set<Precision>? = nil) {
        self.name = name
        self.description = description
        self.kind = kind
        self.peakGOPS = peakGOPS
        self.efficiency = efficiency
        self.memory = memory
        self.overhead = overhead
        self.sparsity = sparsity
        self.power = power
        self.blockChannels = blockChannels
        self.vectorChannels = vectorChannels
        self.genericEfficiency = genericEfficiency
        self.floatActivations = floatActivations
        self.layoutPrecisions = layoutPrecisions
    }

    /// The precisions the target computes in, narrowest first.
    public var precisions: [Precision] { peakGOPS.keys.sorted() }

    /// The precision a layer runs at: the narrowest supported precision at least as wide
    /// as both its weights and its activations, or `nil` when the target has none that
    /// wide (an int8-only accelerator given a float model). Weights narrower than the
    /// activations gain nothing: they are widened on load.
    /// A target with `floatRunsAs` runs anything wider than that precision at it.
    public func executionPrecision(weightBits: Int, activationBits: Int) -> Precision? {
        let needed = max(weightBits, activationBits)
        if let f = floatRunsAs, needed > f.bits { return f }
        return precisions.first { $0.bits >= needed }
    }
}
