extension SearchSpace {
    /// The exact number of distinct candidates: of the architectures alone
    /// (`.arch`), of the compression settings alone (`.compression`), or of both (nil).
    ///
    /// Dimensions that a condition switches off do not multiply the count: a stage of
    /// depth 2-4 with 9 block choices contributes 9^2 + 9^3 + 9^4, as in Once-for-All.
    public func count(_ section: Parameter.Section? = nil) -> BigCount {
        var groups: [String] = []
        var members: [String: [Parameter]] = [:]
        for p in parameters where section == nil || p.section == section {
            if members[p.group] == nil { groups.append(p.group) }
            members[p.group, default: []].append(p)
        }
        return groups.reduce(BigCount.one) { $0 * groupCount(members[$1]!) }
    }

    private func groupCount(_ params: [Parameter]) -> BigCount {
        let controllerNames = Set(params.compactMap(\.condition).flatMap(\.controllers))
        let controllers = params.filter { controllerNames.contains($0.name) && !$0.isFixed }
        let others = params.filter { !controllerNames.contains($0.name) && !$0.isFixed }
        var total = BigCount.zero
        // Enumerate every combination of the (few, small) controlling parameters.
        var combo = [Int](repeating: 0, count: controllers.count)
        while true {
            var assignment: [String: ChoiceValue] = [:]
            for (i, c) in controllers.enumerated() { assignment[c.name] = c.choices[combo[i]] }
            var product = BigCount.one
            for p in others where isActive(p, assignment) { product = product * BigCount(p.choices.count) }
            total = total + product
            var k = 0
            while k < combo.count {
                combo[k] += 1
                if combo[k] < controllers[k].choices.count { break }
                combo[k] = 0
                k += 1
            }
            if k == combo.count { break }
        }
        return total
    }
}
