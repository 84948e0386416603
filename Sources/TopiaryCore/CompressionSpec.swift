/// Names of the compression parameters every space has (fixed or free).
public enum CompressionKeys {
    public static let pruningMethod = "pruning.method"
    public static let pruningRatio = "pruning.ratio"
    public static let weightBits = "quantization.weight_bits"
    public static let activationBits = "quantization.activation_bits"
    public static let quantMode = "quantization.mode"
    public static let quantGranularity = "quantization.granularity"
    public static let distillEnabled = "distillation.enabled"
    public static let distillTemperature = "distillation.temperature"
    public static let distillAlpha = "distillation.alpha"
    public static let rankRatio = "low_rank.rank_ratio"
    public static let clusters = "weight_sharing.clusters"

    public static let all: Set<String> = [pruningMethod, pruningRatio, weightBits, activationBits, quantMode,
                                          quantGranularity, distillEnabled, distillTemperature, distillAlpha, rankRatio, clusters]

}

/// The compression a candidate asks for, resolved from its choices and the space's fixed values.
public struct CompressionConfig: Hashable, Sendable {
    public enum PruningMethod: String, Sendable, CaseIterable { case none, magnitude, channel }
    public enum QuantMode: String, Sendable, CaseIterable { case ptq, qat }
    public enum Granularity: String, Sendable, CaseIterable {
        case perChannel = "per_channel"
        case perTensor = "per_tensor"
    }

    public var pruning: PruningMethod = .none
    /// Fraction of weights (magnitude) or channels (channel) removed.
    public var pruningRatio: Double = 0
    public var weightBits: Int = 32
    public var activationBits: Int = 32
    public var quantMode: QuantMode = .ptq
    public var granularity: Granularity = .perChannel
    public var distillation: Bool = false
    public var temperature: Double = 4
    public var alpha: Double = 0.5
    /// Fraction of a factorized layer's parameters kept; 1 means no factorization.
    public var rankRatio: Double = 1
    /// Weight-sharing clusters per layer; 0 means no sharing.
    public var clusters: Int = 0

    public init() {}

    public var isQuantized: Bool { weightBits <= 8 || activationBits <= 8 }

    /// The configuration as nested JSON, only the fields that take effect.
    public var json: JSONValue {
        var pruningObj: [(String, JSONValue)] = [("method", .string(pruning.rawValue))]
        if pruning != .none { pruningObj.append(("ratio", .double(pruningRatio))) }
        var quant: [(String, JSONValue)] = [("weight_bits", .int(weightBits)), ("activation_bits", .int(activationBits))]
        if isQuantized { quant.append(("mode", .string(quantMode.rawValue))) }
        if weightBits <= 8 { quant.append(("granularity", .string(granularity.rawValue))) }
        var kd: [(String, JSONValue)] = [("enabled", .bool(distillation))]
        if distillation { kd += [("temperature", .double(temperature)), ("alpha", .double(alpha))] }
        return .object([
            ("pruning", .object(pruningObj)),
            ("quantization", .object(quant)),
            ("distillation", .object(kd)),
            ("low_rank", .object([("rank_ratio", .double(rankRatio))])),
            ("weight_sharing", .object([("clusters", .int(clusters))])),
        ])
    }

    /// `json.canonical`, written directly: it is part of every candidate's identity.
    public var canonicalText: String {
        var pruningText = "{\"method\":\"\(pruning.rawValue)\""
        if pruning != .none { pruningText += ",\"ratio\":\(ChoiceValue.formatDouble(pruningRatio))" }
        var quant = "{\"activation_bits\":\(activationBits)"
        if weightBits <= 8 { quant += ",\"granularity\":\"\(granularity.rawValue)\"" }
        if isQuantized { quant += ",\"mode\":\"\(quantMode.rawValue)\"" }
        quant += ",\"weight_bits\":\(weightBits)}"
        var kd = "{"
        if distillation { kd += "\"alpha\":\(ChoiceValue.formatDouble(alpha)),\"enabled\":true,\"temperature\":\(ChoiceValue.formatDouble(temperature))}" } else { kd += "\"enabled\":false}" }
        return "{\"distillation\":\(kd),\"low_rank\":{\"rank_ratio\":\(ChoiceValue.formatDouble(rankRatio))},\"pruning\":\(pruningText)},"
            + "\"quantization\":\(quant),\"weight_sharing\":{\"clusters\":\(clusters)}}"
    }

    /// A short human summary, e.g. `channel-prune 0.5, int8 qat, kd`.
    public var summary: String {
        var parts: [String] = []
        if pruning == .magnitude { parts.append("sparse \(ChoiceValue.formatDouble(pruningRatio))") }
        if pruning == .channel { parts.append("channel-prune \(ChoiceValue.formatDouble(pruningRatio))") }
        if weightBits < 32 || activationBits < 32 {
            var q = "w\(weightBits)a\(activationBits)"
            if isQuantized { q += " " + quantMode.rawValue }
            parts.append(q)
        }
        if distillation { parts.append("kd T=\(ChoiceValue.formatDouble(temperature))") }
        if rankRatio < 1 { parts.append("low-rank \(ChoiceValue.formatDouble(rankRatio))") }
        if clusters > 0 { parts.append("share \(clusters)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
