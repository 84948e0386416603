/// Where a search is in its life:
///
/// ```
/// active <-> paused;  active | paused -> completed | cancelled;  completed, cancelled: final
/// ```
/// Only trials of active searches are handed out.
public enum SearchState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case active, paused, completed, cancelled

    public var successors: [SearchState] {
        switch self {
        case .active: return [.paused, .completed, .cancelled]
        case .paused: return [.active, .completed, .cancelled]
        case .completed, .cancelled: return []
        }
    }

    public func canMove(to next: SearchState) -> Bool { successors.contains(next) }

    public var isFinal: Bool { successors.isEmpty }

    public var description: String { rawValue }
}
