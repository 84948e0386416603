import Foundation
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore
import TopiaryWire

/// The control endpoint: the CLI sends one JSON request (`{"op": …}`) on a REQ socket
/// and gets one JSON reply (`{"ok": true, …}` or `{"ok": false, "error": …}`).
extension CoordinatorLoop {
    mutating func handleControl(_ frames: [[UInt8]]) {
        guard frames.count >= 2 else { return }
        let identity = frames[0]
        let reply: JSONValue
        do {
            guard let body = frames.last, frames.count == 3, frames[1].isEmpty else {
                throw ControlError("expected one JSON frame from a REQ socket")
            }
            let request = try JSONText.parse(String(decoding: body, as: UTF8.self))
            reply = try answer(request)
        } catch {
            reply = .object([("ok", .bool(false)), ("error", .string("\(error)"))])
        }
        _ = try? controlSocket.send([identity, [], Array(reply.text().utf8)], dontWait: true)
    }

    mutating func answer(_ r: JSONValue) throws -> JSONValue {
        guard let op = r["op"]?.stringValue else { throw ControlError("request needs an 'op'") }
        func searchID() throws -> Int64 {
            guard let id = r["search"]?.intValue else { throw ControlError("\(op): 'search' (an integer id) is required") }
            return Int64(id)
        }
        switch op {
        case "ping":
            return ok([("version", .int(Wire.version)), ("workers", .int(registry.count)), ("searches", .int(searches.count))])
        case "search.start":
            return try startSearch(r)
        case "search.list":
            var rows: [JSONValue] = []
            for rec in try store.searches() { rows.append(try summary(rec)) }
            return ok([("searches", .array(rows))])
        case "search.show":
            let id = try searchID()
            guard let rec = try store.search(id) else { throw ControlError("no search \(id)") }
            var out = try summary(rec).objectPairs ?? []
            let top = try store.leaderboard(LeaderboardQuery(search: id, limit: 5))
            out.append(("top", .array(top.map { e in
                .object([("candidate", .string(e.candidateID)), ("accuracy", e.accuracy.map { .double($0) } ?? .null),
                         ("params", .int(e.params)), ("size_bytes", .int(e.sizeBytes)), ("macs", .int(e.macs))])
            })))
            return ok(out)
        case "search.pause":
            let id = try searchID()
            let rec = try store.pauseSearch(id)
            searches[id]?.record = rec
            return ok([("search", .int(Int(id))), ("state", .string(rec.state.rawValue))])
        case "search.resume":
            let id = try searchID()
            let rec = try store.resumeSearch(id)
            if searches[id] == nil { searches[id] = try recovery.load(rec) } else { searches[id]?.record = rec }
            return ok([("search", .int(Int(id))), ("state", .string(rec.state.rawValue))])
        case "search.cancel":
            let id = try searchID()
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
        case "workers":
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
        default:
            throw ControlError("unknown op '\(op)'")
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

    mutating func startSearch(_ r: JSONValue) throws -> JSONValue {
        guard let yaml = r["space_yaml"]?.stringValue else { throw ControlError("search.start: 'space_yaml' is required") }
        let file = r["space_file"]?.stringValue ?? "<space>"
        let space = try SearchSpace.parse(yaml: yaml, file: file)
        let strategy = r["strategy"]?.stringValue ?? "random"
        guard Strategies.names.contains(strategy) else {
            throw ControlError("search.start: unknown strategy '\(strategy)'; use one of \(Strategies.names.joined(separator: ", "))")
        }
        guard let budget = r["budget"]?.intValue, budget >= 1, budget <= 10_000_000 else {
            throw ControlError("search.start: 'budget' must be an integer from 1 to 10000000")
        }
        let constraints = try (r["constraints"]?.arrayValue ?? []).map { v -> Constraint in
            guard let s = v.stringValue else { throw ControlError("search.start: constraints must be strings like params<=100000") }
            return try Constraint.parse(s)
        }
        let trainer = r["trainer"]?.stringValue ?? (space.benchmark != nil ? "table" : "pytorch")
        let kind = TrialKind(rawValue: r["kind"]?.stringValue ?? "train")
        guard let kind else { throw ControlError("search.start: 'kind' must be train or measure") }
        let targetYAML = r["target_yaml"]?.stringValue
        let parsedTarget = try targetYAML.map { try HardwareTarget.parse(yaml: $0, file: "target") }
        let targetCalibration = r["target_calibration"]?.stringValue
        if let targetCalibration {
            guard let parsedTarget else { throw ControlError("search.start: 'target_calibration' needs 'target_yaml'") }
            do {
                try Calibration.parse(json: targetCalibration, file: "target_calibration").check(against: parsedTarget)
            } catch {
                throw ControlError("search.start: \(error.description)")
            }
        }
        if constraints.contains(where: { $0.metric == .latencyMs }) && targetYAML == nil {
            throw ControlError("search.start: a latency_ms constraint needs the target's profile (target_yaml)")
        }
        var settings = RunSettings(trainer: trainer, fidelity: r["fidelity"] ?? .object([]),
                                   deadlineSeconds: r["deadline_s"]?.intValue ?? 3600, constraints: constraints,
                                   kind: kind, targetYAML: targetYAML)
        settings.targetCalibration = targetCalibration
        if let o = r["strategy_options"] { settings.strategyOptions = try StrategyOptions(json: o) }
        settings.retryFailed = r["retry_failed"]?.boolValue ?? false
        if trainer == "table" && space.benchmark == nil {
            throw ControlError("search.start: the table trainer needs a benchmark space (nas-bench-macro, nas-bench-201)")
        }
        let objectives = (r["objectives"]?.arrayValue ?? []).compactMap(\.stringValue)
        let new = NewSearch(space: space, target: r["target"]?.stringValue ?? "host-cpu", strategy: strategy,
                            strategySettings: settings.json, objectives: objectives.isEmpty ? ["accuracy:max"] : objectives,
                            constraints: .array(constraints.map { .string($0.description) }), budget: budget,
                            seed: UInt64(bitPattern: Int64(r["seed"]?.intValue ?? 0)), maxAttempts: r["max_attempts"]?.intValue ?? 3)
        // Check the strategy accepts its options and objectives before anything is stored.
        let objectivesParsed = try new.objectives.map { t throws -> SearchObjective in try SearchObjective.parse(t) }
        _ = try Strategies.make(strategy, options: settings.strategyOptions,
                                problem: SearchProblem(space: space, seed: new.seed, fidelity: settings.fidelityValue, objectives: objectivesParsed))
        let rec = try store.createSearch(new)
        searches[rec.id!] = try recovery.load(rec)
        logger.notice("search started", metadata: ["search": "\(rec.id!)", "space": "\(space.name)", "budget": "\(budget)",
                                                   "trainer": "\(trainer)", "target": "\(rec.target)"])
        return ok([("search", .int(Int(rec.id!)))])
    }
}

struct ControlError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
