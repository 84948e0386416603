import Foundation
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// The control endpoint: a client sends one `ControlRequest` (JSON, see TopiaryWire) on a
/// REQ socket and gets one JSON reply (`{"ok": true, …}` or `{"ok": false, "error": …}`).
extension CoordinatorLoop {
    mutating func handleControl(_ frames: [[UInt8]]) {
        guard frames.count >= 2 else { return }
        let identity = frames[0]
        let reply: JSONValue
        do {
            guard let body = frames.last, frames.count == 3, frames[1].isEmpty else {
                throw ControlError("expected one JSON frame from a REQ socket")
            }
            reply = try answer(try ControlRequest.decode(body))
        } catch {
            reply = .object([("ok", .bool(false)), ("error", .string("\(error)"))])
        }
        _ = try? controlSocket.send([identity, [], Array(reply.text().utf8)], dontWait: true)
    }

    mutating func answer(_ request: ControlRequest) throws -> JSONValue {
        switch request {
        case .ping:
            return ok([("version", .int(Wire.version)), ("control_version", .int(ControlRequest.version)),
                       ("workers", .int(registry.count)), ("searches", .int(searches.count))])
        case .startSearch(let r):
            do { return try startSearch(r) } catch { throw ControlError("search.start: \(error)") }
        case .listSearches:
            var rows: [JSONValue] = []
            for rec in try store.searches() { rows.append(try summary(rec)) }
            return ok([("searches", .array(rows))])
        case .showSearch(let id):
            guard let rec = try store.search(id) else { throw ControlError("no search \(id)") }
            var out = try summary(rec).objectPairs ?? []
            let top = try store.leaderboard(LeaderboardQuery(search: id, limit: 5))
            out.append(("top", .array(top.map { e in
                .object([("candidate", .string(e.candidateID)), ("accuracy", e.accuracy.map { .double($0) } ?? .null),
                         ("params", .int(e.params)), ("size_bytes", .int(e.sizeBytes)), ("macs", .int(e.macs))])
            })))
            return ok(out)
        case .pauseSearch(let id):
            let rec = try store.pauseSearch(id)
            searches[id]?.record = rec
            return ok([("search", .int(Int(id))), ("state", .string(rec.state.rawValue))])
        case .resumeSearch(let id):
            let rec = try store.resumeSearch(id)
            if searches[id] == nil { searches[id] = try recovery.load(rec) } else { searches[id]?.record = rec }
            return ok([("search", .int(Int(id))), ("state", .string(rec.state.rawValue))])
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
            return ok([("search", .int(Int(id))), ("state", .string("cancelled")), ("stopped", .int(stopped.count))])
        case .workers:
            let now = Date()
            let list: [JSONValue] = registry.all.sorted { $0.name < $1.name }.map { w in
                .object([("worker", .string(w.name)), ("host", .string(w.host)), ("slots", .int(w.slots)),
                         ("running", .int(w.running.count)), ("done", .int(w.done)),
                         ("jobs", .array(w.running.keys.sorted { $0.trial < $1.trial }.map { .string($0.description) })),
                         ("tags", .array(w.tags.sorted().map { .string($0) })), ("trainers", .array(w.trainers.sorted().map { .string($0) })),
                         ("last_heartbeat_ms", .int(Int(now.timeIntervalSince(w.lastHeard) * 1000))),
                         ("connected_s", .int(Int(now.timeIntervalSince(w.connectedAt)))),
                         // The CURVE key it authenticated with, by its allow-list name ("plain" without CURVE).
                         ("key", .string(w.key.map { allow?.name(of: $0) ?? $0 } ?? "plain"))])
            }
            return ok([("workers", .array(list))])
        }
    }

    func ok(_ pairs: [(String, JSONValue)]) -> JSONValue { .object([("ok", .bool(true))] + pairs) }

    func summary(_ rec: SearchRecord) throws -> JSONValue {
        let counts = try store.trialCounts(search: rec.id!)
        let live = searches[rec.id!]
        var p: [(String, JSONValue)] = [
            ("search", .int(Int(rec.id!))), ("space", .string(rec.spaceName)), ("target", .string(rec.target)),
            ("strategy", .string(rec.strategy)), ("state", .string(rec.state.rawValue)),
            ("budget", rec.budget.map { .int($0) } ?? .null), ("seed", .int(Int(rec.seed))),
            ("counts", .object(TrialState.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })),
            ("created_at", .string(ISO8601DateFormatter().string(from: rec.createdAt))),
        ]
        if let live {
            p.append(("rejected_by_constraints", .int(live.rejected)))
            p.append(("infeasible_on_target", .int(live.infeasible)))
            if let why = live.lastInfeasibility { p.append(("last_infeasibility", .string(why))) }
            p.append(("latency_model", .string(live.model == nil ? "none" : live.calibratedFrom > 0 ? "calibrated on \(live.calibratedFrom) measurements" : "profile")))
        } else if let ended = endedStats[rec.id!] {
            p.append(("rejected_by_constraints", .int(ended.rejected)))
            p.append(("infeasible_on_target", .int(ended.infeasible)))
            if let why = ended.lastInfeasibility { p.append(("last_infeasibility", .string(why))) }
        }
        if let b = live?.best { p.append(("best", .object([("accuracy", .double(b.accuracy)), ("candidate", .string(b.candidate))]))) }
        return .object(p)
    }

    /// Checks a search in full (space, target, calibration, strategy, objectives,
    /// constraints), stores it and loads it; the space and target are parsed once, here.
    mutating func startSearch(_ r: StartSearchRequest) throws -> JSONValue {
        try r.check()
        let space = try SearchSpace.parse(yaml: r.spaceYAML, file: r.spaceFile)
        guard Strategies.names.contains(r.strategy) else {
            throw ControlError("unknown strategy '\(r.strategy)'; use one of \(Strategies.names.joined(separator: ", "))")
        }
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
        let fidelity = JSONValue.object(r.fidelity.sorted { $0.key < $1.key }.map { k, v in
            switch v {
            case .int(let i): return (k, .int(i))
            case .double(let d): return (k, .double(d))
            case .string(let s): return (k, .string(s))
            }
        })
        var settings = RunSettings(trainer: trainer, fidelity: fidelity, deadlineSeconds: r.deadlineSeconds, constraints: constraints,
                                   kind: kind, targetYAML: r.targetYAML)
        settings.targetCalibration = r.targetCalibration
        settings.strategyOptions = try StrategyOptions(json: .object(r.strategyOptions.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        settings.retryFailed = r.retryFailed
        let new = NewSearch(space: space, target: r.target, strategy: r.strategy, strategySettings: settings.json,
                            objectives: r.effectiveObjectives, constraints: .array(constraints.map { .string($0.description) }),
                            budget: r.budget, seed: r.seed, maxAttempts: r.maxAttempts)
        // Check the strategy accepts its options and objectives before anything is stored.
        let objectives = try new.objectives.map { t throws -> SearchObjective in try SearchObjective.parse(t) }
        _ = try Strategies.make(r.strategy, options: settings.strategyOptions,
                                problem: SearchProblem(space: space, seed: new.seed, fidelity: settings.fidelityValue, objectives: objectives))
        let rec = try store.createSearch(new)
        searches[rec.id!] = try recovery.load(rec, space: space, settings: settings, target: target)
        logger.notice("search started", metadata: ["search": "\(rec.id!)", "space": "\(space.name)", "budget": "\(r.budget)",
                                                   "trainer": "\(trainer)", "target": "\(rec.target)"])
        return ok([("search", .int(Int(rec.id!)))])
    }
}
