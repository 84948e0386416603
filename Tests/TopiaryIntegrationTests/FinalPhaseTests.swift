import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// `search start --finalists N`: once the budget is spent, the strategy's recommended
/// candidates are trained again at the final fidelity, marked final, and exported first.
@Suite("The final phase", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct FinalPhaseTests {
    @Test("the finalists are trained again at the final fidelity after the budget, marked final in the store, the leaderboard and search show, and export takes one")
    func finalists() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 2, trainer: "sleepy")
        let r = try c.run(["search", "start", Paths.macroSpace, "--budget", "6", "--trainer", "sleepy", "--strategy", "random", "--seed", "3",
                           "--fidelity", "epochs=2", "--fidelity", "sleep_s=0.05", "--fidelity", "teacher_epochs=1", "--finalists", "2",
                           "--final-fidelity", "epochs=5", "--follow", "--control", c.controlEndpoint], timeout: 120)
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        let store = try Store(path: c.db, mode: .readOnly)
        let trials = try store.trials(search: 1)
        let finals = trials.filter { $0.phase == .final }
        #expect(trials.count == 8 && finals.count == 2, "\(trials.map { ($0.trialID, $0.phase, $0.state) })")
        // After every search trial, at the final fidelity, on distinct candidates the search had tried.
        let lastSearchTrial = trials.filter { $0.phase == .search }.map(\.trialID).max() ?? 0
        let searched = Set(trials.filter { $0.phase == .search }.map(\.candidateID))
        for f in finals {
            #expect(f.trialID > lastSearchTrial && f.state == .completed && f.fidelity == 5)
            #expect(searched.contains(f.candidateID))
            // The job carried the final fidelity over the search's: five epochs, the same sleep.
            #expect(try store.progress(trial: f.trialID).count == 5)
        }
        #expect(Set(finals.map(\.candidateID)).count == 2)
        #expect(try store.search(1)?.state == .completed)
        // Not the search's cheap distillation teacher: finalists get the trainer's full one.
        let settings = try JSONText.parse(try store.search(1)?.strategySettings ?? "{}")
        #expect(settings["fidelity"]?["teacher_epochs"]?.intValue == 1 && settings["final_fidelity"]?["teacher_epochs"] == nil
                && settings["final_fidelity"]?["sleep_s"]?.doubleValue == 0.05, "\(settings.text())")

        // The leaderboard takes each finalist's final result and says so.
        let lb = try c.run(["leaderboard", "--db", c.db, "--search", "1", "--top", "6", "--format", "json"])
        let board = try JSONText.parse(lb.out)
        let rows = board.arrayValue ?? []
        let finalRows = rows.filter { $0["final"]?.boolValue == true }
        #expect(Set(finalRows.compactMap { $0["candidate_id"]?.stringValue }) == Set(finals.map(\.candidateID)), "\(board.text(pretty: false).prefix(600))")
        let shown = try c.control(["search", "show", "1"])
        #expect(shown.contains("6/6") && shown.contains("final 2/2") && shown.contains("final"), "\(shown)")

        // export takes the best final result by default.
        let out = c.dir.appendingPathComponent("exported").path
        let e = try c.run(["export", "--db", c.db, "--search", "1", "--out", out])
        #expect(e.status == 0, "\(e.err)")
        #expect(e.out.contains("the best final result of search 1"), "\(e.out)")
        let bestFinal = finals.max { ($0.accuracy ?? 0) < ($1.accuracy ?? 0) }!
        #expect(e.out.contains("exporting \(bestFinal.candidateID)"), "\(e.out)")
        #expect(FileManager.default.fileExists(atPath: out + "/candidate.json"))
        let card = (try? String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8)) ?? ""
        #expect(card.contains("These figures are **final**") && card.contains("fidelity 5"), "\(card.prefix(800))")
    }

    @Test("the daemon killed during the final phase resumes it: the finalists end once each, no new ones, the search completes")
    func killedDuringTheFinalPhase() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "4", "--trainer", "sleepy", "--strategy", "random",
                       "--fidelity", "sleep_s=0.05", "--finalists", "2", "--final-fidelity", "sleep_s=3", "--final-fidelity", "epochs=3"])
        try waitUntil(30, "the final phase starts") {
            try Store(path: c.db, mode: .readOnly).trials(search: 1).contains { $0.phase == .final && $0.state == .running }
        }
        c.killDaemon()
        try c.startDaemon()
        try c.waitForState(1, "completed", timeout: 60)
        let trials = try Store(path: c.db, mode: .readOnly).trials(search: 1)
        #expect(trials.count == 6, "\(trials.map { ($0.trialID, $0.phase, $0.state) })")
        #expect(trials.filter { $0.phase == .final }.count == 2)
        #expect(trials.allSatisfy { $0.state == .completed })
    }

    @Test("--final-fidelity without --finalists, and finalists for the table trainer, are refused (exit 2) naming the flag")
    func refusals() throws {
        let c = try Cluster()
        try c.startDaemon()
        let a = try c.run(["search", "start", Paths.macroSpace, "--budget", "3", "--final-fidelity", "epochs=5", "--control", c.controlEndpoint])
        #expect(a.status == 2 && a.err.contains("--final-fidelity") && a.err.contains("--finalists"), "\(a.err)")
        let b = try c.run(["search", "start", Paths.macroSpace, "--budget", "3", "--finalists", "2", "--control", c.controlEndpoint])
        #expect(b.status == 2 && b.err.contains("table trainer"), "\(b.err)")
        let d = try c.run(["search", "start", Paths.macroSpace, "--budget", "3", "--finalists", "99", "--control", c.controlEndpoint])
        #expect(d.status == 2 && d.err.contains("--finalists"), "\(d.err)")
        #expect(try Store(path: c.db, mode: .readOnly).searches().isEmpty)
    }
}
