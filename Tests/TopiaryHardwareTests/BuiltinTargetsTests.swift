import Foundation
import Testing
@testable import TopiaryHardware

@Suite("Built-in targets: the profiles compiled into the binary")
struct BuiltinTargetsTests {
    @Test("every file in SearchSpaces/targets is embedded, unchanged (run scripts/embed-targets.py after editing one)")
    func embeddedMatchesFiles() throws {
        let dir = Paths.repo.appendingPathComponent("SearchSpaces/targets").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
        #expect(BuiltinTargets.files.keys.sorted() == files)
        for f in files {
            let disk = try String(contentsOfFile: (dir as NSString).appendingPathComponent(f), encoding: .utf8)
            #expect(BuiltinTargets.files[f].map { $0.trimmingCharacters(in: .newlines) } == disk.trimmingCharacters(in: .newlines),
                    "\(f) differs from its embedded copy: run python3 scripts/embed-targets.py")
        }
    }

    @Test("each embedded profile parses")
    func embeddedParse() throws {
        for (name, text) in BuiltinTargets.files where name.hasSuffix(".yaml") {
            let t = try HardwareTarget.parse(yaml: text, file: name)
            #expect(t.name + ".yaml" == name)
        }
    }
}
