import Foundation
import Testing

/// The deployment recipes in deploy/ name only options the programs they start have.
@Suite("Deployment recipes", .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct DeployTests {
    static let deploy = Paths.repo.appendingPathComponent("deploy")

    /// `--flag` names in a text (`--flag=value` or `--flag value`).
    static func flags(_ text: String) -> Set<String> {
        var out = Set<String>()
        var rest = Substring(text)
        while let r = rest.range(of: "--") {
            let name = rest[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if !name.isEmpty { out.insert("--" + name) }
            rest = rest[r.upperBound...]
        }
        return out
    }

    func help(_ args: [String], executable: String? = nil, env: [String: String] = [:]) throws -> String {
        let r = try Cluster().run(args, executable: executable, env: env)
        return r.out + r.err
    }

    @Test("the systemd units' ExecStart lines use options `topiary serve` and `topiary worker` have")
    func systemd() throws {
        for (file, command) in [("topiary-daemon.service", "serve"), ("topiary-worker.service", "worker")] {
            let text = try String(contentsOf: Self.deploy.appendingPathComponent(file), encoding: .utf8)
            // The ExecStart line (not a comment), with its continuation lines.
            var exec = ""
            var inExec = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("ExecStart=") { inExec = true }
                if inExec { exec += line + "\n" }
                if inExec && !line.hasSuffix("\\") { break }
            }
            let known = Self.flags(try help([command, "--help"]))
            let used = Self.flags(exec)
            #expect(!used.isEmpty && used.isSubset(of: known), "\(file): unknown \(used.subtracting(known).sorted())")
        }
    }

    @Test("the Kubernetes worker manifest: a ConfigMap and a Deployment whose container args are topiary-worker options",
          .enabled(if: PythonEnv.agent != nil, "needs the Python environment with pyzmq (bash scripts/setup.sh --python)"))
    func kubernetes() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("worker-deployment.yaml"), encoding: .utf8)
        #expect(text.contains("kind: ConfigMap") && text.contains("kind: Deployment") && text.contains("secretName: topiary-worker-keys"))
        let args = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- \"--") }.joined(separator: "\n")
        let known = Self.flags(try help(["-m", "topiary.worker", "--help"], executable: PythonEnv.agent!, env: ["PYTHONPATH": Paths.pythonPackage]))
        let used = Self.flags(args)
        #expect(used.count >= 8 && used.isSubset(of: known), "unknown \(used.subtracting(known).sorted())")
    }
}
