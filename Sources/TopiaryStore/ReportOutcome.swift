/// What the store did with a worker's report (a result, a failure, a prune, a requeue).
///
/// Reports are keyed by (trial, attempt): a second report for the same attempt, or one for
/// an attempt the trial has moved past, is ignored and logged as an event, so each trial is
/// counted exactly once however often a worker repeats itself.
public enum ReportOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Stored: the trial moved to the state the report asked for.
    case recorded
    /// The trial was queued again on this attempt (worker lost, or a retryable failure).
    case requeued(attempt: Int)
    /// Ignored: the trial had already completed on this attempt.
    case duplicate
    /// Ignored: the report is for an older attempt than the trial's current one.
    case stale(currentAttempt: Int)
    /// Ignored: the trial had already ended in this state (e.g. cancelled while running).
    case late(TrialState)

    /// True when the store changed nothing.
    public var isIgnored: Bool {
        switch self {
        case .recorded, .requeued: return false
        case .duplicate, .stale, .late: return true
        }
    }

    public var description: String {
        switch self {
        case .recorded: return "recorded"
        case .requeued(let a): return "requeued as attempt \(a)"
        case .duplicate: return "ignored: duplicate"
        case .stale(let a): return "ignored: stale attempt (trial is on attempt \(a))"
        case .late(let s): return "ignored: trial already \(s)"
        }
    }
}
