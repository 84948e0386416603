import Foundation
import Logging
import Testing
import TopiaryCore
import TopiaryStore
import TopiaryWire
@testable import TopiaryCoordinator

/// The store writer on a real database: commands run in order on its own thread, their
/// completions come back, and while the disk is full everything is held and retried.
@Suite("Store writer")
struct StoreWriterTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    final class Fixture {
        let dir: URL
        let flag: String
        let store: Store
        let context = ZMQContext()
        let wake: ZMQSocket
        let writer: StoreWriter
        let search: Int64
        let requests: [TrialRequest]

        init(trials: Int) throws {
            dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("topiary-writer-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            flag = dir.appendingPathComponent("disk-full").path
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            store = try Store(path: dir.appendingPathComponent("t.sqlite").path, logger: quiet, fullDiskFlag: flag)
            let space = try SearchSpace.load(path: StoreWriterTests.repo.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path)
            search = try store.createSearch(NewSearch(space: space, target: "host-cpu", strategy: "random", budget: trials)).id!
            var rng = SeededGenerator(seed: 3)
            var seen = Set<String>()
            var reqs: [TrialRequest] = []
            while reqs.count < trials {
                let c = space.sample(using: &rng)
                if seen.insert(c.id).inserted { reqs.append(TrialRequest(candidate: CandidateRecord(c, in: space), fidelity: 1)) }
            }
            requests = reqs
            let endpoint = "inproc://writer-test-\(UUID().uuidString)"
            wake = try ZMQSocket(context, .pair)
            try wake.bind(endpoint)
            writer = StoreWriter(store: store, logger: quiet, context: context, wakeEndpoint: endpoint)
        }

        /// Completions until `done` says enough (at most `seconds`).
        func collect(seconds: Double = 10, until done: ([StoreCompletion]) -> Bool) -> [StoreCompletion] {
            var all: [StoreCompletion] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                all += writer.takeCompletions()
                if done(all) { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return all
        }

        /// Enqueues the fixture's trials and starts them through the writer.
        func runningTrials() -> [TrialRecord]? {
            writer.post(.enqueue(search: search, requests: requests, predicted: []))
            guard case .enqueued(_, _, let trials?) = collect(until: { !$0.isEmpty }).first else { return nil }
            writer.post(.start(trials.map { Pick(worker: "w", search: search, trial: QueuedTrial(trial: $0.trialID, attempt: 1, candidateID: $0.candidateID, fidelity: 1)) }))
            _ = collect { !$0.isEmpty }
            return trials
        }

        deinit {
            _ = writer.finish()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    func results(_ trials: [TrialRecord]) -> [HeldResult] {
        trials.map { t in
            HeldResult(result: TrialResult(trial: t.trialID, attempt: 1, metrics: .object([
                ("accuracy", .double(90)), ("notes", .string(String(repeating: "a long result ", count: 400)))])),
                       worker: "w", search: t.searchID)
        }
    }

    @Test("enqueue, start and results run in order and come back as completions")
    func inOrder() throws {
        let f = try Fixture(trials: 8)
        f.writer.post(.enqueue(search: f.search, requests: f.requests, predicted: []))
        var got = f.collect { $0.count >= 1 }
        guard case .enqueued(_, 8, let trials?) = got.first else { Issue.record("expected 8 trials enqueued, got \(got)"); return }
        let picks = trials.map { Pick(worker: "w", search: f.search, trial: QueuedTrial(trial: $0.trialID, attempt: 1, candidateID: $0.candidateID, fidelity: 1)) }
        // Start and results posted back to back: the writer keeps the order (a result is
        // never written before its start).
        f.writer.post(.start(picks))
        f.writer.post(.results(results(trials)))
        got = f.collect { $0.count >= 2 }
        guard got.count == 2, case .started(_, let errors?) = got[0], case .resultsStored(let stored) = got[1] else {
            Issue.record("expected started then resultsStored, got \(got)")
            return
        }
        #expect(errors.allSatisfy { $0 == nil })
        #expect(stored.count == 8 && stored.allSatisfy { if case .stored(.recorded) = $0.1 { return true } else { return false } })
        #expect(try f.store.trials(search: f.search, state: .completed).count == 8)
        #expect(f.writer.isIdle)
    }

    @Test("while the disk is full, results are held (nothing partial stored, health says so) and stored once space is back")
    func heldWhileFull() throws {
        let f = try Fixture(trials: 40)
        guard let trials = f.runningTrials() else { Issue.record("enqueue failed"); return }
        FileManager.default.createFile(atPath: f.flag, contents: nil)
        f.writer.post(.results(results(trials)))
        let down = f.collect(seconds: 5) { $0.contains { if case .health(let h, _) = $0 { return !h.isAvailable } else { return false } } }
        #expect(down.contains { if case .health(.retrying, let why?) = $0 { return why.contains("full") } else { return false } })
        #expect(!down.contains { if case .resultsStored = $0 { return true } else { return false } })
        #expect(try f.store.trials(search: f.search, state: .completed).isEmpty, "nothing partial")
        #expect(!f.writer.isIdle, "the results are held")
        try FileManager.default.removeItem(atPath: f.flag)
        let back = f.collect(seconds: 15) { $0.contains { if case .resultsStored = $0 { return true } else { return false } } }
        #expect(back.contains { if case .health(.available, nil) = $0 { return true } else { return false } })
        #expect(try f.store.trials(search: f.search, state: .completed).count == 40)
    }

    @Test("stopping while the store is down gives each held command one more try, then hands back what is left")
    func finishWhileDown() throws {
        let f = try Fixture(trials: 40)
        guard let trials = f.runningTrials() else { Issue.record("enqueue failed"); return }
        FileManager.default.createFile(atPath: f.flag, contents: nil)
        f.writer.post(.results(results(trials)))
        f.writer.post(.progress([TrialProgress(trial: trials[0].trialID, attempt: 1, step: 1, metrics: .object([]))]))
        _ = f.collect(seconds: 5) { $0.contains { if case .health = $0 { return true } else { return false } } }
        let left = f.writer.finish()
        #expect(left.count == 1, "the results are handed back; progress is best effort")
        if case .results(let r)? = left.first { #expect(r.count == 40) } else { Issue.record("expected the held results, got \(left)") }
    }
}
