extension SearchSpace {
    /// Reads a candidate from JSON text (as `canonicalJSON` writes it) and checks it
    /// against this space.
    public func decode(json text: String) throws(CandidateError) -> Candidate {
        let value: JSONValue
        do { value = try JSONText.parse(text) } catch { throw CandidateError(error.description) }
        return try decode(json: value)
    }

    /// Checks a parsed candidate against this space. Architecture fields must all be
    /// given; compression fields that are left out take their first listed choice.
    public func decode(json value: JSONValue) throws(CandidateError) -> Candidate {
        guard let pairs = value.objectPairs else { throw CandidateError("expected a JSON object with 'arch' and 'compression'") }
        for (k, _) in pairs where !["arch", "compression", "space", "id"].contains(k) {
            throw CandidateError(field: k, "unknown field; a candidate has arch, compression, space (and optionally id)")
        }
        if let s = value["space"] {
            guard s.stringValue == name else {
                throw CandidateError(field: "space", "candidate is for space '\(s.stringValue ?? s.canonical)', not '\(name)'")
            }
        }
        guard let arch = value["arch"]?.objectPairs else { throw CandidateError(field: "arch", "missing or not an object") }
        var given: [String: (ChoiceValue, String)] = [:]
        for (k, v) in arch {
            guard let p = parameter(named: k), p.section == .arch else {
                throw CandidateError(field: "arch.\(k)", "no such dimension in space '\(name)'")
            }
            guard let cv = v.choiceValue else { throw CandidateError(field: "arch.\(k)", "expected a scalar, found \(v.canonical)") }
            given[k] = (cv, "arch.\(k)")
        }
        if let comp = value["compression"] {
            guard let techniques = comp.objectPairs else { throw CandidateError(field: "compression", "expected an object") }
            for (t, fields) in techniques {
                guard let fieldPairs = fields.objectPairs else { throw CandidateError(field: "compression.\(t)", "expected an object") }
                for (f, v) in fieldPairs {
                    let key = "\(t).\(f)"
                    guard let p = parameter(named: key), p.section == .compression else {
                        throw CandidateError(field: "compression.\(key)", "no such compression setting")
                    }
                    guard let cv = v.choiceValue else { throw CandidateError(field: "compression.\(key)", "expected a scalar, found \(v.canonical)") }
                    given[key] = (cv, "compression.\(key)")
                }
            }
        }
        var assignment: [String: ChoiceValue] = [:]
        let lookup: (String) -> ChoiceValue? = { n in
            assignment[n] ?? self.parameter(named: n).flatMap { $0.isFixed ? $0.choices[0] : nil }
        }
        for p in parameters {
            let active = p.condition?.holds(lookup) ?? true
            let field = p.section == .arch ? "arch.\(p.name)" : "compression.\(p.name)"
            guard let (v, _) = given[p.name] else {
                if active && !p.isFixed {
                    // Compression settings, and the input size of an elastic space (candidates
                    // written before it was elastic), take their first listed choice.
                    if p.section == .compression || p.name == SearchSpace.inputSizeDimension { assignment[p.name] = p.choices[0]; continue }
                    throw CandidateError(field: field, "missing; choose one of \(p.choices.map(\.description).joined(separator: ", "))")
                }
                continue
            }
            guard let idx = p.index(of: v) else {
                throw CandidateError(field: field, "\(v) is not a choice; choose one of \(p.choices.map(\.description).joined(separator: ", "))")
            }
            if !active {
                if p.section == .compression && p.choices[idx] == p.choices[0] && p.isFixed { continue }
                throw CandidateError(field: field, "is set but does not take part (\(conditionText(p)))")
            }
            if !p.isFixed { assignment[p.name] = p.choices[idx] }
        }
        return makeCandidate(assignment)
    }

    private func conditionText(_ p: Parameter) -> String {
        switch p.condition {
        case let .atLeast(d, n)?: return "only when \(d) >= \(n)"
        case let .notEqual(d, v)?: return "only when \(d) is not \(v)"
        case let .anyAtMost(ds, n)?: return "only when \(ds.joined(separator: " or ")) <= \(n)"
        case nil: return "always"
        }
    }

    /// The candidate with the given architecture choices and every compression
    /// dimension at its first listed choice.
    func candidateWithDefaultCompression(_ arch: [String: ChoiceValue]) -> Candidate {
        var a = arch
        for p in parameters where p.section == .compression && !p.isFixed && isActive(p, a) { a[p.name] = p.choices[0] }
        return makeCandidate(a)
    }
}
