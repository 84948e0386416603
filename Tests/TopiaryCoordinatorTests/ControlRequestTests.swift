import Foundation
import Testing
import TopiaryWire

@Suite("Control protocol: typed requests")
struct ControlRequestTests {
    func decode(_ text: String) throws(ControlError) -> ControlRequest { try ControlRequest.decode(Array(text.utf8)) }

    @Test("every request survives encoding and decoding", arguments: [
        ControlRequest.ping, .listSearches, .showSearch(7), .pauseSearch(1), .resumeSearch(2), .cancelSearch(3), .workers,
    ])
    func roundTrip(_ r: ControlRequest) throws {
        #expect(try decode(r.encoded()) == r)
        #expect(r.encoded().contains("\"version\":\(ControlRequest.version)"))
    }

    @Test("search.start round-trips every field, including a seed above Int64.max and typed fidelity values")
    func startRoundTrip() throws {
        var s = StartSearchRequest(spaceYAML: "name: x", budget: 12)
        s.seed = UInt64.max
        s.strategy = "evolution"
        s.strategyOptions = ["population": "10", "sample": "3"]
        s.fidelity = ["epochs": .int(3), "fraction": .double(0.25), "data": .string("fashion")]
        s.objectives = ["accuracy:max", "latency_ms:min"]
        s.constraints = ["params<=100000"]
        s.targetYAML = "name: t"
        s.retryFailed = true
        s.evaluator = "supernet:3"
        #expect(try decode(ControlRequest.startSearch(s).encoded()) == .startSearch(s))
        var t = StartSearchRequest(spaceYAML: "name: x", budget: 1)
        t.kind = "supernet"
        t.supernetPool = 64
        #expect(try decode(ControlRequest.startSearch(t).encoded()) == .startSearch(t))
    }

    @Test("absent fields take the defaults written once, in StartSearchRequest")
    func defaults() throws {
        guard case .startSearch(let s) = try decode(#"{"op":"search.start","space_yaml":"name: x","budget":5}"#) else {
            Issue.record("not a start")
            return
        }
        #expect(s.strategy == StartSearchRequest.defaultStrategy && s.target == StartSearchRequest.defaultTarget)
        #expect(s.deadlineSeconds == 3_600 && s.maxAttempts == 3 && s.kind == "train" && s.seed == 0 && !s.retryFailed)
        #expect(s.effectiveObjectives == ["accuracy:max"])
    }

    @Test("bad requests are refused naming the field and what it must be", arguments: [
        (#"{"budget":5}"#, "needs an 'op'"),
        (#"{"op":"search.start","space_yaml":"x"}"#, "'budget' is required"),
        (#"{"op":"search.start","space_yaml":"x","budget":"many"}"#, "'budget' must be an integer"),
        (#"{"op":"search.start","space_yaml":"x","budget":5,"seed":-1}"#, "'seed' must be an integer from 0"),
        (#"{"op":"search.show"}"#, "'search' (an integer id) is required"),
        (#"{"op":"search.launch"}"#, "unknown op 'search.launch'"),
        (#"{"op":"ping","version":2}"#, "control protocol version 2 is not supported"),
        ("not json", "not valid JSON"),
    ])
    func refused(_ text: String, _ message: String) {
        let e = #expect(throws: ControlError.self) { try decode(text) }
        #expect(e?.description.contains(message) == true, "got: \(e?.description ?? "no error")")
    }

    @Test("check() refuses out-of-range numbers and malformed objectives and constraints, naming each")
    func checks() {
        func problem(_ change: (inout StartSearchRequest) -> Void) -> String? {
            var s = StartSearchRequest(spaceYAML: "x", budget: 5)
            change(&s)
            do { try s.check(); return nil } catch { return error.description }
        }
        #expect(problem { _ in } == nil)
        #expect(problem { $0.budget = 0 }?.contains("'budget'") == true)
        #expect(problem { $0.deadlineSeconds = 0 }?.contains("'deadline_s'") == true)
        #expect(problem { $0.maxAttempts = 101 }?.contains("'max_attempts'") == true)
        #expect(problem { $0.kind = "eval" }?.contains("'kind'") == true)
        #expect(problem { $0.objectives = ["acc:maximum"] }?.contains("objective 'acc:maximum'") == true)
        #expect(problem { $0.constraints = ["params=5"] }?.contains("constraint 'params=5'") == true)
        #expect(problem { $0.targetCalibration = "{}" }?.contains("'target_calibration' needs 'target_yaml'") == true)
        // Supernets: one trial, no finalists; a pool only for a supernet search; evaluator forms.
        #expect(problem { $0.kind = "supernet" }?.contains("'budget' must be 1") == true)
        #expect(problem { $0.kind = "supernet"; $0.budget = 1 } == nil)
        #expect(problem { $0.kind = "supernet"; $0.budget = 1; $0.finalists = 1 }?.contains("no 'finalists'") == true)
        #expect(problem { $0.supernetPool = 8 }?.contains("'supernet_pool'") == true)
        #expect(problem { $0.kind = "supernet"; $0.budget = 1; $0.supernetPool = 0 }?.contains("'supernet_pool' must be 1 to 512") == true)
        #expect(problem { $0.evaluator = "supernet" } == nil)
        #expect(problem { $0.evaluator = "supernet:4" } == nil)
        #expect(problem { $0.evaluator = "weights:4" }?.contains("evaluator 'weights:4'") == true)
        #expect(problem { $0.evaluator = "supernet:x" }?.contains("supernet:ID") == true)
        #expect(problem { $0.evaluator = "supernet"; $0.kind = "measure" }?.contains("'evaluator' is for a train search") == true)
    }

    @Test("fidelity values from the command line: integers, numbers, then text")
    func fidelityParsing() {
        #expect(FidelityValue(parsing: "3") == .int(3))
        #expect(FidelityValue(parsing: "0.5") == .double(0.5))
        #expect(FidelityValue(parsing: "fashion") == .string("fashion"))
        #expect(FidelityValue(parsing: "nan") == .string("nan"))
    }
}

@Suite("Control protocol: typed replies")
struct ControlReplyTests {
    @Test("a reply reads back as the value the daemon sent, with ok beside its fields")
    func roundTrip() throws {
        var s = SearchSummary(search: 3, space: "nas-bench-macro", target: "host-cpu", strategy: "random", state: "active", budget: 10,
                              seed: UInt64.max, counts: ["completed": 4, "running": 2], createdAt: "2026-12-06T00:00:00Z")
        s.best = .init(accuracy: 91.5, candidate: "abc")
        s.top = [.init(candidate: "abc", accuracy: 91.5, params: 1_000, sizeBytes: 4_000, macs: 99)]
        let text = ControlReply.encode(s)
        #expect(text.contains("\"ok\":true") && text.contains("\"size_bytes\":4000") && text.contains("\"created_at\""))
        #expect(try ControlReply.decode(SearchSummary.self, from: Array(text.utf8)) == s)
        #expect(s.ended == 4)
        let w = WorkerInfo(worker: "w", host: "h", slots: 2, running: 1, done: 5, jobs: ["7#1"], tags: ["cpu"], trainers: ["table"],
                           lastHeartbeatMs: 12, connectedS: 3, key: "plain")
        #expect(try ControlReply.decode(WorkerListReply.self, from: Array(ControlReply.encode(WorkerListReply(workers: [w])).utf8)).workers == [w])
    }

    @Test("a refusal reads as the daemon's message; a reply that does not fit says so")
    func refusal() {
        let e = #expect(throws: ControlError.self) {
            try ControlReply.decode(StartedReply.self, from: Array(ControlReply.failure("search.start: unknown strategy 'magic'").utf8))
        }
        #expect(e?.description == "search.start: unknown strategy 'magic'")
        let e2 = #expect(throws: ControlError.self) { try ControlReply.decode(StartedReply.self, from: Array(#"{"ok":true}"#.utf8)) }
        #expect(e2?.description.contains("'search' is required") == true, "got: \(e2?.description ?? "")")
    }
}
