import Foundation
import TopiaryCore

/// A trained (or training) supernet: the search that trains it, its one trial and the
/// checkpoint its worker uploaded.
public struct SupernetRecord: Sendable {
    public var search: SearchRecord
    /// The search's run settings (fidelity, pool size).
    public var settings: JSONValue
    public var trial: TrialRecord?
    /// `supernet.pt` of the trial's completed attempt, once stored.
    public var checkpoint: ArtifactRecord?

    /// The trial's reported metrics (largest, smallest and sampled accuracy, ...).
    public var metrics: JSONValue? { trial?.metrics.flatMap { try? JSONText.parse($0) } }
    public var isReady: Bool { checkpoint != nil }
}

extension Store {
    /// Searches that train a supernet (their settings name a `supernet_pool`), newest first;
    /// only those of the space named `space` when given.
    public func supernets(space: String? = nil) throws -> [SupernetRecord] {
        var out: [SupernetRecord] = []
        for s in try searches().sorted(by: { $0.id! > $1.id! }) where space == nil || s.spaceName == space {
            guard let settings = try? JSONText.parse(s.strategySettings), settings["supernet_pool"] != nil else { continue }
            let trial = try trials(search: s.id!, limit: 1).first
            let checkpoint = try trial.flatMap { try storedArtifact(trial: $0.trialID, name: "supernet.pt") }
            out.append(SupernetRecord(search: s, settings: settings, trial: trial, checkpoint: checkpoint))
        }
        return out
    }
}
