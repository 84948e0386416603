import ArgumentParser
import Foundation
import TopiaryWire

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "CURVE key pairs for the coordinator and workers (docs/SECURITY.md).",
        subcommands: [Generate.self, Show.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (the pair, mode 0600) and NAME.pub (the public key) into a directory.",
            discussion: """
                The coordinator serves with --key coordinator.key --allow DIR (a directory of worker .pub files, or a file of
                'KEY NAME' lines); a worker dials with --key worker.key --server-key coordinator.pub.
                """)
        @Argument(help: "Name of the key pair (e.g. coordinator, worker-gpu1).") var name: String
        @Option(help: "Directory to write into (created if missing).") var dir = "keys"
        @Flag(help: "Replace existing files of that name.") var force = false

        func run() throws {
            do {
                let (pair, secret, pub) = try KeyFiles.generate(name: name, directory: URL(fileURLWithPath: dir), force: force)
                print("wrote \(secret.path) (secret, mode 0600) and \(pub.path)")
                print("public key: \(pair.publicKey)")
            } catch let e as KeyError {
                throw InputError(e.description)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public key of a .key or .pub file.")
        @Argument(help: "A .key or .pub file.") var file: String

        func run() throws {
            do {
                if let pair = try? KeyFiles.loadPair(file) {
                    print(pair.publicKey)
                } else {
                    print(try KeyFiles.loadPublic(file))
                }
            } catch let e as KeyError {
                throw InputError(e.description)
            }
        }
    }
}
