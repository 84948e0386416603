/// Pareto ranking for several objectives, every value turned so that larger is better.
public enum Pareto {
    /// Whether `a` dominates `b`: no worse in every objective and better in one.
    @inlinable
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        var better = false
        for (x, y) in zip(a, b) {
            if x < y { return false }
            if x > y { better = true }
        }
        return better
    }

    /// Fast non-dominated sorting (Deb et al. 2002): indices of `points` by front, the
    /// first front holding the points no other point dominates. Indices ascend in each front.
    public static func fronts(_ points: [[Double]]) -> [[Int]] {
        let n = points.count
        var dominatedBy = [Int](repeating: 0, count: n)
        var dominates = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) {
                if Self.dominates(points[i], points[j]) {
                    dominates[i].append(j)
                    dominatedBy[j] += 1
                } else if Self.dominates(points[j], points[i]) {
                    dominates[j].append(i)
                    dominatedBy[i] += 1
                }
            }
        }
        var out: [[Int]] = []
        var current = (0..<n).filter { dominatedBy[$0] == 0 }
        while !current.isEmpty {
            out.append(current)
            var next: [Int] = []
            for i in current {
                for j in dominates[i] {
                    dominatedBy[j] -= 1
                    if dominatedBy[j] == 0 { next.append(j) }
                }
            }
            current = next.sorted()
        }
        return out
    }

    /// Crowding distance of each member of one front (same order as `front`): the sum over
    /// objectives of the normalized gap between its neighbours; infinite at the extremes.
    public static func crowding(_ points: [[Double]], front: [Int]) -> [Double] {
        let k = front.count
        guard k > 2 else { return [Double](repeating: .infinity, count: k) }
        var dist = [Double](repeating: 0, count: k)
        let m = points[front[0]].count
        for o in 0..<m {
            let order = (0..<k).sorted { (points[front[$0]][o], $0) < (points[front[$1]][o], $1) }
            let lo = points[front[order[0]]][o]
            let hi = points[front[order[k - 1]]][o]
            dist[order[0]] = .infinity
            dist[order[k - 1]] = .infinity
            guard hi > lo else { continue }
            for r in 1..<(k - 1) {
                dist[order[r]] += (points[front[order[r + 1]]][o] - points[front[order[r - 1]]][o]) / (hi - lo)
            }
        }
        return dist
    }

    /// The `count` best points by (front, crowding distance descending, index), as NSGA-II
    /// selects survivors; with each chosen point's front number and crowding distance.
    public static func select(_ points: [[Double]], count: Int) -> [(index: Int, rank: Int, crowding: Double)] {
        var out: [(Int, Int, Double)] = []
        for (rank, front) in fronts(points).enumerated() {
            guard out.count < count else { break }
            let cd = crowding(points, front: front)
            let members = zip(front, cd).sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }
            for (i, c) in members.prefix(count - out.count) { out.append((i, rank, c)) }
        }
        return out
    }

    /// Area dominated by 2-objective points (larger is better in both) and bounded below by
    /// `reference`; points not better than the reference in both count for nothing.
    public static func hypervolume2D(_ points: [(Double, Double)], reference: (Double, Double)) -> Double {
        let pts = points.filter { $0.0 > reference.0 && $0.1 > reference.1 }.sorted { ($0.0, $0.1) > ($1.0, $1.1) }
        var area = 0.0
        var bestY = reference.1
        for (i, p) in pts.enumerated() {
            bestY = max(bestY, p.1)
            let nextX = i + 1 < pts.count ? pts[i + 1].0 : reference.0
            area += (p.0 - nextX) * (bestY - reference.1)
        }
        return area
    }
}
