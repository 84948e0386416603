import Foundation
import Logging
import TopiaryStore

/// The strategy's answer for a search: its recommendation, which for noisy evaluations can
/// differ from the best observed result (evolution ranks a candidate by more than one lucky
/// run). Rebuilt from the store like a restarted daemon rebuilds the strategy, so the CLI
/// can show it without a daemon.
public enum Recommendation {
    /// The candidate id the search's strategy recommends, or nil (nothing completed yet).
    public static func candidate(store: Store, search: Int64) throws -> String? {
        guard let record = try store.search(search) else { return nil }
        let quiet = Logger(label: "topiary.recommendation", factory: { _ in SwiftLogNoOpLogHandler() })
        let runtime = try Recovery(store: store, logger: quiet).load(record)
        return runtime.strategy.recommendation(count: 1).first?.candidate.id
    }
}
