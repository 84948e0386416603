import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite struct ParetoTests {
    /// Random points on a coarse grid, so ties and duplicates occur.
    static func points(_ n: Int, objectives m: Int, seed: UInt64) -> [[Double]] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { _ in (0..<m).map { _ in Double(g.index(below: 6)) } }
    }

    /// Front number by definition: 0 if nothing dominates it, else one more than the
    /// largest front number among those that dominate it.
    static func bruteFronts(_ p: [[Double]]) -> [Int] {
        var rank = [Int](repeating: -1, count: p.count)
        var assigned = 0
        var level = 0
        while assigned < p.count {
            let current = p.indices.filter { i in
                rank[i] == -1 && !p.indices.contains { j in rank[j] == -1 && j != i && Pareto.dominates(p[j], p[i]) }
            }
            for i in current { rank[i] = level }
            assigned += current.count
            level += 1
        }
        return rank
    }

    @Test(arguments: [(2, 1), (2, 2), (3, 3), (4, 4), (3, 5)])
    func nonDominatedSortingMatchesBruteForce(objectives: Int, seed: UInt64) {
        let p = Self.points(60, objectives: objectives, seed: seed)
        let fronts = Pareto.fronts(p)
        var rank = [Int](repeating: -1, count: p.count)
        for (r, f) in fronts.enumerated() { for i in f { rank[i] = r } }
        #expect(rank == Self.bruteFronts(p))
        #expect(fronts.flatMap { $0 }.count == p.count)
    }

    @Test func crowdingDistanceMatchesTheDefinition() {
        // One front of 2-objective points along a line: distances are the normalized
        // neighbour gaps summed over both objectives; extremes are infinite.
        let p: [[Double]] = [[0, 10], [1, 8], [4, 5], [6, 1], [10, 0]]
        let cd = Pareto.crowding(p, front: [0, 1, 2, 3, 4])
        #expect(cd[0] == .infinity && cd[4] == .infinity)
        #expect(abs(cd[1] - ((4.0 - 0) / 10 + (10.0 - 5) / 10)) < 1e-12)
        #expect(abs(cd[2] - ((6.0 - 1) / 10 + (8.0 - 1) / 10)) < 1e-12)
        #expect(abs(cd[3] - ((10.0 - 4) / 10 + (5.0 - 0) / 10)) < 1e-12)
    }

    @Test(arguments: [1, 2, 3])
    func crowdingDistanceMatchesBruteForceOnRandomFronts(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        // Distinct points on a front: x ascending, y descending, plus a third objective.
        let n = 12
        let p: [[Double]] = (0..<n).map { i in [Double(i) + g.unit() * 0.5, Double(n - i) + g.unit() * 0.5, g.unit()] }
        let cd = Pareto.crowding(p, front: Array(0..<n))
        for i in 0..<n {
            var expected = 0.0
            var infinite = false
            for o in 0..<3 {
                let values = p.map { $0[o] }
                let lo = values.min()!, hi = values.max()!
                let below = values.filter { $0 < p[i][o] }.max()
                let above = values.filter { $0 > p[i][o] }.min()
                guard let below, let above else { infinite = true; continue }
                expected += (above - below) / (hi - lo)
            }
            if infinite { #expect(cd[i] == .infinity) } else { #expect(abs(cd[i] - expected) < 1e-9) }
        }
    }

    @Test func selectionFillsByFrontThenCrowding() {
        let p: [[Double]] = [[0, 10], [5, 5], [10, 0], [4, 4], [1, 1], [6, 4.5]]
        let chosen = Pareto.select(p, count: 4)
        // Front 0 is {0, 2, 5, 1}? [6,4.5] does not dominate [5,5]; [5,5] and [6,4.5] are both on it.
        #expect(Set(chosen.map(\.index)) == [0, 1, 2, 5])
        #expect(chosen.allSatisfy { $0.rank == 0 })
        let three = Pareto.select(p, count: 3)
        // Extremes (infinite crowding) survive first.
        #expect(three.map(\.index).prefix(2).sorted() == [0, 2])
    }

    @Test(arguments: [1, 2, 3, 4])
    func hypervolumeMatchesCountingGridCells(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let pts = (0..<15).map { _ in (Double(g.index(below: 20)), Double(g.index(below: 20))) }
        let ref = (2.0, 3.0)
        var cells = 0
        for x in 2..<20 {
            for y in 3..<20 where pts.contains(where: { $0.0 >= Double(x + 1) && $0.1 >= Double(y + 1) }) { cells += 1 }
        }
        #expect(Pareto.hypervolume2D(pts, reference: ref) == Double(cells))
    }

    @Test func hypervolumeGainsRankWhatWouldWidenTheFront() {
        let front: [[Double]] = [[1, 0], [0, 1], [0.2, 0.2]]
        let gains = NSGA2.hypervolumeGains([[2, 2], [0.6, 0.6], [0.1, 0.1], [1, 0]], front: front)
        #expect(gains[0] > gains[1] && gains[1] > 0)
        #expect(gains[2] == 0, "a dominated estimate adds nothing")
        #expect(gains[3] == 0, "a point already on the front adds nothing")
    }
}
