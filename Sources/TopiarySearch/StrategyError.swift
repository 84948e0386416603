import TopiaryCore

/// What can go wrong when creating, restoring or feeding a strategy. Each message says what
/// to change.
public enum StrategyError: Error, Equatable, CustomStringConvertible {
    /// No strategy of that name.
    case unknownStrategy(String)
    /// An option the strategy does not have; `suggestion` is the closest known name.
    case unknownOption(strategy: String, option: String, known: [String])
    /// An option whose value does not parse or is out of range.
    case invalidOption(strategy: String, option: String, value: String, expected: String)
    /// Options text that is neither `key=value` nor a JSON object.
    case malformedOptions(String)
    case invalidObjective(String, String)
    /// The strategy cannot serve this problem (e.g. NSGA-II with one objective).
    case unsuitable(strategy: String, reason: String)
    /// `tell` or `report` named a trial the strategy never suggested (nor was restored with).
    case unknownTrial(TrialKey)
    /// A history lists the same candidate twice at one fidelity.
    case duplicateTrial(TrialKey)
    /// A history entry whose candidate is not in the search's space.
    case foreignCandidate(position: Int, candidateID: String)

    public var description: String {
        switch self {
        case .unknownStrategy(let s):
            return "unknown strategy '\(s)'; choose one of \(Strategies.names.joined(separator: ", "))"
        case let .unknownOption(strategy, option, known):
            let hint = closest(option, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            return "strategy '\(strategy)' has no option '\(option)'\(hint); its options are \(known.sorted().joined(separator: ", "))"
        case let .invalidOption(strategy, option, value, expected):
            return "strategy '\(strategy)': option \(option)=\(value) is invalid: expected \(expected)"
        case .malformedOptions(let text):
            return "strategy options '\(text)': write them as key=value (e.g. population=50) or as one JSON object"
        case let .invalidObjective(text, why):
            return "objective '\(text)': \(why)"
        case let .unsuitable(strategy, reason):
            return "strategy '\(strategy)' cannot run this search: \(reason)"
        case .unknownTrial(let key):
            return "trial \(key) was never suggested by this strategy; restore the strategy from the search's full history first"
        case .duplicateTrial(let key):
            return "trial \(key) appears twice in the history; a candidate is evaluated at most once per fidelity"
        case let .foreignCandidate(position, id):
            return "history entry \(position) (candidate \(id)) is not in the search's space; was the space file changed?"
        }
    }
}

/// The known name with the smallest edit distance to `name`, when it is close enough.
func closest(_ name: String, in known: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
    let a = Array(name)
    let best = known.map { ($0, distance(a, Array($0))) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
    guard let best, best.1 <= max(2, name.count / 3) else { return nil }
    return best.0
}
