import Foundation
import Logging
import TopiarySearch
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

/// A live search's answer for control replies (`search show`, `search list`), which run on
/// the loop's thread: a noise-aware answer fits a Gaussian process to up to 400 trials
/// (up to a second in a debug build), so it is recomputed only when the history has grown
/// and at most once per max(2 s, 20 × its last cost) — the loop spends at most about 5% of
/// its time on it, and a polled answer may lag a few results behind.
final class RecommendationMemo: @unchecked Sendable {  // used on the loop's thread only
    private var trials = -1
    private var answer: String?
    private var computedAt = Date.distantPast
    private var cost: TimeInterval = 0

    func candidate(_ strategy: any SearchStrategy) -> String? {
        let n = strategy.history.count
        let now = Date()
        if n == trials || (trials >= 0 && now.timeIntervalSince(computedAt) < max(2, 20 * cost)) { return answer }
        answer = strategy.recommendation(count: 1).first?.candidate.id
        cost = Date().timeIntervalSince(now)
        computedAt = Date()
        trials = n
        return answer
    }
}
