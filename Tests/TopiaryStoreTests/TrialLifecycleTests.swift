import Foundation
import GRDB
import Testing
import TopiaryCore
@testable import TopiaryStore

@Suite struct TrialLifecycleTests {
    @Test func searchKeepsEveryFieldAndTheSpaceVerbatim() throws {
        let t = try TestStore()
        defer { t.remove() }
        var new = newSearch(seed: UInt64.max)
        new.budget = 250
        let s = try t.store.createSearch(new)
        let back = try #require(try t.store.search(s.id!))
        #expect(back == s)
        #expect(back.seedValue == UInt64.max)
        #expect(back.spaceYAML == fashionSpace.yamlText && back.spaceHash == fashionSpace.hash)
        #expect(back.objectives == ["accuracy:max", "latency:min"])
        #expect(back.strategySettings == #"{"population":8}"#)
        #expect(back.constraints == JSONValue.object([("max_latency_ms", .double(5))]).canonical)
        #expect(back.state == .active && back.budget == 250 && back.maxAttempts == 3)
        #expect(try t.store.events(search: s.id).map(\.kind) == ["search.created"])
        #expect(throws: StoreError.self) { try t.store.createSearch(newSearch(maxAttempts: 0)) }
    }

    @Test func candidatesAreStoredOnceAcrossSearchesWithTheirCosts() throws {
        let t = try TestStore()
        defer { t.remove() }
        let cands = realCandidates(3)
        let s1 = try t.store.createSearch(newSearch()), s2 = try t.store.createSearch(newSearch())
        _ = try t.store.enqueue(search: s1.id!, cands.map { TrialRequest(candidate: $0, fidelity: 1) })
        _ = try t.store.enqueue(search: s2.id!, [TrialRequest(candidate: cands[0], fidelity: 1), TrialRequest(candidate: cands[0], fidelity: 3)])
        #expect(try t.store.addCandidates(cands) == 0)
        let count = try t.store.pool.read { try CandidateRecord.fetchCount($0) }
        #expect(count == 3)
        let stored = try #require(try t.store.candidate(cands[0].id))
        var expected = cands[0]
        expected.createdAt = stored.createdAt
        #expect(stored == expected)
        // The figures are the cost model's, and the compression columns match the canonical JSON.
        let c = try fashionSpace.decode(json: stored.canonicalJSON)
        let cost = NetworkGraph.build(compressed: c, in: fashionSpace).cost()
        #expect(stored.sizeBytes == cost.sizeBytes && stored.peakActivationBytes == cost.peakActivationBytes)
        #expect(stored.weightBits == c.compression.weightBits && stored.pruningMethod == c.compression.pruning.rawValue)
        #expect(try t.store.trials(search: s2.id!).count == 2)
    }

    @Test func trialGoesQueuedRunningCompleted() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let trial = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(1), fidelity: 3)])[0]
        #expect(trial.state == .queued && trial.attempt == 1 && trial.workerID == nil)
        let running = try t.store.markRunning(trial: trial.trialID, attempt: 1, worker: "w7")
        #expect(running.state == .running && running.workerID == "w7" && running.startedAt != nil)
        let outcome = try t.store.recordResult(TrialResult(trial: trial.trialID, attempt: 1,
                                                           metrics: .object([("loss", .double(0.3)), ("accuracy", .double(0.91))])))
        #expect(outcome == .recorded)
        let done = try #require(try t.store.trial(trial.trialID))
        #expect(done.state == .completed && done.accuracy == 0.91 && done.metrics == #"{"accuracy":0.91,"loss":0.3}"#)
        #expect(done.finishedAt! > done.startedAt! && done.startedAt! > done.queuedAt)
        #expect(try t.store.trialCounts(search: s.id!) == [.completed: 1])
    }

    @Test func illegalTransitionsThrowNamingTheTrialAndStates() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let ts = try t.store.enqueue(search: s.id!, (0..<3).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        let q = ts[0].trialID
        let result = TrialResult(trial: q, attempt: 1, metrics: .object([("accuracy", .double(0.5))]))
        let e = #expect(throws: StoreError.illegalTransition(trial: q, from: .queued, to: .completed)) { try t.store.recordResult(result) }
        #expect(e?.description == "trial \(q): cannot go from queued to completed (allowed from queued: running, cancelled)")
        #expect(throws: StoreError.illegalTransition(trial: q, from: .queued, to: .failed)) {
            try t.store.recordFailure(trial: q, attempt: 1, error: "boom")
        }
        #expect(throws: StoreError.illegalTransition(trial: q, from: .queued, to: .pruned)) {
            try t.store.prune(trial: q, attempt: 1, reason: "slow")
        }
        #expect(throws: StoreError.illegalTransition(trial: q, from: .queued, to: .queued)) {
            try t.store.requeue(trial: q, attempt: 1, reason: "lease")
        }
        try t.store.markRunning(trial: q, attempt: 1, worker: "w1")
        #expect(throws: StoreError.illegalTransition(trial: q, from: .running, to: .running)) {
            try t.store.markRunning(trial: q, attempt: 1, worker: "w2")
        }
        try t.store.recordResult(result)
        #expect(throws: StoreError.illegalTransition(trial: q, from: .completed, to: .running)) {
            try t.store.markRunning(trial: q, attempt: 1, worker: "w1")
        }
        let e2 = #expect(throws: StoreError.illegalTransition(trial: q, from: .completed, to: .cancelled)) {
            try t.store.cancelTrial(q, reason: "no")
        }
        #expect(e2?.description.contains("none, completed is final") == true)
        // Cancelled and pruned are final too.
        let c = ts[1].trialID
        try t.store.cancelTrial(c, reason: "not needed")
        #expect(throws: StoreError.illegalTransition(trial: c, from: .cancelled, to: .running)) {
            try t.store.markRunning(trial: c, attempt: 1, worker: "w1")
        }
        let p = ts[2].trialID
        try t.store.markRunning(trial: p, attempt: 1, worker: "w1")
        #expect(try t.store.prune(trial: p, attempt: 1, reason: "below median at step 3") == .recorded)
        #expect(try t.store.trial(p)?.state == .pruned)
        #expect(try t.store.requeue(trial: p, attempt: 1, reason: "lease expired") == .late(.pruned))
        #expect(try t.store.trial(p)?.state == .pruned)
    }

    @Test func markRunningNeedsTheCurrentAttempt() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let q = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(1), fidelity: 1)])[0].trialID
        #expect(throws: StoreError.attemptMismatch(trial: q, expected: 1, got: 2)) { try t.store.markRunning(trial: q, attempt: 2, worker: "w") }
        #expect(throws: StoreError.noSuchTrial(999)) { try t.store.markRunning(trial: 999, attempt: 1, worker: "w") }
    }

    @Test func secondResultIsIgnoredLoggedAndNeverDoubleCounted() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let c = syntheticCandidate(1)
        let trial = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: c, fidelity: 1)])[0]
        #expect(try complete(t.store, trial, accuracy: 0.8) == .recorded)
        let again = TrialResult(trial: trial.trialID, attempt: 1, metrics: .object([("accuracy", .double(0.99))]))
        #expect(try t.store.recordResult(again) == .duplicate)
        #expect(try t.store.recordResults([again, again]) == [.duplicate, .duplicate])
        #expect(try t.store.trial(trial.trialID)?.accuracy == 0.8)
        #expect(try t.store.trialCounts(search: s.id!) == [.completed: 1])
        let board = try t.store.leaderboard(LeaderboardQuery())
        #expect(board.count == 1 && board[0].accuracy == 0.8)
        let logged = try t.store.events(trial: trial.trialID, kind: "result.duplicate")
        #expect(logged.count == 3)
        #expect(logged[0].message.contains("attempt 1"))
    }

    @Test func resultForAStaleAttemptIsIgnoredAndTheRetryCounts() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let trial = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(1), fidelity: 1)])[0]
        try t.store.markRunning(trial: trial.trialID, attempt: 1, worker: "lost")
        #expect(try t.store.requeue(trial: trial.trialID, attempt: 1, reason: "lease expired") == .requeued(attempt: 2))
        let late = TrialResult(trial: trial.trialID, attempt: 1, metrics: .object([("accuracy", .double(0.9))]))
        #expect(try t.store.recordResult(late) == .stale(currentAttempt: 2))
        #expect(try t.store.recordFailure(trial: trial.trialID, attempt: 1, error: "late") == .stale(currentAttempt: 2))
        let queued = try #require(try t.store.trial(trial.trialID))
        #expect(queued.state == .queued && queued.attempt == 2 && queued.metrics == nil && queued.workerID == nil)
        #expect(try t.store.leaderboard(LeaderboardQuery()).isEmpty)
        #expect(try t.store.events(trial: trial.trialID, kind: "result.stale").count == 2)

        let claimed = try t.store.claim(limit: 5, worker: "w2")
        #expect(claimed.map(\.trialID) == [trial.trialID] && claimed[0].attempt == 2 && claimed[0].state == .running)
        #expect(try t.store.recordResult(TrialResult(trial: trial.trialID, attempt: 2, metrics: .object([("accuracy", .double(0.7))]))) == .recorded)
        #expect(try t.store.leaderboard(LeaderboardQuery()).map(\.accuracy) == [0.7])
    }

    @Test func lostWorkerRequeuesUntilMaxAttemptsThenFails() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch(maxAttempts: 3))
        let trial = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(1), fidelity: 1)])[0]
        for attempt in 1...3 {
            let claimed = try t.store.claim(limit: 1, worker: "w\(attempt)")
            #expect(claimed.count == 1 && claimed[0].attempt == attempt)
            let summary = try t.store.requeueTrials(ofWorker: "w\(attempt)")
            if attempt < 3 {
                #expect(summary.requeued.map(\.attempt) == [attempt + 1] && summary.failed.isEmpty)
            } else {
                #expect(summary.requeued.isEmpty && summary.failed.count == 1)
                #expect(summary.failed[0].state == .failed)
                #expect(summary.failed[0].error?.contains("gave up after 3 of 3 attempts") == true)
            }
        }
        #expect(try t.store.claim(limit: 1, worker: "w4").isEmpty)
        #expect(try t.store.events(trial: trial.trialID).map(\.kind) == ["trial.requeued", "trial.requeued", "trial.failed"])
        #expect(try t.store.events(trial: trial.trialID, kind: "trial.requeued")[0].workerID == "w1")
    }

    @Test func daemonStartRequeuesEveryRunningTrialAndNothingElse() throws {
        let t = try TestStore()
        defer { t.remove() }
        let a = try t.store.createSearch(newSearch()), b = try t.store.createSearch(newSearch(maxAttempts: 1))
        let ta = try t.store.enqueue(search: a.id!, (0..<4).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        let tb = try t.store.enqueue(search: b.id!, (4..<6).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        try complete(t.store, ta[0], accuracy: 0.5)
        try t.store.markRunning(trial: ta[1].trialID, attempt: 1, worker: "w1")
        try t.store.markRunning(trial: ta[2].trialID, attempt: 1, worker: "w2")
        try t.store.markRunning(trial: tb[0].trialID, attempt: 1, worker: "w1")
        let summary = try t.store.requeueRunning()
        #expect(summary.requeued.map(\.trialID) == [ta[1].trialID, ta[2].trialID])
        #expect(summary.requeued.allSatisfy { $0.state == .queued && $0.attempt == 2 })
        #expect(summary.failed.map(\.trialID) == [tb[0].trialID])  // search b allows one attempt
        #expect(try t.store.trialCounts(search: a.id!) == [.completed: 1, .queued: 3])
        #expect(try t.store.trialCounts(search: b.id!) == [.failed: 1, .queued: 1])
        #expect(try t.store.trial(ta[3].trialID)?.attempt == 1)
        #expect(try t.store.requeueRunning() == RequeueSummary())
    }

    @Test func retryableFailureRetriesAndOtherFailuresEndTheTrial() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch(maxAttempts: 2))
        let ts = try t.store.enqueue(search: s.id!, (0..<2).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        try t.store.markRunning(trial: ts[0].trialID, attempt: 1, worker: "w")
        #expect(try t.store.recordFailure(trial: ts[0].trialID, attempt: 1, error: "CUDA OOM", retryable: true) == .requeued(attempt: 2))
        try t.store.markRunning(trial: ts[0].trialID, attempt: 2, worker: "w")
        #expect(try t.store.recordFailure(trial: ts[0].trialID, attempt: 2, error: "CUDA OOM", retryable: true) == .recorded)
        #expect(try t.store.trial(ts[0].trialID)?.state == .failed)
        try t.store.markRunning(trial: ts[1].trialID, attempt: 1, worker: "w")
        #expect(try t.store.recordFailure(trial: ts[1].trialID, attempt: 1, error: "trainer exited 1: bad config") == .recorded)
        let failed = try #require(try t.store.trial(ts[1].trialID))
        #expect(failed.state == .failed && failed.error == "trainer exited 1: bad config" && failed.attempt == 1)
        #expect(try t.store.recordFailure(trial: ts[1].trialID, attempt: 1, error: "again") == .late(.failed))
    }

    @Test func nextQueuedSharesFairlyAcrossActiveSearchesOnly() throws {
        let t = try TestStore()
        defer { t.remove() }
        let ids = try (0..<4).map { _ in try t.store.createSearch(newSearch()).id! }
        var n = 0
        var queued: [Int64: [Int64]] = [:]
        for s in ids {
            let ts = try t.store.enqueue(search: s, (0..<10).map { _ in n += 1; return TrialRequest(candidate: syntheticCandidate(n), fidelity: 1) })
            queued[s] = ts.map(\.trialID)
        }
        let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3])
        try t.store.completeSearch(d)
        _ = try t.store.markRunning(trial: queued[a]![0], attempt: 1, worker: "w")
        _ = try t.store.markRunning(trial: queued[a]![1], attempt: 1, worker: "w")
        // a has 2 running: b and c catch up first, then turns go round, oldest search first on ties.
        let next = try t.store.nextQueued(limit: 6)
        #expect(next.map(\.searchID) == [b, c, b, c, a, b])
        #expect(next.filter { $0.searchID == b }.map(\.trialID) == Array(queued[b]![0..<3]))
        #expect(next.filter { $0.searchID == a }.map(\.trialID) == [queued[a]![2]])
        #expect(try t.store.nextQueued(limit: 6) == next, "nextQueued only reads")

        try t.store.pauseSearch(b)
        #expect(Set(try t.store.nextQueued(limit: 20).map(\.searchID)) == [a, c])
        try t.store.resumeSearch(b)
        let claimed = try t.store.claim(limit: 3, worker: "w9")
        #expect(claimed.map(\.searchID) == [b, c, b] && claimed.allSatisfy { $0.state == .running && $0.workerID == "w9" })
        #expect(try t.store.trialCounts(search: b) == [.running: 2, .queued: 8])
        #expect(try t.store.nextQueued(limit: 0).isEmpty)
    }

    @Test func cancellingASearchStopsItsTrialsAndLateResultsAreIgnored() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let ts = try t.store.enqueue(search: s.id!, (0..<3).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        try complete(t.store, ts[0], accuracy: 0.6)
        try t.store.markRunning(trial: ts[1].trialID, attempt: 1, worker: "w1")
        let stopped = try t.store.cancelSearch(s.id!)
        #expect(stopped.map(\.trialID) == [ts[1].trialID] && stopped[0].workerID == "w1")
        #expect(try t.store.trialCounts(search: s.id!) == [.completed: 1, .cancelled: 2])
        let late = TrialResult(trial: ts[1].trialID, attempt: 1, metrics: .object([("accuracy", .double(0.99))]))
        #expect(try t.store.recordResult(late) == .late(.cancelled))
        #expect(try t.store.leaderboard(LeaderboardQuery()).map(\.accuracy) == [0.6])
        #expect(try t.store.events(search: s.id!, kind: "result.late").count == 1)
        #expect(throws: StoreError.illegalSearchTransition(search: s.id!, from: .cancelled, to: .active)) { try t.store.resumeSearch(s.id!) }
        #expect(throws: StoreError.searchNotOpen(search: s.id!, state: .cancelled)) {
            try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(9), fidelity: 1)])
        }
        #expect(throws: StoreError.noSuchSearch(77)) { try t.store.pauseSearch(77) }
    }

    @Test func completingASearchCancelsQueuedTrialsButKeepsRunningOnes() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let ts = try t.store.enqueue(search: s.id!, (0..<3).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        try t.store.markRunning(trial: ts[0].trialID, attempt: 1, worker: "w1")
        try t.store.completeSearch(s.id!)
        #expect(try t.store.trialCounts(search: s.id!) == [.running: 1, .cancelled: 2])
        #expect(try t.store.recordResult(TrialResult(trial: ts[0].trialID, attempt: 1, metrics: .object([("accuracy", .double(0.7))]))) == .recorded)
        #expect(try t.store.search(s.id!)?.state == .completed)
        #expect(try t.store.events(search: s.id!, kind: "search.state").map(\.message) == ["active -> completed; cancelled 2 queued and 0 running trials"])
    }

    @Test func progressIsKeptPerAttemptAndStepAndLateProgressIsDropped() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let q = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(1), fidelity: 3)])[0].trialID
        func report(_ attempt: Int, _ step: Int, _ acc: Double) -> TrialProgress {
            TrialProgress(trial: q, attempt: attempt, step: step, metrics: .object([("accuracy", .double(acc))]))
        }
        #expect(try t.store.recordProgress([report(1, 1, 0.1)]) == 0, "queued trials take no progress")
        try t.store.markRunning(trial: q, attempt: 1, worker: "w")
        #expect(try t.store.recordProgress([report(1, 1, 0.4), report(1, 2, 0.5), report(1, 2, 0.55)]) == 3)
        try t.store.requeue(trial: q, attempt: 1, reason: "lost")
        try t.store.markRunning(trial: q, attempt: 2, worker: "w")
        #expect(try t.store.recordProgress([report(1, 3, 0.6), report(2, 1, 0.45)]) == 1)
        let rows = try t.store.progress(trial: q)
        #expect(rows.map { [$0.attempt, $0.step] } == [[1, 1], [1, 2], [2, 1]])
        #expect(rows[1].metrics == #"{"accuracy":0.55}"#)
        #expect(throws: StoreError.self) { try t.store.recordProgress([TrialProgress(trial: q, attempt: 2, step: 2, metrics: .int(3))]) }
    }

    @Test func malformedResultsAreRejectedBeforeAnythingIsStored() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch())
        let ts = try t.store.enqueue(search: s.id!, (0..<2).map { TrialRequest(candidate: syntheticCandidate($0), fidelity: 1) })
        for tr in ts { try t.store.markRunning(trial: tr.trialID, attempt: 1, worker: "w") }
        let good = TrialResult(trial: ts[0].trialID, attempt: 1, metrics: .object([("accuracy", .double(0.5))]))
        let bad = TrialResult(trial: ts[1].trialID, attempt: 1, metrics: .object([("accuracy", .string("high"))]))
        let e = #expect(throws: StoreError.self) { try t.store.recordResults([good, bad]) }
        #expect(e?.description.contains("metrics.accuracy") == true)
        #expect(try t.store.trialCounts(search: s.id!) == [.running: 2])
        #expect(throws: StoreError.self) { try t.store.enqueue(search: s.id!, [TrialRequest(candidate: syntheticCandidate(5), fidelity: 0)]) }
    }

    @Test func measureTrialResultBecomesAMeasuredLatencyOnTheSearchTarget() throws {
        let t = try TestStore()
        defer { t.remove() }
        let s = try t.store.createSearch(newSearch(target: "rpi4"))
        let c = syntheticCandidate(1)
        let train = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: c, fidelity: 1)])[0]
        try complete(t.store, train, accuracy: 0.8)
        try t.store.recordMeasurements([MeasurementRecord(candidateID: c.id, target: "rpi4", source: .predicted, latencyMs: 12,
                                                          recordedBy: "model", recordedAt: Date(timeIntervalSince1970: 5))])
        #expect(try t.store.leaderboard(LeaderboardQuery(target: "rpi4")).first?.latencyMs == 12)
        let measure = try t.store.enqueue(search: s.id!, [TrialRequest(candidate: c, fidelity: 1, kind: .measure)])[0]
        try t.store.markRunning(trial: measure.trialID, attempt: 1, worker: "pi-1")
        try t.store.recordResult(TrialResult(trial: measure.trialID, attempt: 1, metrics: .object([("latency_ms", .double(9.5))])))
        let ms = try t.store.measurements(candidate: c.id)
        #expect(ms.map(\.source) == [.measured, .predicted])
        #expect(ms[0].latencyMs == 9.5 && ms[0].recordedBy == "pi-1" && ms[0].target == "rpi4")
        let entry = try #require(try t.store.leaderboard(LeaderboardQuery(target: "rpi4")).first)
        #expect(entry.latencyMs == 9.5 && entry.predictedMs == 12 && entry.measuredMs == 9.5 && entry.accuracy == 0.8)
        #expect(throws: StoreError.noSuchCandidate("nope")) {
            try t.store.recordMeasurements([MeasurementRecord(candidateID: "nope", target: "rpi4", source: .measured, latencyMs: 1,
                                                              recordedBy: "x", recordedAt: Date())])
        }
    }

    @Test func workersAreRegisteredOnceAndHeartbeatsMoveLastSeen() throws {
        let t = try TestStore()
        defer { t.remove() }
        let w = try t.store.registerWorker(id: "w1", host: "gpu-box", slots: 2, tags: ["cuda", "rtx4090"])
        try t.store.workersSeen(["w1", "unknown"])
        let again = try t.store.registerWorker(id: "w1", host: "gpu-box", slots: 4, tags: ["cuda"])
        let all = try t.store.workers()
        #expect(all.count == 1 && all[0] == again)
        #expect(again.firstSeen == w.firstSeen && again.lastSeen > w.lastSeen && again.slots == 4 && again.tags == ["cuda"])
        #expect(try t.store.events(kind: "worker.registered").count == 1)
    }
}
