import Foundation
import Testing
import TopiaryCore
import TopiaryHardware
@testable import TopiaryCoordinator

@Suite("Drawing ahead: the rate of ended trials and the figure memos searches share")
struct PipelineTests {
    @Test("the rate is that of the last full window; an empty window brings it to 0")
    func rate() {
        var t = Throughput(window: 0.1, now: 0)
        t.ended(30)
        t.tick(now: 0.05)
        #expect(t.perSecond == 0, "the window has not closed yet")
        t.ended(20)
        t.tick(now: 0.1)
        #expect(abs(t.perSecond - 500) < 1e-9)
        t.tick(now: 0.25)
        #expect(t.perSecond == 0)
    }

    @Test("the lookahead is the floor for slow searches, the trials of a pipeline's worth of time for fast ones, within the ceiling")
    func lookahead() {
        var t = Throughput(window: 0.1, now: 0)
        #expect(t.lookahead(floor: 8, seconds: 0.05, ceiling: 1_024) == 8)
        t.ended(2)  // 20 trials/s: a real training search is never drawn further ahead
        t.tick(now: 0.1)
        #expect(t.lookahead(floor: 8, seconds: 0.05, ceiling: 1_024) == 8)
        t.ended(500)  // 5,000 trials/s
        t.tick(now: 0.2)
        #expect(t.lookahead(floor: 8, seconds: 0.05, ceiling: 1_024) == 250)
        t.ended(100_000)
        t.tick(now: 0.31)
        #expect(t.lookahead(floor: 8, seconds: 0.05, ceiling: 1_024) == 1_024)
    }

    @Test("searches of one space and one latency model share a memo; another model or space gets its own")
    func sharedFigures() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let yaml = try String(contentsOf: repo.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml"), encoding: .utf8)
        let target = try HardwareTarget.load(path: repo.appendingPathComponent("SearchSpaces/targets/host-cpu.yaml").path)
        let caches = FigureCaches()
        let model = LatencyModel(target: target)
        var calibrated = model
        calibrated.coefficients = Coefficients([:], defaultValue: 1.5)
        let a = caches.cache(space: yaml, model: model)
        #expect(caches.cache(space: yaml, model: LatencyModel(target: target)) === a)
        #expect(caches.cache(space: yaml, model: calibrated) !== a)
        #expect(caches.cache(space: yaml, model: nil) !== a)
        #expect(caches.cache(space: yaml + "\n# another space\n", model: model) !== a)
        // Bounded: after `capacity` other pairs the first is forgotten.
        for i in 0..<FigureCaches.capacity { _ = caches.cache(space: "space \(i)", model: nil) }
        #expect(caches.cache(space: yaml, model: model) !== a)
    }
}
