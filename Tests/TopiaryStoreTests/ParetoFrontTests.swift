import Testing
import TopiaryCore
@testable import TopiaryStore

@Suite struct ParetoFrontTests {
    static func bruteForce(_ p: [Double], _ d: Int) -> Set<Int> {
        let n = p.count / d
        return Set((0..<n).filter { i in
            !(0..<n).contains { j in
                (0..<d).allSatisfy { p[j * d + $0] <= p[i * d + $0] } && (0..<d).contains { p[j * d + $0] < p[i * d + $0] }
            }
        })
    }

    @Test(arguments: [1, 2, 3, 4])
    func matchesBruteForceOnRandomPointsWithTies(dimensions d: Int) {
        var rng = SeededGenerator(seed: UInt64(d))
        for round in 0..<200 {
            let n = rng.index(below: 60)
            // Small integer grids give many ties and duplicate points; reals give few.
            let grid = round % 2 == 0 ? 4 : 1_000_000
            let p = (0..<(n * d)).map { _ in Double(rng.index(below: grid)) }
            let front = ParetoFront.indices(of: p, dimensions: d)
            #expect(Set(front) == Self.bruteForce(p, d), "n=\(n) d=\(d) points=\(p)")
            #expect(front.count == Set(front).count)
        }
    }

    @Test func keepsEqualPointsAndDropsDominatedOnes() {
        // (1,5) twice, (2,2), (3,1), and (2,5) (dominated by (1,5)) and (3,3) (dominated by (2,2)).
        let p: [Double] = [1, 5, 2, 5, 2, 2, 3, 3, 3, 1, 1, 5]
        #expect(ParetoFront.indices(of: p, dimensions: 2) == [0, 5, 2, 4])
        #expect(ParetoFront.indices(of: [], dimensions: 3).isEmpty)
    }
}
