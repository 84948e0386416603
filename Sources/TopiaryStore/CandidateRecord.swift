import Foundation
import GRDB
import TopiaryCore

/// A candidate (architecture + compression), stored once however many searches and trials
/// use it, with the cost figures of its compressed network and the compression settings
/// that leaderboard filters need as plain columns.
public struct CandidateRecord: StoreRecord, Equatable {
    /// `Candidate.id`: the first 16 hex digits of the SHA-256 of the canonical JSON.
    public var id: String
    public var spaceName: String
    /// `Candidate.canonicalJSON`: the candidate itself.
    public var canonicalJSON: String
    public var macs: Int
    public var params: Int
    /// Bytes of the stored, compressed model.
    public var sizeBytes: Int
    /// Largest total of activations alive at once, in bytes.
    public var peakActivationBytes: Int
    public var weightBits: Int
    public var activationBits: Int
    /// `none`, `magnitude` or `channel`.
    public var pruningMethod: String
    public var pruningRatio: Double
    /// A short human summary of the compression, e.g. `channel-prune 0.5, w8a8 qat`.
    public var compressionSummary: String
    /// When the store first saw the candidate; nil until it is stored.
    public var createdAt: Date?

    public static let databaseTableName = "candidates"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, macs, params
        case spaceName = "space_name", canonicalJSON = "canonical_json", sizeBytes = "size_bytes"
        case peakActivationBytes = "peak_activation_bytes", weightBits = "weight_bits"
        case activationBits = "activation_bits", pruningMethod = "pruning_method", pruningRatio = "pruning_ratio"
        case compressionSummary = "compression_summary", createdAt = "created_at"
    }

    /// Every field given; for figures that come from elsewhere (imports, tests).
    public init(id: String, spaceName: String, canonicalJSON: String, macs: Int, params: Int, sizeBytes: Int,
                peakActivationBytes: Int, weightBits: Int = 32, activationBits: Int = 32, pruningMethod: String = "none",
                pruningRatio: Double = 0, compressionSummary: String = "none") {
        self.id = id
        self.spaceName = spaceName
        self.canonicalJSON = canonicalJSON
        self.macs = macs
        self.params = params
        self.sizeBytes = sizeBytes
        self.peakActivationBytes = peakActivationBytes
        self.weightBits = weightBits
        self.activationBits = activationBits
        self.pruningMethod = pruningMethod
        self.pruningRatio = pruningRatio
        self.compressionSummary = compressionSummary
    }

    /// A candidate with the cost report of its compressed network.
    public init(_ candidate: Candidate, cost: CostReport) {
        let c = candidate.compression
        self.init(id: candidate.id, spaceName: candidate.space, canonicalJSON: candidate.canonicalJSON,
                  macs: cost.macs, params: cost.params, sizeBytes: cost.sizeBytes,
                  peakActivationBytes: cost.peakActivationBytes, weightBits: c.weightBits,
                  activationBits: c.activationBits, pruningMethod: c.pruning.rawValue,
                  pruningRatio: c.pruning == .none ? 0 : c.pruningRatio, compressionSummary: c.summary)
    }

    /// A candidate costed by building its compressed network in `space`.
    public init(_ candidate: Candidate, in space: SearchSpace) {
        self.init(candidate, cost: NetworkGraph.build(compressed: candidate, in: space).cost())
    }
}
