import Foundation
import Testing
@testable import TopiaryCore

@Suite("Candidates")
struct CandidateTests {
    @Test("canonical JSON round-trips through decode", arguments: Spaces.names)
    func canonicalRoundTrip(name: String) throws {
        let s = try Spaces.load(name)
        for c in s.sample(count: 300, seed: 11) {
            let back = try s.decode(json: c.canonicalJSON)
            #expect(back == c)
            #expect(back.id == c.id)
            #expect(back.canonicalJSON == c.canonicalJSON)
            // Pretty, unsorted JSON decodes to the same candidate.
            #expect(try s.decode(json: c.json.text(pretty: true)) == c)
        }
    }

    @Test("ids are stable across versions")
    func stableId() throws {
        let s = try Spaces.load("nas-bench-macro")
        let c = try s.decode(benchmarkKey: "00000000")
        #expect(c.canonicalJSON.hasPrefix(#"{"arch":{"s1.b1.op":"identity","s1.b2.op":"identity""#))
        #expect(c.id == "b73ebfe6e92afebc")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test("sampling is deterministic for a seed and varies across seeds", arguments: Spaces.names)
    func seededSampling(name: String) throws {
        let s = try Spaces.load(name)
        let a = s.sample(count: 50, seed: 42), b = s.sample(count: 50, seed: 42), c = s.sample(count: 50, seed: 43)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a.map(\.id)).count > 40)
        #expect(a.allSatisfy { s.contains($0) })
    }

    @Test("mutation and crossover stay inside the space", arguments: Spaces.names)
    func mutationAndCrossoverStayInside(name: String) throws {
        let s = try Spaces.load(name)
        var rng = SeededGenerator(seed: 5)
        var changed = 0
        for _ in 0..<300 {
            let a = s.sample(using: &rng), b = s.sample(using: &rng)
            let m = s.mutate(a, using: &rng)
            #expect(s.contains(m))
            if m != a { changed += 1 }
            let x = s.crossover(a, b, using: &rng)
            #expect(s.contains(x))
            // Every choice of the child comes from a parent, or was switched on by one.
            for (k, v) in x.choices where a.choices[k] != nil && b.choices[k] != nil {
                #expect(v == a.choices[k] || v == b.choices[k])
            }
        }
        #expect(changed == 300, "a mutation always changes one dimension")
    }

    @Test("decoding names the field at fault")
    func decodeErrors() throws {
        let s = try Spaces.load("fashion-mobilenet")
        let c = s.sample(count: 1, seed: 1)[0]
        let good = c.json
        func withArch(_ edit: (inout [(String, JSONValue)]) -> Void) -> String {
            var arch = good["arch"]!.objectPairs!
            edit(&arch)
            return JSONValue.object([("arch", .object(arch)), ("compression", good["compression"]!), ("space", .string(s.name))]).canonical
        }
        let cases: [(String, String, String)] = [
            (withArch { $0.append(("s9.depth", .int(2))) }, "arch.s9.depth", "no such dimension"),
            (withArch { a in a = a.map { $0.0 == "stem.width" ? ($0.0, .int(7)) : $0 } }, "arch.stem.width", "7 is not a choice"),
            (withArch { a in a.removeAll { $0.0 == "s1.depth" } }, "arch.s1.depth", "missing"),
            (withArch { a in a = a.map { $0.0 == "stem.width" ? ($0.0, .array([])) : $0 } }, "arch.stem.width", "expected a scalar"),
            (#"{"arch":{},"space":"other"}"#, "space", "not 'fashion-mobilenet'"),
            (#"{"arch":{},"extra":1}"#, "extra", "unknown field"),
            (#"[1,2]"#, "", "expected a JSON object"),
            (#"{"arch":"#, "", "invalid JSON"),
        ]
        for (text, field, message) in cases {
            do {
                _ = try s.decode(json: text)
                Issue.record("expected '\(message)' for \(text)")
            } catch {
                if !field.isEmpty { #expect(error.field == field, "\(error)") }
                #expect(error.description.contains(message), "\(error)")
            }
        }
        // A block beyond the stage's depth is reported as not taking part.
        let shallow = try s.decode(json: withArch { a in
            a = a.filter { !$0.0.hasPrefix("s1.") }
            a += [("s1.depth", .int(1)), ("s1.width", .int(16)), ("s1.b1.kernel", .int(3)), ("s1.b1.expansion", .double(3)),
                  ("s1.b1.se", .bool(false)), ("s1.b1.activation", .string("relu"))]
        })
        #expect(shallow.choices["s1.depth"] == .int(1))
        do {
            _ = try s.decode(json: withArch { a in
                a = a.filter { !$0.0.hasPrefix("s1.") }
                a += [("s1.depth", .int(1)), ("s1.width", .int(16)), ("s1.b1.kernel", .int(3)), ("s1.b1.expansion", .double(3)),
                      ("s1.b1.se", .bool(false)), ("s1.b1.activation", .string("relu")), ("s1.b2.kernel", .int(3))]
            })
            Issue.record("expected an inactive-field error")
        } catch {
            #expect(error.field == "arch.s1.b2.kernel")
            #expect(error.description.contains("only when s1.depth >= 2"))
        }
    }

    @Test("compression fields left out take their first choice; inactive ones are rejected")
    func compressionDefaults() throws {
        let s = try Spaces.load("fashion-mobilenet")
        let c = s.sample(count: 1, seed: 3)[0]
        let bare = JSONValue.object([("arch", c.json["arch"]!)]).canonical
        let d = try s.decode(json: bare)
        #expect(d.compression == CompressionConfig())
        let bad = JSONValue.object([("arch", c.json["arch"]!),
                                    ("compression", .object([("pruning", .object([("method", .string("none")), ("ratio", .double(0.5))]))]))]).canonical
        #expect(throws: CandidateError.self) { try s.decode(json: bad) }
    }

    @Test("JSON text parser handles the standard's corners")
    func jsonParser() throws {
        let v = try JSONText.parse(#" {"a": [1, -2.5e3, true, null, "x\"\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(v["a"]?.arrayValue?.count == 5)
        #expect(v["a"]?.arrayValue?[1] == .double(-2500))
        #expect(v["a"]?.arrayValue?[4] == .string("x\"é😀"))
        #expect(v.canonical == #"{"a":[1,-2500.0,true,null,"x\"é😀"],"b":{}}"#)
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{\"a\":1,\"a\":2}", "1 2", "nan"] {
            #expect(throws: JSONError.self) { try JSONText.parse(bad) }
        }
    }
}

@Suite("Canonical text")
struct CanonicalTextTests {
    @Test("the direct canonical writers agree with the generic JSON writer", arguments: Spaces.names)
    func directWritersAgree(name: String) throws {
        let s = try Spaces.load(name)
        for c in s.sample(count: 300, seed: 17) {
            #expect(c.compression.canonicalText == c.compression.json.canonical)
            #expect(c.canonicalJSON == c.json.canonical)
        }
    }
}
