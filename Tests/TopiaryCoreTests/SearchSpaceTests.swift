import Foundation
import Testing
@testable import TopiaryCore

@Suite("Search-space files")
struct SearchSpaceTests {
    @Test("every shipped space loads", arguments: Spaces.names)
    func shippedSpaceLoads(name: String) throws {
        let s = try Spaces.load(name)
        #expect(s.name == name)
        #expect(!s.dimensions.isEmpty)
        #expect(s.hash.count == 64)
        // All five techniques are declared (fixed or free) in every space.
        for key in CompressionKeys.all { #expect(s.parameter(named: key) != nil, "\(name) lacks \(key)") }
    }

    @Test("benchmark spaces have exactly the benchmarks' sizes")
    func benchmarkSpaceSizes() throws {
        #expect(try Spaces.load("nas-bench-macro").count().intValue == 6_561)
        #expect(try Spaces.load("nas-bench-201").count().intValue == 15_625)
    }

    @Test("the ImageNet space counts like Once-for-All: 4 resolutions x 2 widths x (9^2+9^3+9^4)^5")
    func imagenetCount() throws {
        let s = try Spaces.load("mobilenetv3-imagenet")
        let perStage = BigCount(81 + 729 + 6561)
        let expected = BigCount(4) * BigCount(2) * perStage * perStage * perStage * perStage * perStage
        #expect(s.count(.arch) == expected)
        #expect(s.count(.arch).description == "174069243940579886808")
    }

    @Test("elastic resolution: the candidate's size is its network's input; MACs follow it; an old candidate takes the first size; a benchmark space refuses it")
    func elasticResolution() throws {
        let s = try Spaces.load("mobilenetv3-imagenet")
        #expect(s.elasticResolution && s.input.height == 128)
        var bySize: [Int: [Int]] = [:]
        for c in s.sample(count: 60, seed: 9) {
            let size = c.choices[SearchSpace.inputSizeDimension]!.intValue!
            let g = NetworkGraph.build(c, in: s)
            #expect(g.nodes[0].shape.height == size && g.nodes[0].shape.width == size && g.nodes[0].shape.channels == 3)
            bySize[size, default: []].append(g.cost().macs)
        }
        #expect(Set(bySize.keys) == [128, 160, 192, 224])
        // The same architecture at a lower resolution costs fewer MACs (about (r/224)^2).
        let c = s.sample(count: 1, seed: 3)[0]
        var json = try JSONText.parse(c.canonicalJSON)
        func at(_ size: Int) throws -> Int {
            guard case .object(var top) = json, let ai = top.firstIndex(where: { $0.0 == "arch" }), case .object(var arch) = top[ai].1 else { return 0 }
            arch.removeAll { $0.0 == SearchSpace.inputSizeDimension }
            arch.append((SearchSpace.inputSizeDimension, .int(size)))
            top[ai].1 = .object(arch)
            json = .object(top)
            return NetworkGraph.build(try s.decode(json: json), in: s).cost().macs
        }
        let big = try at(224), small = try at(128)
        #expect(Double(small) / Double(big) > 0.25 && Double(small) / Double(big) < 0.4, "\(small) / \(big)")
        // A candidate written before the space was elastic decodes at 224.
        guard case .object(var top) = json, let ai = top.firstIndex(where: { $0.0 == "arch" }), case .object(var arch) = top[ai].1 else { return }
        arch.removeAll { $0.0 == SearchSpace.inputSizeDimension }
        top[ai].1 = .object(arch)
        let old = try s.decode(json: .object(top))
        #expect(NetworkGraph.build(old, in: s).nodes[0].shape.height == 224)
        // Benchmark tables were measured at one resolution.
        let macro = try String(contentsOfFile: Paths.space("nas-bench-macro"), encoding: .utf8)
            .replacingOccurrences(of: "size: 32", with: "size: [32, 24]")
        #expect(throws: SpaceError.self) { try SearchSpace.parse(yaml: macro, file: "macro.yaml") }
    }

    @Test("the fashion space's count matches the closed form")
    func fashionCount() throws {
        let s = try Spaces.load("fashion-mobilenet")
        let b = 3 * 3 * 2 * 2  // kernel x expansion x se x activation per block
        func stage(_ widths: Int, _ depths: [Int]) -> BigCount {
            BigCount(widths) * depths.map { d in (0..<d).reduce(BigCount.one) { acc, _ in acc * BigCount(b) } }.reduce(.zero, +)
        }
        let arch = BigCount(3) * stage(2, [1, 2]) * stage(3, [1, 2, 3]) * stage(3, [1, 2, 3]) * stage(3, [1, 2]) * BigCount(2)
        #expect(s.count(.arch) == arch)
        // pruning 1 + 2x3; quantization 22 (see the conditions); distillation 1 + 2x2; low rank 3; sharing 3.
        #expect(s.count(.compression).intValue == 7 * 22 * 5 * 3 * 3)
        #expect(s.count() == arch * BigCount(6_930))
    }

    @Test("count agrees with brute-force enumeration on a small conditional space")
    func countMatchesEnumeration() throws {
        let yaml = """
            name: tiny
            input: {channels: 1, size: 16}
            classes: 3
            network: mobilenet
            stem: {width: [4, 8]}
            stages:
              - {stride: 2, depth: [1, 2, 3], width: 8, block: {kernel: [3, 5], expansion: [1, 2], se: [false, true]}}
            head: [{type: pool}, {type: linear}]
            compression:
              pruning: {method: [none, magnitude, channel], ratio: [0.5, 0.25]}
              quantization: {weight_bits: [32, 8], activation_bits: [32, 8], mode: [ptq, qat], granularity: [per_channel, per_tensor]}
              distillation: {enabled: [false, true], temperature: [2, 4]}
            """
        let s = try SearchSpace.parse(yaml: yaml, file: "tiny.yaml")
        let all = enumerateAll(s)
        #expect(s.count().intValue == all.count)
        // Every enumerated assignment is a distinct, valid candidate.
        let ids = Set(all.map { s.makeCandidate($0).canonicalJSON })
        #expect(ids.count == all.count)
        #expect(all.allSatisfy { s.contains(s.makeCandidate($0)) })
    }

    struct BadFile: Sendable, CustomStringConvertible {
        let yaml: String
        let line: Int?
        let key: String?
        let message: String
        var description: String { message }
    }

    static let valid = """
        name: t
        input: {channels: 1, size: 28}
        classes: 10
        network: mobilenet
        stem: {kernel: 3, width: 8}
        stages:
          - {stride: 2, depth: [1, 2], width: 16, block: {kernel: [3, 5], expansion: [1, 6]}}
        head:
          - {type: pool}
          - {type: linear}
        """

    static let badFiles: [BadFile] = [
        BadFile(yaml: valid.replacingOccurrences(of: "stem: {kernel: 3, width: 8}", with: "stem: {kernel: 3, widht: 8}"),
                line: 5, key: "stem.widht", message: "unknown key 'widht' (did you mean 'width'?)"),
        BadFile(yaml: valid.replacingOccurrences(of: "classes: 10", with: "classes: ten"), line: 3, key: "classes", message: "expected an integer"),
        BadFile(yaml: valid.replacingOccurrences(of: "kernel: [3, 5]", with: "kernel: []"), line: 7, key: "stages[0].block.kernel", message: "the list of choices is empty"),
        BadFile(yaml: valid.replacingOccurrences(of: "kernel: [3, 5]", with: "kernel: [3, 13]"), line: 7, key: "stages[0].block.kernel", message: "13 is out of range"),
        BadFile(yaml: valid.replacingOccurrences(of: "kernel: [3, 5]", with: "kernel: [3, 4]"), line: 7, key: "stages[0].block.kernel", message: "must be odd"),
        BadFile(yaml: valid.replacingOccurrences(of: "expansion: [1, 6]", with: "expansion: [1, -6]"), line: 7, key: "stages[0].block.expansion", message: "out of range"),
        BadFile(yaml: valid.replacingOccurrences(of: "depth: [1, 2]", with: "depth: [1, two]"), line: 7, key: "stages[0].depth", message: "expected an integer"),
        BadFile(yaml: valid.replacingOccurrences(of: "depth: [1, 2]", with: "depth: [1, 1]"), line: 7, key: "stages[0].depth", message: "listed twice"),
        BadFile(yaml: valid.replacingOccurrences(of: "size: 28", with: "size: 1"), line: 7, key: "stages[0].stride", message: "collapses"),
        BadFile(yaml: valid.replacingOccurrences(of: "network: mobilenet", with: "network: transformer"), line: 4, key: "network", message: "not one of mobilenet, cell"),
        BadFile(yaml: valid.replacingOccurrences(of: "classes: 10\n", with: ""), line: 1, key: "classes", message: "missing required key 'classes'"),
        BadFile(yaml: valid.replacingOccurrences(of: "  - {type: linear}", with: "  - {type: conv, width: 8}"), line: 9, key: "head", message: "must end with a linear layer"),
        BadFile(yaml: valid.replacingOccurrences(of: "stem: {kernel: 3, width: 8}", with: "stem: {kernel: 3, width: 8"), line: 6, key: nil, message: "not valid YAML"),
        BadFile(yaml: valid + "\ncompression: {pruning: {method: [none, fancy]}}", line: 11, key: "compression.pruning.method", message: "'fancy' is not one of none, magnitude, channel"),
        BadFile(yaml: valid + "\ncompression: {quantization: {weight_bits: [32, 3]}}", line: 11, key: "compression.quantization.weight_bits", message: "3 bits is not supported"),
        BadFile(yaml: valid + "\ncompression: {pruning: {ratio: 1.5}}", line: 11, key: "compression.pruning.ratio", message: "out of range"),
        BadFile(yaml: valid.replacingOccurrences(of: "stages:\n  - {stride: 2, depth: [1, 2], width: 16, block: {kernel: [3, 5], expansion: [1, 6]}}", with: "stages: []"),
                line: 6, key: "stages", message: "at least one stage"),
        BadFile(yaml: "", line: 1, key: nil, message: "the file is empty"),
        BadFile(yaml: "- just\n- a list\n", line: 1, key: nil, message: "expected a mapping"),
        BadFile(yaml: """
            name: c
            input: {channels: 3, size: 2}
            classes: 10
            network: cell
            stem: {width: 16}
            cell: {ops: [none, nor_conv_3x3]}
            stages: [{width: 16, cells: 1}, {width: 32, cells: 1}, {width: 64, cells: 1}]
            """, line: 7, key: "stages[2]", message: "collapses"),
    ]

    @Test("invalid files get errors naming file:line:column and the key", arguments: badFiles)
    func invalidFileError(bad: BadFile) {
        do {
            _ = try SearchSpace.parse(yaml: bad.yaml, file: "bad.yaml")
            Issue.record("expected an error containing '\(bad.message)'")
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.message.contains(bad.message), "got: \(error)")
            if let line = bad.line { #expect(error.line == line, "got: \(error)") }
            if let key = bad.key { #expect(error.key == key, "got: \(error)") }
            #expect(error.description.hasPrefix("bad.yaml:"))
            if bad.line != nil && !bad.yaml.isEmpty { #expect(error.column != nil, "got: \(error)") }
        }
    }

    @Test("mutated files never crash the loader: they load or give a SpaceError")
    func fuzzedFilesNeverCrash() throws {
        var rng = SeededGenerator(seed: 7)
        let sources = try Spaces.names.map { try String(contentsOfFile: Paths.space($0), encoding: .utf8) }
        let alphabet = Array("{}[]:,-#&*!|>'\"0123456789abcxyz \n\t.")
        var loaded = 0, rejected = 0
        for round in 0..<1_500 {
            var chars = Array(sources[round % sources.count])
            for _ in 0..<(1 + rng.index(below: 4)) {
                let at = rng.index(below: chars.count)
                switch rng.index(below: 3) {
                case 0: chars.remove(at: at)
                case 1: chars[at] = alphabet[rng.index(below: alphabet.count)]
                default: chars.insert(alphabet[rng.index(below: alphabet.count)], at: at)
                }
            }
            do {
                let s = try SearchSpace.parse(yaml: String(chars), file: "fuzz.yaml")
                // A file that loads must give sound candidates.
                var r = SeededGenerator(seed: UInt64(round))
                let c = s.sample(using: &r)
                #expect(NetworkGraph.build(compressed: c, in: s).problems().isEmpty)
                loaded += 1
            } catch {
                #expect(error.file == "fuzz.yaml")
                rejected += 1
            }
        }
        #expect(loaded > 0 && rejected > 0)
    }

    @Test("a missing file is a clear error")
    func missingFile() {
        #expect(throws: SpaceError.self) { try SearchSpace.load(path: "/nonexistent/space.yaml") }
    }
}
