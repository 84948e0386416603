import Foundation
import GRDB
import TopiaryCore

extension Store {
    /// Starts a search (state `active`) and logs `search.created`.
    public func createSearch(_ new: NewSearch) throws -> SearchRecord {
        guard new.maxAttempts >= 1 else { throw StoreError.invalidValue(field: "maxAttempts", detail: "must be at least 1, got \(new.maxAttempts)") }
        if let b = new.budget, b < 0 { throw StoreError.invalidValue(field: "budget", detail: "must not be negative, got \(b)") }
        guard !new.target.isEmpty else { throw StoreError.invalidValue(field: "target", detail: "must not be empty") }
        return try write("creating a search") { db in
            let now = clock()
            var s = SearchRecord(
                id: nil, spaceName: new.space.name, spaceYAML: new.space.yamlText, spaceHash: new.space.hash,
                target: new.target, strategy: new.strategy, strategySettings: new.strategySettings.canonical,
                objectives: new.objectives, constraints: new.constraints.canonical, budget: new.budget,
                seed: Int64(bitPattern: new.seed), maxAttempts: new.maxAttempts, state: .active,
                createdAt: now, updatedAt: now)
            try s.insert(db)
            try appendEvent(db, kind: "search.created", message: "search of \(s.spaceName) for \(s.target) with \(s.strategy)",
                            search: s.id)
            logger.info("search created", metadata: ["search": "\(s.id ?? 0)", "space": "\(s.spaceName)", "target": "\(s.target)"])
            return s
        }
    }

    /// One search, or nil.
    public func search(_ id: Int64) throws -> SearchRecord? {
        try read("reading a search") { db in try SearchRecord.fetchOne(db, key: id) }
    }

    /// All searches, oldest first, optionally only those in one state.
    public func searches(state: SearchState? = nil) throws -> [SearchRecord] {
        try read("listing searches") { db in
            var request = SearchRecord.all().order(SearchRecord.CodingKeys.id)
            if let state { request = request.filter(SearchRecord.CodingKeys.state == state.rawValue) }
            return try request.fetchAll(db)
        }
    }

    /// Stops handing out the search's trials; running trials go on.
    @discardableResult
    public func pauseSearch(_ id: Int64) throws -> SearchRecord { try moveSearch(id, to: .paused).search }

    /// Hands out the search's queued trials again.
    @discardableResult
    public func resumeSearch(_ id: Int64) throws -> SearchRecord { try moveSearch(id, to: .active).search }

    /// Marks the search done (its budget is spent): queued trials are cancelled, running
    /// trials may still report.
    @discardableResult
    public func completeSearch(_ id: Int64) throws -> SearchRecord { try moveSearch(id, to: .completed).search }

    /// Cancels the search and all its queued and running trials. Returns the trials that
    /// were running, so the coordinator can tell their workers to stop.
    @discardableResult
    public func cancelSearch(_ id: Int64) throws -> [TrialRecord] { try moveSearch(id, to: .cancelled).stoppedRunning }

    func moveSearch(_ id: Int64, to next: SearchState) throws -> (search: SearchRecord, stoppedRunning: [TrialRecord]) {
        try write("changing the state of search \(id)") { db in
            guard var s = try SearchRecord.fetchOne(db, key: id) else { throw StoreError.noSuchSearch(id) }
            guard s.state.canMove(to: next) else { throw StoreError.illegalSearchTransition(search: id, from: s.state, to: next) }
            let previous = s.state
            let now = clock()
            s.state = next
            s.updatedAt = now
            try s.update(db)
            var stopped: [TrialRecord] = []
            var cancelledQueued = 0
            if next == .completed || next == .cancelled {
                let reason = "search \(next)"
                cancelledQueued = try TrialRecord
                    .filter(TrialRecord.CodingKeys.searchID == id && TrialRecord.CodingKeys.state == TrialState.queued.rawValue)
                    .updateAll(db, TrialRecord.CodingKeys.state.set(to: TrialState.cancelled.rawValue),
                               TrialRecord.CodingKeys.finishedAt.set(to: now.timeIntervalSince1970),
                               TrialRecord.CodingKeys.error.set(to: reason))
                if next == .cancelled {
                    stopped = try TrialRecord
                        .filter(TrialRecord.CodingKeys.searchID == id && TrialRecord.CodingKeys.state == TrialState.running.rawValue)
                        .fetchAll(db)
                    for var t in stopped {
                        t.state = .cancelled
                        t.finishedAt = now
                        t.error = reason
                        try t.update(db)
                    }
                }
            }
            var message = "\(previous) -> \(next)"
            if cancelledQueued > 0 || !stopped.isEmpty {
                message += "; cancelled \(cancelledQueued) queued and \(stopped.count) running trials"
            }
            try appendEvent(db, kind: "search.state", message: message, search: id)
            logger.info("search state changed", metadata: ["search": "\(id)", "from": "\(previous)", "to": "\(next)"])
            return (s, stopped)
        }
    }
}
