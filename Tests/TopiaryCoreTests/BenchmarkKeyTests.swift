import Foundation
import Testing
@testable import TopiaryCore

@Suite("Benchmark keys")
struct BenchmarkKeyTests {
    @Test("every NAS-Bench-Macro key round-trips")
    func macroKeysRoundTrip() throws {
        let s = try Spaces.load("nas-bench-macro")
        var n = 0
        for a in 0..<6_561 {
            var digits = "", x = a
            for _ in 0..<8 { digits = String(x % 3) + digits; x /= 3 }
            let c = try s.decode(benchmarkKey: digits)
            #expect(try s.encodeBenchmarkKey(c) == digits)
            n += 1
        }
        #expect(n == 6_561)
    }

    @Test("every NAS-Bench-201 string round-trips, including the published example")
    func cellStringsRoundTrip() throws {
        let s = try Spaces.load("nas-bench-201")
        let ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
        var seen = Set<String>()
        for a in 0..<15_625 {
            var e = [String](), x = a
            for _ in 0..<6 { e.append(ops[x % 5]); x /= 5 }
            let key = "|\(e[0])~0|+|\(e[1])~0|\(e[2])~1|+|\(e[3])~0|\(e[4])~1|\(e[5])~2|"
            let c = try s.decode(benchmarkKey: key)
            #expect(try s.encodeBenchmarkKey(c) == key)
            seen.insert(c.id)
        }
        #expect(seen.count == 15_625)
        let example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        let c = try s.decode(benchmarkKey: example)
        #expect(c.choices["cell.2<-1"] == .string("avg_pool_3x3"))
        #expect(try s.encodeBenchmarkKey(c) == example)
    }

    @Test("bad keys are rejected with the place named")
    func badKeys() throws {
        let macro = try Spaces.load("nas-bench-macro")
        for bad in ["0000000", "000000003", "0000000a", ""] {
            #expect(throws: CandidateError.self) { try macro.decode(benchmarkKey: bad) }
        }
        let cell = try Spaces.load("nas-bench-201")
        for bad in ["|nor_conv_3x3~0|+|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|"] {
            #expect(throws: CandidateError.self) { try cell.decode(benchmarkKey: bad) }
        }
        let fashion = try Spaces.load("fashion-mobilenet")
        #expect(throws: CandidateError.self) { try fashion.decode(benchmarkKey: "0") }
    }
}
