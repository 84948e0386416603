/// What a supernet job trains on: the space's largest network (its weights are the
/// supernet's), its smallest, a pool of sampled networks, and `extra` networks that hold
/// the layers the largest lacks (MobileNet blocks without an expansion layer compute on the
/// block's input, so they get weights of their own), all as uncompressed graphs.
/// The trainer cuts every network's weights from the largest by layer label (see
/// Workers/pytorch/supernet.py), so it needs no copy of the space's rules.
public enum SupernetPool {
    public static let defaultSize = 256
    /// A pool graph is about 14 KB of JSON; 512 keep a job well under the wire's 16 MiB.
    public static let sizes = 1...512

    /// Why the space has no supernet, or nil when it can have one.
    public static func refusal(_ space: SearchSpace) -> String? {
        if let b = space.benchmark {
            return "the space '\(space.name)' reproduces \(b.rawValue): its candidates are evaluated by the benchmark's table, not by a supernet"
        }
        return nil
    }

    /// `{"largest": graph, "smallest": graph, "graphs": [graph, ...], "extra": [graph]}`: `count` networks
    /// drawn uniformly from `seed` (architecture only; compression is applied per candidate
    /// after inheritance).
    public static func json(space: SearchSpace, count: Int, seed: UInt64) -> JSONValue {
        var rng = SeededGenerator(seed: seed)
        let graphs = (0..<count).map { _ in
            NetworkGraph.build(space.uncompressed(space.sample(using: &rng)), in: space).json
        }
        let largest = space.extremeNetwork(largest: true)
        // The largest with every expansion at its least: blocks without an expansion layer.
        let unexpanded = space.extremeNetwork(largest: true, least: { $0.hasSuffix(".expansion") })
        return .object([
            ("largest", NetworkGraph.build(largest, in: space).json),
            ("smallest", NetworkGraph.build(space.extremeNetwork(largest: false), in: space).json),
            ("graphs", .array(graphs)),
            ("extra", .array(unexpanded == largest ? [] : [NetworkGraph.build(unexpanded, in: space).json])),
        ])
    }
}

extension SearchSpace {
    /// The space's largest (or smallest) network without compression: every architecture
    /// dimension at its largest (smallest) number, yes (no) for yes/no choices, the first of
    /// named choices. The largest shapes a supernet's weights; the sandwich rule trains the
    /// smallest beside it.
    /// `least` names dimensions taken at the other end.
    public func extremeNetwork(largest wantLargest: Bool, least: (String) -> Bool = { _ in false }) -> Candidate {
        var partial: [String: ChoiceValue] = [:]
        for p in parameters where !p.isFixed && p.section == .arch {
            let largest = wantLargest != least(p.name)
            let numbers = p.choices.compactMap(\.doubleValue)
            if numbers.count == p.choices.count {
                let pick = largest ? numbers.max()! : numbers.min()!
                partial[p.name] = p.choices.first { $0.doubleValue == pick }
            } else if p.choices.allSatisfy({ $0.boolValue != nil }) {
                partial[p.name] = .bool(largest)
            } else {
                partial[p.name] = p.choices[0]
            }
        }
        return withoutCompression(partial)
    }

    /// The candidate's architecture with compression off (where the space allows it off).
    public func uncompressed(_ c: Candidate) -> Candidate {
        withoutCompression(c.choices.filter { !CompressionKeys.all.contains($0.key) })
    }

    /// A candidate of these architecture choices whose compression dimensions take their
    /// "off" value: no pruning, the widest numbers, no distillation, full rank, no sharing.
    func withoutCompression(_ arch: [String: ChoiceValue]) -> Candidate {
        typealias K = CompressionKeys
        var partial = arch
        for p in parameters where !p.isFixed && p.section == .compression {
            let numbers = p.choices.compactMap(\.doubleValue)
            switch p.name {
            case K.pruningMethod: partial[p.name] = p.choices.first { $0.stringValue == "none" } ?? p.choices[0]
            case K.distillEnabled: partial[p.name] = p.choices.first { $0.boolValue == false } ?? p.choices[0]
            case K.clusters: partial[p.name] = p.choices.first { $0.doubleValue == numbers.min() } ?? p.choices[0]
            default:
                // Bits and rank ratio: the largest is no compression; others are inactive then.
                partial[p.name] = numbers.count == p.choices.count ? p.choices.first { $0.doubleValue == numbers.max() } : p.choices[0]
            }
        }
        var rng = SeededGenerator(seed: 0)
        return candidate(from: partial, using: &rng)
    }
}
