import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// `search start --dataset`: the user's own images, checked before anything is queued and
/// trained on for real by the reference trainer.
@Suite("The user's own data", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct UserDataTests {
    static let fashionSpace = Paths.repo.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path

    /// Writes `classes` folders of `perClass` 28x28 grey PNGs (a bright square whose place
    /// is the class, on noise) under `root`, with the venv's Pillow.
    static func makeImageFolder(_ root: URL, classes: Int, perClass: Int) throws {
        let script = """
            import sys, numpy as np
            from pathlib import Path
            from PIL import Image
            root, classes, per = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
            rng = np.random.default_rng(0)
            for c in range(classes):
                d = root / f"class{c:02d}"
                d.mkdir(parents=True, exist_ok=True)
                for i in range(per):
                    x = rng.integers(0, 60, (28, 28)).astype(np.uint8)
                    r, k = 2 + 6 * (c // 4), 2 + 6 * (c % 4)
                    x[r:r + 6, k:k + 6] = 230
                    Image.fromarray(x).save(d / f"{i}.png")
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: PythonEnv.venvPython)
        p.arguments = ["-c", script, root.path, String(classes), String(perClass)]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test("a data folder with no classes, an empty class, the wrong number of classes, a non-archive or a missing path is refused (exit 2), nothing stored")
    func refusals() throws {
        let c = try Cluster()
        try c.startDaemon()
        let fm = FileManager.default
        let empty = c.dir.appendingPathComponent("empty")
        try fm.createDirectory(at: empty, withIntermediateDirectories: true)
        let three = c.dir.appendingPathComponent("three")
        for n in ["a", "b", "c"] {
            try fm.createDirectory(at: three.appendingPathComponent(n), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: three.appendingPathComponent("\(n)/1.png"))
        }
        let hollow = c.dir.appendingPathComponent("hollow")
        try fm.createDirectory(at: hollow.appendingPathComponent("only"), withIntermediateDirectories: true)
        let text = c.dir.appendingPathComponent("data.npz")
        try Data("not an archive".utf8).write(to: text)
        let cases: [(String, [String])] = [
            (empty.path, ["no class folders", "CLASS/IMAGE"]),
            (three.path, ["has 3 classes (a, b, c)", "output 10", "classes: 3"]),
            (hollow.path, ["class folder", "has no images"]),
            (text.path, ["not a NumPy .npz archive"]),
            (c.dir.appendingPathComponent("missing").path, ["no such file or folder"]),
        ]
        for (path, messages) in cases {
            let r = try c.run(["search", "start", Self.fashionSpace, "--budget", "2", "--trainer", "pytorch", "--dataset", path,
                               "--control", c.controlEndpoint])
            #expect(r.status == 2, "\(path): \(r.err)")
            for m in messages { #expect(r.err.contains(m), "\(path): \(r.err)") }
        }
        #expect(try Store(path: c.db, mode: .readOnly).searches().isEmpty, "nothing refused was stored")
    }

    @Test("a search on an image folder made here runs end to end with the PyTorch trainer",
          .enabled(if: PythonEnv.imports("torch, onnx, PIL") != nil, "needs the Python environment with torch and Pillow (bash scripts/setup.sh --python)"))
    func imageFolderSearch() throws {
        let c = try Cluster()
        let data = c.dir.appendingPathComponent("squares")
        try Self.makeImageFolder(data, classes: 10, perClass: 30)
        try c.startDaemon()
        try c.startWorker("a", slots: 1, trainer: "pytorch")
        let r = try c.run(["search", "start", Self.fashionSpace, "--budget", "1", "--trainer", "pytorch", "--strategy", "random",
                           "--target", "host-cpu", "--dataset", data.path, "--fidelity", "epochs=1", "--fidelity", "finetune_epochs=0", "--fidelity", "batch_size=16",
                           "--follow", "--control", c.controlEndpoint], timeout: 400)
        #expect(r.status == 0, "\(r.out)\n\(r.err)\n\(c.log("worker-a.log").suffix(3000))")
        let store = try Store(path: c.db, mode: .readOnly)
        let trials = try store.trials(search: 1)
        #expect(trials.count == 1 && trials[0].state == .completed, "\(trials.map { ($0.state, $0.error ?? "") })")
        let metrics = try JSONText.parse(trials[0].metrics ?? "{}")
        #expect((metrics["test_accuracy"]?.doubleValue ?? 0) > 0)
        // The search remembers its data; the job said which data the trainer used.
        let settings = try JSONText.parse(try store.search(1)?.strategySettings ?? "{}")
        #expect(settings["dataset"]?.stringValue == data.path)
    }
}
