import TopiaryCore
import TopiaryWire

/// What `search start` warns about: settings that run, but spend the budget in a way the
/// user would likely not choose. Returned with the reply and logged; nothing is refused.
enum StartWarnings {
    /// The warning for a search about to start with `strategy` (auto's choice resolved), or
    /// nil; several are joined with "; ".
    static func warning(_ r: StartSearchRequest, space: SearchSpace, strategy: String, trainer: String) -> String? {
        guard strategy == "asha" else { return nil }
        var out: [String] = []
        if trainer == "table" && space.benchmark != nil {
            // The table answers the same at every fidelity: ASHA's promotions buy nothing.
            out.append("the table trainer answers the same at every fidelity: ASHA re-runs promoted candidates for the same figures "
                       + "(about a quarter of the budget); tpe or evolution use all of it")
        }
        if r.strategyOptions["mode"] == "stop" && trainer != "table" && cutsAfterTraining(space) && !fromScratch(r.fidelity) {
            // Measured: a low-rank 0.25 candidate at 88.0% after 9 epochs ended at 53.3% once
            // factorized and fine-tuned one epoch, so the early stops ranked the wrong network.
            out.append("ASHA in stop mode judges trials by their accuracy after each epoch, which is the uncompressed network's "
                       + "while channel-pruned or low-rank candidates are cut from it only after training; "
                       + "add --fidelity from_scratch=1 to train the compressed architecture from the start")
        }
        return out.isEmpty ? nil : out.joined(separator: "; ")
    }

    /// Whether some candidate of the space is channel-pruned or factorized after training.
    static func cutsAfterTraining(_ space: SearchSpace) -> Bool {
        let channel = space.parameter(named: CompressionKeys.pruningMethod)?.choices.contains { $0.stringValue == "channel" } ?? false
        let lowRank = space.parameter(named: CompressionKeys.rankRatio)?.choices.contains { ($0.doubleValue ?? 1) < 1 } ?? false
        return channel || lowRank
    }

    /// Whether the fidelity has the trainer train compressed architectures from the start
    /// (a number 1, as the trainer reads it; it refuses anything else).
    static func fromScratch(_ fidelity: [String: FidelityValue]) -> Bool {
        fidelity["from_scratch"]?.json.doubleValue == 1
    }
}
