import Foundation
import Logging
import Synchronization
import TopiaryCore
@testable import TopiaryStore

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A clock that moves one second each time it is read, so every stamp is distinct and known.
final class TickingClock: Sendable {
    private let seconds = Mutex<Double>(1_700_000_000)
    func now() -> Date { seconds.withLock { $0 += 1; return Date(timeIntervalSince1970: $0) } }
}

/// Store logs are checked through the events table; the log lines themselves would only clutter test output.
let quietLogger = Logger(label: "topiary.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("topiary-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A store in its own temporary directory with a ticking clock.
struct TestStore {
    let dir: TempDir
    let store: Store
    var path: String { store.path }

    init(durability: Store.Durability = .normal) throws {
        dir = try TempDir()
        let clock = TickingClock()
        store = try Store(path: dir.path("topiary.sqlite"), durability: durability, logger: quietLogger, clock: { clock.now() })
    }

    func remove() {
        try? store.close()
        dir.remove()
    }
}

/// The fashion-mobilenet space from SearchSpaces/.
let fashionSpace: SearchSpace = {
    try! SearchSpace.load(path: packageRoot.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path)
}()

func newSearch(target: String = "cpu-x86", maxAttempts: Int = 3, seed: UInt64 = 1) -> NewSearch {
    NewSearch(space: fashionSpace, target: target, strategy: "random", strategySettings: .object([("population", .int(8))]),
              objectives: ["accuracy:max", "latency:min"], constraints: .object([("max_latency_ms", .double(5))]),
              budget: 100, seed: seed, maxAttempts: maxAttempts)
}

/// A candidate record with given figures and a made-up id (16 hex digits, like real ids).
func syntheticCandidate(_ n: Int, size: Int = 1000, peak: Int = 500, weightBits: Int = 32, activationBits: Int = 32,
                        pruning: String = "none") -> CandidateRecord {
    CandidateRecord(id: String(format: "%016llx", UInt64(n) &* 0x9E37_79B9_7F4A_7C15), spaceName: "synthetic",
                    canonicalJSON: "{\"n\":\(n)}", macs: size * 10, params: size / 2, sizeBytes: size,
                    peakActivationBytes: peak, weightBits: weightBits, activationBits: activationBits,
                    pruningMethod: pruning, pruningRatio: pruning == "none" ? 0 : 0.5, compressionSummary: "synthetic \(n)")
}

/// Real candidates of the fashion-mobilenet space with their computed costs.
func realCandidates(_ count: Int, seed: UInt64 = 7) -> [CandidateRecord] {
    var seen = Set<String>()
    return fashionSpace.sample(count: count * 2, seed: seed).compactMap { c in
        seen.insert(c.id).inserted ? CandidateRecord(c, in: fashionSpace) : nil
    }.prefix(count).map { $0 }
}

/// Runs a trial through running to completed with the given accuracy.
@discardableResult
func complete(_ store: Store, _ trial: TrialRecord, accuracy: Double, worker: String = "w1") throws -> ReportOutcome {
    try store.markRunning(trial: trial.trialID, attempt: trial.attempt, worker: worker)
    return try store.recordResult(TrialResult(trial: trial.trialID, attempt: trial.attempt,
                                              metrics: .object([("accuracy", .double(accuracy)), ("loss", .double(1 - accuracy))])))
}
