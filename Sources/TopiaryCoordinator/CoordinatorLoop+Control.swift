import Foundation
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// The control endpoint: a client sends one `ControlRequest` on a REQ socket and gets one
/// `ControlReply` (both typed in TopiaryWire).
extension CoordinatorLoop {
    mutating func handleControl(_ frames: [[UInt8]]) {
        guard frames.count >= 2 else { return }
        let identity = frames[0]
        let reply: String
        do {
            guard let body = frames.last, frames.count == 3, frames[1].isEmpty else {
                throw ControlError("expected one JSON frame from a REQ socket")
            }
            reply = try answer(try ControlRequest.decode(body))
        } catch {
            reply = ControlReply.failure("\(error)")
        }
        _ = try? controlSocket.send([identity, [], Array(reply.utf8)], dontWait: true)
    }

    /// The reply's JSON text.
    mutating func answer(_ request: ControlRequest) throws -> String {
        switch request {
        case .ping:
            return ControlReply.encode(PingReply(version: Wire.version, controlVersion: ControlRequest.version,
                                                 workers: registry.count, searches: searches.count))
        case .startSearch(let r):
            do {
                let (id, chosen, warning) = try startSearch(r)
                let strategy = chosen?.name ?? r.strategy
                if let warning { logger.warning("\(warning)", metadata: ["search": "\(id)"]) }
                return ControlReply.encode(StartedReply(search: id, strategy: strategy, chosenBecause: chosen?.why, warning: warning))
            } catch { throw ControlError("search.start: \(error)") }
        case .listSearches:
            return ControlReply.encode(SearchListReply(searches: try store.searches().map(summary)))
        case .showSearch(let id):
            guard let rec = try store.search(id) else { throw ControlError("no search \(id)") }
            var s = try summary(rec)
            // An ended search's strategy is rebuilt for its answer (rare: one search shown) —
            // on the loop's thread, so only for searches small enough to replay quickly.
            let counts = try store.trialCounts(search: id)
            if s.recommended == nil && (counts[.completed] ?? 0) > 0 && counts.values.reduce(0, +) <= 20_000 {
                s.recommended = try? Recommendation.candidate(store: store, search: id)
            }
            s.top = try store.leaderboard(LeaderboardQuery(search: id, limit: 5)).map {
                SearchSummary.Top(candidate: $0.candidateID, accuracy: $0.accuracy, params: $0.params, sizeBytes: $0.sizeBytes, macs: $0.macs,
                                  final: $0.isFinal)
            }
            return ControlReply.encode(s)
        case .pauseSearch(let id):
            let rec = try store.pauseSearch(id)
            searches[id]?.record = rec
            return ControlReply.encode(SteerReply(search: id, state: rec.state.rawValue))
        case .resumeSearch(let id):
            let rec = try store.resumeSearch(id)
            if searches[id] == nil { searches[id] = try recovery.load(rec) } else { searches[id]?.record = rec }
            return ControlReply.encode(SteerReply(search: id, state: rec.state.rawValue))
        case .cancelSearch(let id):
            let stopped = try store.cancelSearch(id)
            for t in stopped {
                let ref = AttemptRef(trial: t.trialID, attempt: t.attempt)
                for w in registry.all where w.running[ref] != nil {
                    registry[w.name]!.running[ref] = nil
                    send(w.identity, .cancel(ref, reason: "search \(id) cancelled"))
                }
            }
            searches[id] = nil
            return ControlReply.encode(SteerReply(search: id, state: "cancelled", stopped: stopped.count))
        case .leaderboard(let l):
            return try leaderboard(l)
        case .workers:
            let now = Date()
            return ControlReply.encode(WorkerListReply(workers: registry.all.sorted { $0.name < $1.name }.map { w in
                WorkerInfo(worker: w.name, host: w.host, slots: w.slots, running: w.running.count, done: w.done,
                           jobs: w.running.keys.sorted { $0.trial < $1.trial }.map(\.description),
                           tags: w.tags.sorted(), trainers: w.trainers.sorted(),
                           lastHeartbeatMs: Int(now.timeIntervalSince(w.lastHeard) * 1000),
                           connectedS: Int(now.timeIntervalSince(w.connectedAt)),
                           key: w.key.map { allow?.name(of: $0) ?? $0 } ?? "plain")
            }))
        }
    }

    /// The top or the Pareto front, as `topiary leaderboard --format json` prints it.
    func leaderboard(_ l: LeaderboardRequest) throws -> String {
        guard let by = Objective(rawValue: l.by) else {
            throw ControlError("'by' must be one of \(Objective.allCases.map(\.rawValue).joined(separator: ", ")), not '\(l.by)'")
        }
        let objectives = try (l.objectives.isEmpty ? (l.target == nil ? ["accuracy", "size"] : ["accuracy", "latency", "size"]) : l.objectives).map { name in
            guard let o = Objective(rawValue: name) else { throw ControlError("objective '\(name)' is not one of \(Objective.allCases.map(\.rawValue).joined(separator: ", "))") }
            return o
        }
        if (by == .latency || (l.pareto && objectives.contains(.latency))) && l.target == nil { throw ControlError("latency needs 'target'") }
        let q = LeaderboardQuery(search: l.search, target: l.target, orderBy: by, limit: l.limit)
        let entries = l.pareto ? try store.paretoFront(q, objectives: objectives) : try store.leaderboard(q)
        let choices = try store.choices(of: entries)
        return JSONValue.object([("ok", .bool(true)), ("entries", .array(entries.map { $0.json(choices: choices[$0.candidateID]) }))]).text()
    }

    func summary(_ rec: SearchRecord) throws -> SearchSummary {
        let counts = try store.trialCounts(search: rec.id!)
        var s = SearchSummary(search: rec.id!, space: rec.spaceName, target: rec.target, strategy: rec.strategy, state: rec.state.rawValue,
                              budget: rec.budget, seed: rec.seedValue,
                              counts: Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
                              createdAt: ISO8601DateFormatter().string(from: rec.createdAt))
        if let live = searches[rec.id!] {
            s.rejectedByConstraints = live.rejected
            s.infeasibleOnTarget = live.infeasible
            s.lastInfeasibility = live.lastInfeasibility
            s.latencyModel = live.model == nil ? "none" : live.calibratedFrom > 0 ? "calibrated on \(live.calibratedFrom) measurements" : "profile"
            s.best = live.best.map { SearchSummary.Best(accuracy: $0.accuracy, candidate: $0.candidate) }
            s.recommended = live.recommendation.candidate(live.strategy)
            if rec.state == .active && live.queued > 0 {
                s.waiting = Scheduler.stall(demand(live), workers: registry.slots)
            }
        } else if let ended = endedStats[rec.id!] {
            s.rejectedByConstraints = ended.rejected
            s.infeasibleOnTarget = ended.infeasible
            s.lastInfeasibility = ended.lastInfeasibility
        }
        if (counts[.failed] ?? 0) > 0 { s.lastFailure = try store.lastFailure(search: rec.id!) }
        let stored = searches[rec.id!] == nil ? try? JSONText.parse(rec.strategySettings) : nil
        let finalists = searches[rec.id!]?.settings.finalists ?? stored?["finalists"]?.intValue ?? 0
        let supernetPool = searches[rec.id!]?.settings.supernetPool ?? stored?["supernet_pool"]?.intValue
        s.evaluator = supernetPool != nil ? "trains the supernet (\(supernetPool!) sampled networks)"
            : searches[rec.id!]?.settings.evaluator ?? stored?["evaluator"]?.stringValue
        if finalists > 0 {
            s.finalists = finalists
            let f = try store.trialCounts(search: rec.id!, phase: .final)
            s.finalCounts = Dictionary(uniqueKeysWithValues: TrialState.allCases.map { ($0.rawValue, f[$0] ?? 0) })
        }
        return s
    }

    /// Checks a search in full (space, target, calibration, strategy, objectives,
    /// constraints), stores it and loads it; the space and target are parsed once, here.
    /// Returns the search's id, what `auto` chose (nil when a strategy was named) and what
    /// the user is warned of (`StartWarnings`).
    mutating func startSearch(_ r: StartSearchRequest) throws -> (Int64, (name: String, why: String)?, String?) {
        try r.check()
        let space = try SearchSpace.parse(yaml: r.spaceYAML, file: r.spaceFile)
        guard r.strategy == "auto" || Strategies.names.contains(r.strategy) else {
            throw ControlError("unknown strategy '\(r.strategy)'; use auto or one of \(Strategies.names.joined(separator: ", "))")
        }
        let chosen = r.strategy != "auto" ? nil : r.kind == "measure" ? (name: "random", why: "measure trials time a uniform sample of the space")
            : r.kind == "supernet" ? (name: "random", why: "a supernet search has one trial, the space's largest network")
            : Strategies.auto(objectives: r.effectiveObjectives.count, budget: r.budget)
        let strategy = chosen?.name ?? r.strategy
        let constraints = try r.constraints.map(Constraint.parse)
        let trainer = r.trainer ?? (space.benchmark != nil ? "table" : "pytorch")
        let kind = TrialKind(rawValue: r.kind) ?? .train
        let target = try r.targetYAML.map { try HardwareTarget.parse(yaml: $0, file: "target \(r.target)") }
        if let calibration = r.targetCalibration, let target {
            do { try Calibration.parse(json: calibration, file: "target_calibration").check(against: target) } catch {
                throw ControlError(error.description)
            }
        }
        if constraints.contains(where: { $0.metric == .latencyMs }) && target == nil {
            throw ControlError("a latency_ms constraint needs the target's profile (target_yaml)")
        }
        if trainer == "table" && space.benchmark == nil {
            throw ControlError("the table trainer needs a benchmark space (nas-bench-macro, nas-bench-201)")
        }
        if r.kind == "supernet" || r.evaluator != nil, let why = SupernetPool.refusal(space) { throw ControlError(why) }
        var fidelityPairs = r.fidelity.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) }
        if r.evaluator != nil {
            // Evaluation by inheritance trains nothing unless the fidelity says so, and ranks
            // by validation accuracy: a tenth of the test set will do until the final phase
            // (whose default fidelity takes all of it).
            if r.fidelity["epochs"] == nil { fidelityPairs.append(("epochs", .int(0))) }
            if r.fidelity["test_fraction"] == nil { fidelityPairs.append(("test_fraction", .double(0.1))) }
            fidelityPairs.sort { $0.0 < $1.0 }
        }
        let fidelity = JSONValue.object(fidelityPairs)
        var settings = RunSettings(trainer: trainer, fidelity: fidelity, deadlineSeconds: r.deadlineSeconds, constraints: constraints,
                                   kind: kind, targetYAML: r.targetYAML)
        settings.targetCalibration = r.targetCalibration
        settings.strategyOptions = try StrategyOptions(json: .object(r.strategyOptions.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        settings.retryFailed = r.retryFailed
        if r.reproducible { settings.reproducibleBatch = RunSettings.reproducibleBatchSize }
        settings.dataset = r.dataset
        if r.kind == "supernet" { settings.supernetPool = r.supernetPool ?? SupernetPool.defaultSize }
        if r.finalists > 0 {
            if trainer == "table" { throw ControlError("'finalists' are trained again at full fidelity: the table trainer answers the same at every fidelity") }
            settings.finalists = r.finalists
            // The search's fidelity as given (not the evaluator's 0 epochs and tenth of the test
            // set) with the final phase's over it (or the default's).
            let given = JSONValue.object(r.fidelity.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })
            // Not the search's distillation teacher: a cheap one that is enough to rank
            // candidates caps the students trained for real (a 1-epoch teacher on a fifth of
            // the data held finalists at 85%); finalists get the trainer's full teacher unless
            // the final fidelity names one.
            var pairs = (given.objectPairs ?? []).filter { !RunSettings.searchOnlyFidelityKeys.contains($0.0) }
            let over: [(String, JSONValue)] = r.finalFidelity.isEmpty ? RunSettings.defaultFinalFidelity(over: given)
                : r.finalFidelity.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) }
            for (k, v) in over {
                if let i = pairs.firstIndex(where: { $0.0 == k }) { pairs[i].1 = v } else { pairs.append((k, v)) }
            }
            settings.finalFidelity = .object(pairs.sorted { $0.0 < $1.0 })
        }
        for a in r.artifacts {
            let p = a.split(separator: "=", maxSplits: 1).map(String.init)
            let path = transfers.directory.path(of: p[1])
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
                throw ControlError("artifact '\(p[0])': \(p[1]) is not in the coordinator's artifacts (\(transfers.directory.root.path)); "
                                   + "add the file there with `topiary artifacts add FILE --db DB`")
            }
            settings.artifacts.append(WireArtifact(name: p[0], sha256: p[1], bytes: size))
        }
        if let evaluator = r.evaluator {
            let (checkpoint, from) = try supernetCheckpoint(evaluator, space: space)
            settings.artifacts.removeAll { $0.name == checkpoint.name }
            settings.artifacts.append(checkpoint)
            settings.evaluator = "supernet:\(from)"
        }
        do {
            // The objectives given (the default `accuracy:max` of a measure search ranks nothing).
            try MetricCatalog.check(objectives: r.objectives, trainer: trainer, kind: kind, benchmark: space.benchmark?.rawValue)
        } catch {
            throw ControlError(error.description)
        }
        let new = NewSearch(space: space, target: r.target, strategy: strategy, strategySettings: settings.json,
                            objectives: r.effectiveObjectives, constraints: .array(constraints.map { .string($0.description) }),
                            budget: r.budget, seed: r.seed, maxAttempts: r.maxAttempts)
        // Check the strategy accepts its options and objectives before anything is stored.
        let objectives = try new.objectives.map { t throws -> SearchObjective in try SearchObjective.parse(t) }
        _ = try Strategies.make(strategy, options: settings.strategyOptions,
                                problem: SearchProblem(space: space, seed: new.seed, fidelity: settings.fidelityValue, objectives: objectives))
        // Refuse a search nothing can satisfy, before it is stored.
        let (model, calibratedFrom) = recovery.latencyModel(target, settings: settings)
        do {
            try FeasibilityCheck(space: space, target: r.target, model: model, constraints: constraints).check(seed: r.seed)
        } catch {
            throw ControlError(error.description)
        }
        let rec = try store.createSearch(new)
        searches[rec.id!] = try recovery.load(rec, space: space, settings: settings, model: model, calibratedFrom: calibratedFrom)
        logger.notice("search started", metadata: ["search": "\(rec.id!)", "space": "\(space.name)", "budget": "\(r.budget)",
                                                   "trainer": "\(trainer)", "target": "\(rec.target)"])
        return (rec.id!, chosen, StartWarnings.warning(r, space: space, strategy: strategy, trainer: trainer))
    }

    /// The checkpoint an `evaluator` names (`supernet`: the space's latest trained supernet;
    /// `supernet:ID`: search ID's), as the artifact `supernet` every job gets, and its search.
    func supernetCheckpoint(_ evaluator: String, space: SearchSpace) throws -> (WireArtifact, Int64) {
        let id = try StartSearchRequest.supernetID(evaluator: evaluator)
        let all = try store.supernets(space: id == nil ? space.name : nil)
        guard let sn = id.map({ i in all.first { $0.search.id == i } }) ?? all.first(where: \.isReady) else {
            throw ControlError(id.map { "search \($0) does not train a supernet (see `topiary supernet list`)" }
                               ?? "no trained supernet for the space '\(space.name)': train one first with `topiary supernet train SPACE`")
        }
        guard sn.search.spaceName == space.name else {
            throw ControlError("supernet:\(sn.search.id!) was trained for the space '\(sn.search.spaceName)', not '\(space.name)'")
        }
        guard let ck = sn.checkpoint else {
            throw ControlError("supernet:\(sn.search.id!) has no checkpoint yet (its trial is \(sn.trial?.state.rawValue ?? "not created")); "
                               + "wait for `topiary supernet list` to show it ready")
        }
        guard FileManager.default.fileExists(atPath: transfers.directory.path(of: ck.sha256)) else {
            throw ControlError("supernet:\(sn.search.id!): its checkpoint \(ck.sha256.prefix(16)) is missing from the artifacts directory (\(transfers.directory.root.path))")
        }
        return (WireArtifact(name: "supernet", sha256: ck.sha256, bytes: ck.bytes), sn.search.id!)
    }
}
