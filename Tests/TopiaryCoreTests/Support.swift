import Foundation
@testable import TopiaryCore

/// Paths the tests read: the repository's spaces and fixtures, and ../shared beside it.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func space(_ name: String) -> String { repo.appendingPathComponent("SearchSpaces/\(name).yaml").path }
    static func fixture(_ name: String) -> String { repo.appendingPathComponent("Tests/TopiaryCoreTests/Fixtures/\(name)").path }
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
    static let nasBenchMacroCSV = shared.appendingPathComponent("benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").path
}

enum Spaces {
    static let names = ["fashion-mobilenet", "fashion-fused", "mobilenetv3-imagenet", "nas-bench-macro", "nas-bench-201"]
    static func load(_ name: String) throws -> SearchSpace { try SearchSpace.load(path: Paths.space(name)) }
}

/// Enumerates every candidate of a small space by brute force, honouring conditions.
func enumerateAll(_ space: SearchSpace) -> [[String: ChoiceValue]] {
    var results: [[String: ChoiceValue]] = []
    let dims = space.parameters.filter { !$0.isFixed }
    func go(_ i: Int, _ acc: [String: ChoiceValue]) {
        if i == dims.count { results.append(acc); return }
        let p = dims[i]
        if !space.isActive(p, acc) { go(i + 1, acc); return }
        for v in p.choices {
            var next = acc
            next[p.name] = v
            go(i + 1, next)
        }
    }
    go(0, [:])
    return results
}
