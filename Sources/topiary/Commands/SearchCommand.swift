import ArgumentParser
import Foundation
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryWire

/// Where the daemon's control endpoint is.
struct ControlOptions: ParsableArguments {
    @Option(help: "The daemon's control endpoint.") var control = "tcp://127.0.0.1:5556"
    var client: ControlClient { ControlClient(endpoint: control) }
}

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Start, watch and steer searches on a running daemon.",
        subcommands: [Start.self, List.self, Show.self, Pause.self, Resume.self, Cancel.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a search.")
        @Argument(help: "Search-space YAML file.") var space: String
        @Option(help: "Hardware target (see `topiary target list`).") var target = "host-cpu"
        @Option(help: "Strategy: auto (nsga2 for two or more objectives, random under 20 trials, bo up to 500, else tpe), random, evolution, tpe (Parzen estimators, as Optuna's default), bo (Gaussian-process Bayesian optimization), nsga2, asha (varies epochs). See docs/STRATEGIES.md.") var strategy = "auto"
        @Option(help: "Strategy setting KEY=VALUE (repeatable), e.g. population=32, eta=3, min_fidelity=1.") var strategyOption: [String] = []
        @Option(help: "Number of trials.") var budget: Int
        @Option(help: "Objective NAME:max|min (repeatable), e.g. accuracy:max, latency_ms:min.") var objective: [String] = []
        @Option(help: "Hard limit before training (repeatable): params<=N, macs<=N, size_kb<=N, memory_kb<=N, latency_ms<=N.") var constraint: [String] = []
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Option(help: "Trainer name the workers know (default: table for benchmark spaces, else pytorch).") var trainer: String?
        @Option(help: "Fidelity KEY=VALUE sent to the trainer (repeatable), e.g. epochs=3.") var fidelity: [String] = []
        @Option(help: "Seconds a trial may run.") var deadline = 3600
        @Option(help: "Attempts per trial before it fails.") var maxAttempts = 3
        @Flag(help: "Retry every failed trial (trainer error, no result, deadline) while --max-attempts last; by default only a trainer killed by a signal or a lost worker is retried.")
        var retryFailed = false
        @Option(help: "Trial kind: train, or measure (time candidates on workers tagged with the target); supernet is `topiary supernet train`.") var kind = "train"
        @Option(help: "A file every job gets, NAME=SHA256 (repeatable; `topiary artifacts add FILE` stores it and prints the digest); the trainer finds its path in the job's artifact_paths.")
        var artifact: [String] = []
        @Flag(help: "The same trial sequence whatever the number of workers and the order they finish: trials are drawn in batches of 8, each once the last has ended, its results told in suggestion order (slower when workers outnumber 8 slots).")
        var reproducible = false
        @Option(help: ArgumentHelp("Train on this data instead of Fashion-MNIST: a folder of class folders (PATH/CLASS/IMAGE, or PATH/train/… and PATH/test/…) or a NumPy .npz (x_train, y_train, x_test, y_test; x_val, y_val optional).",
                                   discussion: "The path must be the same on the workers (a shared or copied folder). The number of classes must match the space's.",
                                   valueName: "path"))
        var dataset: String?
        @Option(help: ArgumentHelp("When the budget is spent, train this many of the strategy's recommended candidates again at the final fidelity (the final phase; their figures are marked final).", valueName: "n"))
        var finalists = 0
        @Option(name: .customLong("final-fidelity"), help: ArgumentHelp("A fidelity setting of the final phase, over the search's (repeatable; default: all the data and 4x the epochs, at least 4).", valueName: "key=value"))
        var finalFidelity: [String] = []
        @Option(help: ArgumentHelp("How candidates are evaluated: supernet (weights inherited from the space's latest trained supernet, see `topiary supernet train`) or supernet:ID. Trials then train nothing unless --fidelity gives epochs; finalists are fine-tuned from the supernet.", valueName: "supernet[:id]"))
        var evaluator: String?
        @Option(name: .customLong("supernet-pool"), help: .hidden) var supernetPool: Int?
        @Flag(help: "Follow the search until it ends, with a progress bar.") var follow = false
        @Flag(help: "Predict latency with the target's profile as written, not the calibration saved beside it (measurements in the daemon's store still refine it).")
        var uncalibrated = false
        @OptionGroup var control: ControlOptions
        @OptionGroup var location: TargetLocation

        /// The request, without the files' contents: the checks that need no file.
        func request(spaceYAML: String = "") throws -> StartSearchRequest {
            var r = StartSearchRequest(spaceYAML: spaceYAML, budget: budget)
            r.spaceFile = space
            r.target = target
            r.kind = kind
            r.strategy = strategy
            do {
                r.strategyOptions = Dictionary(try StrategyOptions(keyValues: strategyOption).values.map { ($0.key, $0.value) },
                                               uniquingKeysWith: { _, last in last })
            } catch {
                throw ValidationError("--strategy-option: \(error)")
            }
            r.objectives = objective
            r.constraints = constraint
            r.seed = seed
            r.trainer = trainer
            r.fidelity = try Self.fidelitySettings(fidelity, flag: "--fidelity")
            r.deadlineSeconds = deadline
            r.maxAttempts = maxAttempts
            r.retryFailed = retryFailed
            r.artifacts = artifact
            r.reproducible = reproducible
            r.finalists = finalists
            r.finalFidelity = try Self.fidelitySettings(finalFidelity, flag: "--final-fidelity")
            r.evaluator = evaluator
            r.supernetPool = supernetPool
            return r
        }

        /// `KEY=VALUE` settings of a repeatable fidelity flag (a later key wins).
        static func fidelitySettings(_ list: [String], flag: String) throws -> [String: FidelityValue] {
            var out: [String: FidelityValue] = [:]
            for f in list {
                let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("\(flag) '\(f)': expected KEY=VALUE") }
                out[kv[0]] = FidelityValue(parsing: kv[1])
            }
            return out
        }

        func validate() throws {
            let r = try request()
            do { try r.check() } catch { throw ValidationError(Self.flagNames(error.description)) }
        }

        /// The request's field names as the command's options.
        static func flagNames(_ message: String) -> String {
            message.replacingOccurrences(of: "'budget'", with: "--budget").replacingOccurrences(of: "'deadline_s'", with: "--deadline")
                .replacingOccurrences(of: "'max_attempts'", with: "--max-attempts").replacingOccurrences(of: "'kind'", with: "--kind")
                .replacingOccurrences(of: "'finalists'", with: "--finalists").replacingOccurrences(of: "'final_fidelity'", with: "--final-fidelity")
                .replacingOccurrences(of: "evaluator '", with: "--evaluator '").replacingOccurrences(of: "'evaluator'", with: "--evaluator")
                .replacingOccurrences(of: "'supernet_pool'", with: "--pool")
                .replacingOccurrences(of: "objective '", with: "--objective '").replacingOccurrences(of: "artifact '", with: "--artifact '").replacingOccurrences(of: "constraint '", with: "--constraint '")
        }

        func run() async throws {
            let yaml = try Inputs.text(space)
            let parsed = try SearchSpace.parse(yaml: yaml, file: space)  // errors name the file here, not in the daemon
            // The target's profile travels with the search: the daemon predicts latency and
            // rejects what cannot fit before anything is trained.
            let targetPath = try location.path(of: target)
            let targetProfile = try Targets.load(path: targetPath)
            var r = try request(spaceYAML: yaml)
            if let dataset {
                if trainer == "table" || (trainer == nil && parsed.benchmark != nil) {
                    throw InputError("--dataset needs a trainer that trains (--trainer pytorch); the table trainer looks results up")
                }
                r.dataset = try DatasetCheck.check(dataset, space: parsed)
            }
            r.target = targetProfile.name
            r.targetYAML = try Inputs.text(targetPath)
            // So does the calibration saved beside it, unless it belongs to another version
            // of the profile (then the search says so and starts from the profile).
            let calPath = TargetFiles.calibrationPath(besideProfile: targetPath, target: targetProfile.name)
            if !uncalibrated && FileManager.default.fileExists(atPath: calPath) {
                do {
                    _ = try Targets.loadCalibration(calPath, for: targetProfile)
                    r.targetCalibration = try Inputs.text(calPath)
                } catch {
                    FileHandle.standardError.write(Data("warning: not using \(calPath): \(error)\n".utf8))
                }
            }
            let started = try control.client.call(.startSearch(r), StartedReply.self)
            let id = Int(started.search)
            print("search \(id) started: \(budget) \(kind) trials on \(space) for \(targetProfile.name)"
                  + (started.chosenBecause.map { ", strategy \(started.strategy ?? "?") (auto: \($0))" } ?? ""))
            if let w = started.warning { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if follow { try await Follower(client: control.client, search: id).run() }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List searches with their progress.")
        @OptionGroup var control: ControlOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            if json {
                print(JSONValue.array((try JSONText.parse(try control.client.callRaw(.listSearches)))["searches"]?.arrayValue ?? []).text(pretty: true))
                return
            }
            let rows = try control.client.call(.listSearches, SearchListReply.self).searches
            var t = TextTable(["id", "space", "target", "strategy", "state", "done", "running", "queued", "failed", "budget", "best acc"])
            for r in rows {
                func n(_ k: String) -> Int { r.counts[k] ?? 0 }
                t.add([String(r.search), r.space, r.target, r.strategy, r.state, String(n("completed")), String(n("running")),
                       String(n("queued")), String(n("failed")), r.budget.map(String.init) ?? "-",
                       r.best.map { String(format: "%.2f", $0.accuracy) } ?? "-"])
            }
            print(t.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a search: progress, best so far.")
        @Argument(help: "Search id.") var id: Int
        @OptionGroup var control: ControlOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            if json {
                print(try JSONText.parse(try control.client.callRaw(.showSearch(Int64(id)))).text(pretty: true))
                return
            }
            let r = try control.client.call(.showSearch(Int64(id)), SearchSummary.self)
            print(Follower.describe(r))
            if let e = r.evaluator { print("evaluator: \(e)") }
            for n in Follower.notes(r) { print(n) }
            let top = r.top ?? []
            if !top.isEmpty {
                var t = TextTable(["candidate", "accuracy", "figures", "params", "size", "MACs"])
                for e in top {
                    t.add([e.candidate, e.accuracy.map { String(format: "%.2f", $0) } ?? "-", e.final == true ? "final" : "search",
                           Format.count(e.params), Format.bytes(e.sizeBytes), Format.count(e.macs)])
                }
                print(t.render())
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop dispatching a search's trials (running ones finish).")
        @Argument(help: "Search id.") var id: Int
        @OptionGroup var control: ControlOptions
        func run() async throws { try steer(.pauseSearch(Int64(id)), id, control) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused search.")
        @Argument(help: "Search id.") var id: Int
        @OptionGroup var control: ControlOptions
        func run() async throws { try steer(.resumeSearch(Int64(id)), id, control) }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a search; its running trials are stopped.")
        @Argument(help: "Search id.") var id: Int
        @OptionGroup var control: ControlOptions
        func run() async throws { try steer(.cancelSearch(Int64(id)), id, control) }
    }
}

func steer(_ request: ControlRequest, _ id: Int, _ control: ControlOptions) throws {
    let r = try control.client.call(request, SteerReply.self)
    print("search \(id): \(r.state)" + (r.stopped.map { ", \($0) running trials stopped" } ?? ""))
}

/// Draws a search's progress until it ends.
struct Follower {
    let client: ControlClient
    let search: Int

    static func describe(_ r: SearchSummary) -> String {
        let done = r.ended - r.finalEnded
        let budget = r.budget ?? max(done, 1)
        let width = 30
        let filled = min(width, budget > 0 ? done * width / budget : 0)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        var line = "search \(r.search) [\(bar)] \(done)/\(budget) \(r.state)"
        line += "  running \(r.counts["running"] ?? 0) queued \(r.counts["queued"] ?? 0) failed \(r.counts["failed"] ?? 0)"
        if let n = r.finalists, n > 0 {
            let created = (r.finalCounts ?? [:]).values.reduce(0, +)
            line += created == 0 ? "  final phase: \(n) after the budget" : "  final \(r.finalEnded)/\(created)"
        }
        if let b = r.best { line += String(format: "  best %.2f (%@)", b.accuracy, b.candidate) }
        return line
    }

    /// Lines under the progress bar: why the search waits, what admission refused, the
    /// last failure. Empty when there is nothing to say.
    static func notes(_ r: SearchSummary) -> [String] {
        var out: [String] = []
        if let w = r.waiting { out.append("waiting: \(w)") }
        let rejected = r.rejectedByConstraints ?? 0, infeasible = r.infeasibleOnTarget ?? 0
        if rejected + infeasible > 0 {
            var line = "refused before training: \(rejected) broke a constraint, \(infeasible) cannot run on \(r.target)"
            if let why = r.lastInfeasibility { line += " (last: \(why))" }
            out.append(line)
        }
        if let f = r.lastFailure { out.append("last failure: \(f)") }
        // An ended search has no live best: its top list (by accuracy) names it.
        let observed = r.best?.candidate ?? r.top?.first?.candidate
        if let rec = r.recommended, rec != observed {
            out.append("recommended: \(rec) (the strategy's estimate; the best observed is \(observed ?? "-"))")
        }
        return out
    }

    /// A search that ended without one completed trial is a failed run (exit 1), with why.
    static func checkEnded(_ r: SearchSummary) throws {
        guard r.state == "completed" || r.state == "cancelled", (r.counts["completed"] ?? 0) == 0 else { return }
        var why = "search \(r.search) ended with no completed trial (\(r.counts["failed"] ?? 0) failed, \(r.counts["cancelled"] ?? 0) cancelled)"
        let notes = notes(r)
        if !notes.isEmpty { why += "; " + notes.joined(separator: "; ") }
        throw RuntimeError(why)
    }

    func run() async throws {
        let tty = isatty(STDOUT_FILENO) != 0
        var last = ""
        var lastPrint = Date.distantPast
        var lastNotes: [String] = []
        while true {
            let r = try client.call(.showSearch(Int64(search)), SearchSummary.self)
            let line = Self.describe(r)
            // Notes (waiting, refusals, failures) print on their own lines when they change.
            let notes = Self.notes(r)
            if notes != lastNotes {
                if tty { print("\r\u{1B}[K", terminator: "") }
                for n in notes where !lastNotes.contains(n) { print(n) }
                lastNotes = notes
                if !tty { last = "" }
            }
            if tty {
                print("\r" + line + "   ", terminator: "")
                fflush(nil)
            } else if line != last && Date().timeIntervalSince(lastPrint) >= 2 {
                print(line)
                fflush(nil)
                lastPrint = Date()
                last = line
            }
            if ["completed", "cancelled"].contains(r.state) {
                if tty { print("") } else if line != last { print(line) }
                try Self.checkEnded(r)
                return
            }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
    }
}

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List the workers connected to the daemon.")
    @OptionGroup var control: ControlOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        if json {
            print(JSONValue.array((try JSONText.parse(try control.client.callRaw(.workers)))["workers"]?.arrayValue ?? []).text(pretty: true))
            return
        }
        let rows = try control.client.call(.workers, WorkerListReply.self).workers
        var t = TextTable(["worker", "host", "key", "slots", "running", "done", "jobs", "tags", "trainers", "last heartbeat"])
        for w in rows {
            t.add([w.worker, w.host, w.key, String(w.slots), String(w.running), String(w.done), w.jobs.prefix(4).joined(separator: " "),
                   w.tags.joined(separator: ","), w.trainers.joined(separator: ","), "\(w.lastHeartbeatMs) ms ago"])
        }
        t.rightAligned = [3, 4, 5]
        print(rows.isEmpty ? "no workers connected" : t.render())
    }
}
