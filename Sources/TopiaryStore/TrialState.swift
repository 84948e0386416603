/// Where a trial is in its life. The store allows only these moves:
///
/// ```
/// queued  -> running | cancelled
/// running -> completed | failed | pruned | cancelled | queued (requeued, attempt + 1)
/// completed, failed, pruned, cancelled: final
/// ```
public enum TrialState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case queued, running, completed, failed, pruned, cancelled

    /// The states this one may move to.
    public var successors: [TrialState] {
        switch self {
        case .queued: return [.running, .cancelled]
        case .running: return [.completed, .failed, .pruned, .cancelled, .queued]
        case .completed, .failed, .pruned, .cancelled: return []
        }
    }

    public func canMove(to next: TrialState) -> Bool { successors.contains(next) }

    /// Completed, failed, pruned and cancelled trials never change again.
    public var isFinal: Bool { successors.isEmpty }

    public var description: String { rawValue }
}

/// What a trial does: train the candidate (accuracy) or time it on hardware (latency).
/// Which part of a search a trial belongs to: the search itself, or its final phase (the
/// finalists trained again at full fidelity, whose figures are final).
public enum TrialPhase: String, Codable, Sendable, CaseIterable {
    case search, final
}

public enum TrialKind: String, Codable, Sendable, CaseIterable {
    case train, measure
}
