import Foundation
import Logging
import TopiaryCore
import TopiaryHardware
import TopiarySearch
import TopiaryStore

/// A trial left running by a previous daemon, waiting for its worker to reclaim it.
struct Orphan: Equatable {
    var attempt: Int
    var search: Int64
}

/// Rebuilding searches from the store: a search's runtime with its strategy restored from
/// its trial history (so it goes on as if never interrupted) and its queue reloaded; the
/// trials a previous daemon left running; the target's latency model calibrated on the
/// measurements the store holds. Reads only (start-up and `search.resume`).
struct Recovery {
    let store: Store
    let logger: Logger
    /// Where a search finds the figures other searches of its space and model computed.
    var figureCaches = FigureCaches()

    /// The runtime of a stored search.
    func load(_ record: SearchRecord) throws -> SearchRuntime {
        let space = try SearchSpace.parse(yaml: record.spaceYAML, file: "search \(record.id!) space")
        let settings = try RunSettings(json: (try? JSONText.parse(record.strategySettings)) ?? .object([]))
        let target = try settings.targetYAML.map { try HardwareTarget.parse(yaml: $0, file: "target \(record.target)") }
        return try load(record, space: space, settings: settings, target: target)
    }

    /// The runtime of a stored search whose space, settings and target are already parsed
    /// (a search just started: the request's were).
    func load(_ record: SearchRecord, space: SearchSpace, settings: RunSettings, target: HardwareTarget?) throws -> SearchRuntime {
        let (model, samples) = latencyModel(target, settings: settings)
        return try load(record, space: space, settings: settings, model: model, calibratedFrom: samples)
    }

    /// The target's latency model for a search: the profile, refined by the calibration saved
    /// with the search and the store's measurements. Also the number of measurements used.
    func latencyModel(_ target: HardwareTarget?, settings: RunSettings) -> (LatencyModel?, Int) {
        guard let target else { return (nil, 0) }
        let saved = settings.targetCalibration.flatMap { try? Calibration.parse(json: $0, file: "the search's calibration") }
        let (calibration, n) = calibrate(target, prior: saved)
        return (LatencyModel(target: target, calibration: calibration), n)
    }

    /// The runtime of a stored search whose latency model is already built.
    func load(_ record: SearchRecord, space: SearchSpace, settings: RunSettings, model: LatencyModel?, calibratedFrom samples: Int) throws -> SearchRuntime {
        let trials = try store.trials(search: record.id!)
        var candidates: [String: Candidate] = [:]
        var history: [Trial] = []
        for t in trials {
            if candidates[t.candidateID] == nil, let c = try store.candidate(t.candidateID) {
                candidates[t.candidateID] = try space.decode(json: c.canonicalJSON)
            }
            guard let c = candidates[t.candidateID], t.phase == .search else { continue }  // finalists are not the strategy's
            let status: TrialStatus
            switch t.state {
            case .queued, .running: status = .pending
            case .completed: status = .completed(Self.numbers(t.metrics))
            case .failed: status = .failed
            case .pruned, .cancelled: status = .stopped
            }
            let reports = try store.progress(trial: t.trialID).map { ProgressReport(step: Double($0.step), metrics: Self.numbers($0.metrics)) }
            history.append(Trial(candidate: c, fidelity: t.fidelity, status: status, reports: reports))
        }
        var rt = try SearchRuntime(record: record, space: space, settings: settings, model: model, calibratedFrom: samples, history: history,
                                   figures: figureCaches.cache(space: record.spaceYAML, model: model))
        rt.candidates = candidates
        rt.created = trials.filter { $0.phase == .search }.count
        for t in trials {
            if t.phase == .final {
                rt.finalTrials.insert(t.trialID)
                rt.finalPhaseStarted = true
            } else {
                rt.keys[t.trialID] = TrialKey(candidateID: t.candidateID, fidelity: t.fidelity)
            }
            switch t.state {
            case .queued: rt.pushQueued(QueuedTrial(trial: t.trialID, attempt: t.attempt, candidateID: t.candidateID, fidelity: t.fidelity))
            case .running: rt.running += 1
            default:
                rt.finished += 1
                if t.state == .failed && t.phase == .search { rt.failed += 1 }
                if let a = t.accuracy, a > (rt.best?.accuracy ?? -Double.infinity) { rt.best = (a, t.candidateID) }
            }
        }
        logger.info("search resumed", metadata: ["search": "\(rt.id)", "strategy": "\(record.strategy)", "trials": "\(trials.count)", "queued": "\(rt.queued)"])
        return rt
    }

    /// The runtimes of every active or paused search.
    func loadAll() throws -> [Int64: SearchRuntime] {
        var out: [Int64: SearchRuntime] = [:]
        for record in try store.searches() where record.state == .active || record.state == .paused {
            out[record.id!] = try load(record)
        }
        return out
    }

    /// The trials of these searches that a previous daemon left running.
    func orphans(of searches: [Int64: SearchRuntime]) throws -> [Int64: Orphan] {
        var out: [Int64: Orphan] = [:]
        for s in searches.values {
            for t in try store.trials(search: s.id, state: .running) { out[t.trialID] = Orphan(attempt: t.attempt, search: s.id) }
        }
        return out
    }

    /// The numeric fields of a stored metrics object.
    static func numbers(_ text: String?) -> [String: Double] {
        guard let text, let pairs = (try? JSONText.parse(text))?.objectPairs else { return [:] }
        var out: [String: Double] = [:]
        for (k, v) in pairs { if let d = v.doubleValue { out[k] = d } }
        return out
    }

    /// The target's model calibration: fitted to the store's measurements of the target
    /// when there are 5 or more (starting from `prior`, the calibration saved with the
    /// search, when there is one), else `prior` itself. Returns the calibration and the
    /// number of measurements used.
    func calibrate(_ target: HardwareTarget, prior: Calibration? = nil) -> (Calibration?, Int) {
        do {
            let measured = try store.measurements(target: target.name, source: .measured)
            guard measured.count >= 5 else { return (prior, 0) }
            var spaces: [String: SearchSpace] = [:]
            let plain = LatencyModel(target: target)
            var samples: [CalibrationSample] = []
            for m in measured {
                guard let rec = try store.candidate(m.candidateID) else { continue }
                if spaces[rec.spaceName] == nil, let yaml = try store.spaceYAML(named: rec.spaceName) {
                    spaces[rec.spaceName] = try? SearchSpace.parse(yaml: yaml, file: rec.spaceName)
                }
                guard let space = spaces[rec.spaceName], let c = try? space.decode(json: rec.canonicalJSON) else { continue }
                samples.append(plain.sample(NetworkGraph.build(compressed: c, in: space), measuredMilliseconds: m.latencyMs, label: m.candidateID))
            }
            guard samples.count >= 5 else { return (prior, 0) }
            let cal = try Calibrator().fit(samples: samples, target: target, prior: prior?.coefficients)
            logger.notice("latency model calibrated", metadata: ["target": "\(target.name)", "samples": "\(samples.count)",
                                                                  "within_10pct": "\(cal.quality.withinTenPercent)"])
            return (cal, samples.count)
        } catch {
            logger.warning("could not calibrate the latency model; using the saved calibration or the profile alone", metadata: ["target": "\(target.name)", "error": "\(error)"])
            return (prior, 0)
        }
    }
}
