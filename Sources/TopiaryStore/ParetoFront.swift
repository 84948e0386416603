/// Pareto fronts of points whose every coordinate is to be minimised (negate a figure to
/// maximise it).
public enum ParetoFront {
    /// Indices of the points no other point dominates, in increasing lexicographic order of
    /// the points. A point dominates another if it is no worse in every coordinate and
    /// better in one; equal points do not dominate each other, so both stay.
    /// - Parameter points: `count * dimensions` values, point after point.
    public static func indices(of points: [Double], dimensions d: Int) -> [Int] {
        precondition(d >= 1 && points.count % d == 0, "points must hold whole points of \(d) coordinates")
        let n = points.count / d
        if n == 0 { return [] }
        let order: [Int] = points.withUnsafeBufferPointer { p in
            (0..<n).sorted { a, b in
                for k in 0..<d where p[a * d + k] != p[b * d + k] { return p[a * d + k] < p[b * d + k] }
                return a < b
            }
        }
        // Sorted lexicographically, a dominator comes before what it dominates, and any
        // dominated point is dominated by some point already on the front.
        var front: [Int] = []
        if d == 1 {
            let best = points[order[0]]
            return order.filter { points[$0] == best }
        }
        if d == 2 {
            var minY = Double.infinity
            for i in order {
                let x = points[i * 2], y = points[i * 2 + 1]
                if y < minY {
                    front.append(i)
                    minY = y
                } else if let last = front.last, points[last * 2] == x, points[last * 2 + 1] == y {
                    front.append(i)
                }
            }
            return front
        }
        // Front members in a move-to-front list: the ones that dominate often are tried first.
        var checkOrder: [Int] = []
        points.withUnsafeBufferPointer { p in
            for i in order {
                var dominated = false
                for pos in checkOrder.indices where dominates(checkOrder[pos], i, p, d) {
                    dominated = true
                    if pos > 0 { checkOrder.swapAt(pos, pos / 2) }
                    break
                }
                if !dominated {
                    front.append(i)
                    checkOrder.append(i)
                }
            }
        }
        return front
    }

    /// Whether point `a` dominates point `b`.
    @inline(__always)
    static func dominates(_ a: Int, _ b: Int, _ p: UnsafeBufferPointer<Double>, _ d: Int) -> Bool {
        var strictly = false
        for k in 0..<d {
            let x = p[a * d + k], y = p[b * d + k]
            if x > y { return false }
            if x < y { strictly = true }
        }
        return strictly
    }
}
