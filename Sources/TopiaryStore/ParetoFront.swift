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
        let order = lexicographicOrder(points, n: n, d: d)
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

    /// Point indices in lexicographic order of the points (index order among equals). Sorts
    /// (first coordinate, index) pairs, then re-sorts runs that tie on the first coordinate:
    /// much faster than comparing whole points when, as usual, the first figure rarely ties.
    static func lexicographicOrder(_ points: [Double], n: Int, d: Int) -> [Int] {
        var keys = (0..<n).map { (points[$0 * d], $0) }
        keys.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var order = keys.map(\.1)
        guard d > 1 else { return order }
        points.withUnsafeBufferPointer { p in
            var start = 0
            while start < n {
                var end = start + 1
                while end < n && keys[end].0 == keys[start].0 { end += 1 }
                if end - start > 1 {
                    order[start..<end].sort { a, b in
                        for k in 1..<d where p[a * d + k] != p[b * d + k] { return p[a * d + k] < p[b * d + k] }
                        return a < b
                    }
                }
                start = end
            }
        }
        return order
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
