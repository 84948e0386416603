/// What the simple latency fits see of a network: its multiply-accumulates, the bytes
/// its layers read and write, and how many layers of each kind it has. Whole-network
/// counts, independent of any target's profile, so that a straight line through them
/// is the baseline every per-layer model must beat (and the fallback where it does not).
public struct NetworkSummary: Sendable, Equatable {
    /// Multiply-accumulates of the (compressed) network, as the cost report counts them.
    public var macs: Double
    /// Bytes read and written by its layers: activations in and out, and the weights.
    public var bytes: Double
    /// Fused layers of each kind.
    public var layers: [OperationKind: Int]
    /// Multiply-accumulates and bytes moved by the layers of each kind.
    public var kindMACs: [OperationKind: Double] = [:]
    public var kindBytes: [OperationKind: Double] = [:]
    /// Precision of the network as the target runs it (its widest layer).
    public var precision: Precision = .fp32
    /// The sum of its kernels as a kernel sweep measured them (`KernelProfile`), when the
    /// model has one.
    public var kernelMilliseconds: Double?

    public init(macs: Double = 0, bytes: Double = 0, layers: [OperationKind: Int] = [:]) {
        self.macs = macs
        self.bytes = bytes
        self.layers = layers
    }

    /// Sums the model's per-layer report.
    public init(layers report: [LayerLatency]) {
        self.init()
        for l in report {
            macs += Double(l.macs)
            bytes += Double(l.bytes)
            layers[l.kind, default: 0] += 1
            kindMACs[l.kind, default: 0] += Double(l.macs)
            kindBytes[l.kind, default: 0] += Double(l.bytes)
            precision = max(precision, l.precision)
        }
    }
}
