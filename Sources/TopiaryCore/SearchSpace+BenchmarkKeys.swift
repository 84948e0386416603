extension SearchSpace {
    /// Decodes a public benchmark's key to a candidate: the 8 digits of NAS-Bench-Macro
    /// or a NAS-Bench-201 architecture string. Compression takes its first choices.
    public func decode(benchmarkKey key: String) throws(CandidateError) -> Candidate {
        switch benchmark {
        case .nasBenchMacro?: return try decodeDigits(key)
        case .nasBench201?: return try decodeCellString(key)
        case nil: throw CandidateError("space '\(name)' declares no benchmark, so it has no keys")
        }
    }

    /// The benchmark key of a candidate's architecture.
    public func encodeBenchmarkKey(_ c: Candidate) throws(CandidateError) -> String {
        guard contains(c) else { throw CandidateError(field: "space", "candidate does not belong to space '\(name)'") }
        let dims = parameters.filter { $0.section == .arch && !$0.isFixed }
        switch benchmark {
        case .nasBenchMacro?:
            return dims.map { String($0.index(of: c.choices[$0.name]!)!) }.joined()
        case .nasBench201?:
            guard case .cell(let cell) = network else { break }
            var groups: [String] = []
            for j in 1..<cell.nodes {
                let ops = cell.edges.filter { $0.to == j }.map { e in "\(value(e.parameter, in: c)!.description)~\(e.from)" }
                groups.append("|" + ops.joined(separator: "|") + "|")
            }
            return groups.joined(separator: "+")
        case nil: break
        }
        throw CandidateError("space '\(name)' declares no benchmark, so it has no keys")
    }

    private func decodeDigits(_ key: String) throws(CandidateError) -> Candidate {
        let dims = parameters.filter { $0.section == .arch && !$0.isFixed }
        guard key.count == dims.count, key.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CandidateError(field: "key", "'\(key)' is not a key of \(name): expected \(dims.count) digits")
        }
        var arch: [String: ChoiceValue] = [:]
        for (d, ch) in zip(dims, key) {
            let i = Int(String(ch))!
            guard i < d.choices.count else {
                throw CandidateError(field: d.name, "digit \(i) is out of range: \(d.name) has \(d.choices.count) choices (0-\(d.choices.count - 1))")
            }
            arch[d.name] = d.choices[i]
        }
        return candidateWithDefaultCompression(arch)
    }

    private func decodeCellString(_ key: String) throws(CandidateError) -> Candidate {
        guard case .cell(let cell) = network else { throw CandidateError("not a cell space") }
        let groups = key.split(separator: "+", omittingEmptySubsequences: false)
        guard groups.count == cell.nodes - 1 else {
            throw CandidateError(field: "key", "'\(key)' has \(groups.count) nodes separated by '+'; expected \(cell.nodes - 1)")
        }
        var arch: [String: ChoiceValue] = [:]
        for (j0, group) in groups.enumerated() {
            let j = j0 + 1
            guard group.hasPrefix("|"), group.hasSuffix("|"), group.count >= 2 else {
                throw CandidateError(field: "node \(j)", "'\(group)' must look like |op~i|op~i|")
            }
            let entries = group.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
            guard entries.count == j else {
                throw CandidateError(field: "node \(j)", "has \(entries.count) inputs; node \(j) takes exactly \(j) (from nodes 0-\(j - 1))")
            }
            for entry in entries {
                let parts = entry.split(separator: "~", omittingEmptySubsequences: false)
                guard parts.count == 2, let i = Int(parts[1]), i >= 0, i < j else {
                    throw CandidateError(field: "node \(j)", "'\(entry)' must be op~i with 0 <= i < \(j)")
                }
                let pname = CellSpec.edgeName(to: j, from: i)
                guard arch[pname] == nil else { throw CandidateError(field: pname, "edge given twice") }
                let op = ChoiceValue.string(String(parts[0]))
                guard let p = parameter(named: pname) else { throw CandidateError(field: pname, "no such edge") }
                guard let idx = p.index(of: op) else {
                    throw CandidateError(field: pname, "'\(parts[0])' is not an operation of this space; choose one of \(p.choices.map(\.description).joined(separator: ", "))")
                }
                arch[pname] = p.choices[idx]
            }
        }
        // Fixed edges (a space with one op) are not dimensions.
        for p in parameters where p.section == .arch && p.isFixed { arch.removeValue(forKey: p.name) }
        return candidateWithDefaultCompression(arch)
    }
}
