import Foundation
import Testing
import TopiaryCore
import TopiaryStore

@Suite("Chaos", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct ChaosTests {
    /// Workers SIGKILLed every two seconds and restarted, the daemon SIGKILLed once and
    /// restarted, over a 1,000-trial search with the table evaluator (each answer held
    /// back 0.4 s, so trials are in flight when the kills land). Bounded: 240 s at most.
    @Test("chaos: 1,000 trials while workers and the daemon are SIGKILLed: no trial lost, none recorded twice")
    func chaosRun() throws {
        let budget = 1_000
        let c = try Cluster()
        try c.startDaemon()
        let names = ["w1", "w2", "w3"]
        for n in names { try c.startWorker(n, slots: 6) }
        try c.control(["search", "start", Paths.macroSpace, "--budget", String(budget), "--seed", "11", "--max-attempts", "50",
                       "--fidelity", "sleep_s=0.4"])
        let start = Date()
        var workerKills = 0, daemonKills = 0, round = 0
        var done = 0
        while Date().timeIntervalSince(start) < 240 {
            Thread.sleep(forTimeInterval: 2)
            round += 1
            let victim = names[round % names.count]
            c.killWorker(victim)
            workerKills += 1
            try c.startWorker(victim, slots: 6)
            if daemonKills == 0 && round == 5 {
                c.killDaemon()
                daemonKills += 1
                Thread.sleep(forTimeInterval: 0.5)
                try c.startDaemon()
            }
            done = (try? c.completed(1)) ?? done
            if (try? c.show(1)["state"]?.stringValue) == "completed" { break }
        }
        try c.waitForState(1, "completed", timeout: 60)
        let wall = Date().timeIntervalSince(start)

        let store = try Store(path: c.db, mode: .mustExist)
        let trials = try store.trials(search: 1)
        let lost = budget - trials.filter { $0.state == .completed }.count
        var perKey: [String: Int] = [:]
        for t in trials { perKey["\(t.candidateID) \(t.fidelity)", default: 0] += 1 }
        let twice = perKey.values.filter { $0 > 1 }.count
        let requeues = try store.events(search: 1).filter { $0.kind == "trial.requeued" }.count
        let log = c.log("daemon.log")
        let ignored = log.components(separatedBy: "report ignored").count - 1
        let wrong = try resultsNotFromTable(store, search: 1)
        print("chaos: \(trials.count) trials in \(Int(wall)) s; \(workerKills) worker SIGKILLs, \(daemonKills) daemon SIGKILL; "
              + "\(requeues) requeues, \(trials.filter { $0.attempt > 1 }.count) trials needed more than one attempt "
              + "(most \(trials.map(\.attempt).max() ?? 0)); \(ignored) repeated reports ignored; "
              + "trials lost \(lost), recorded twice \(twice), results not from the table \(wrong.count)")
        #expect(daemonKills == 1 && workerKills >= 5, "the chaos happened")
        #expect(trials.count == budget)
        #expect(lost == 0, "trials lost: \(trials.filter { $0.state != .completed }.map { "\($0.trialID) \($0.state)" })")
        #expect(twice == 0, "a (candidate, fidelity) recorded twice")
        #expect(wrong.isEmpty, "results match the table: \(wrong.prefix(5).map(\.trialID))")
        #expect(try Store.check(path: c.db).isIntact)
    }
}
