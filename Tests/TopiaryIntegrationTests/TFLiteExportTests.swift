import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// The reference trainer's TFLite files through the whole path a user takes: a search whose
/// fidelity asks for them, the worker's upload, `topiary export`, the model card, and the int8
/// file run in LiteRT.
@Suite("TFLite export", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct TFLiteExportTests {
    @Test("a search with tflite=1 exports model.tflite and model_int8.tflite; the int8 file holds int8 weights and runs in LiteRT",
          .enabled(if: PythonEnv.imports("torch, litert_torch, ai_edge_litert") != nil,
                   "needs the Python environment with litert-torch and ai-edge-litert (bash scripts/setup.sh --python)"))
    func exportedFiles() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 1, trainer: "pytorch")
        let space = Paths.repo.appendingPathComponent("SearchSpaces/fashion-mobilenet.yaml").path
        let r = try c.run(["search", "start", space, "--budget", "1", "--trainer", "pytorch", "--strategy", "random", "--target", "host-cpu",
                           "--fidelity", "epochs=1", "--fidelity", "data_fraction=0.02", "--fidelity", "test_fraction=0.05",
                           "--fidelity", "finetune_epochs=0", "--fidelity", "tflite=1",
                           "--follow", "--control", c.controlEndpoint], timeout: 500)
        #expect(r.status == 0, "\(r.out)\n\(r.err)\n\(c.log("worker-a.log").suffix(3000))")
        try waitUntil(60, "the trial's files are uploaded") {
            let rows = try Store(path: c.db, mode: .readOnly).artifacts()
            return rows.contains { $0.name == "model_int8.tflite" && $0.state == .stored }
        }
        let out = c.dir.appendingPathComponent("best").path
        let exported = try c.run(["export", "--db", c.db, "--search", "1", "--out", out])
        #expect(exported.status == 0, "\(exported.err)")
        for name in ["model.tflite", "model_int8.tflite", "model.onnx"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) missing from the export")
        }
        let card = try String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8)
        #expect(card.contains("model_int8.tflite — the int8 network for LiteRT"), "\(card)")
        let run = try c.run([PythonEnv.python!, "-c", """
            import sys, numpy as np
            from ai_edge_litert.interpreter import Interpreter
            it = Interpreter(model_path=sys.argv[1]); it.allocate_tensors()
            i, o = it.get_input_details()[0], it.get_output_details()[0]
            weights = [d for d in it.get_tensor_details() if d["dtype"] == np.int8 and len(d["shape"]) == 4]
            it.set_tensor(i["index"], np.zeros(i["shape"], i["dtype"])); it.invoke()
            print("int8 input", i["dtype"] == np.int8, "output", tuple(it.get_tensor(o["index"]).shape), "4-d int8 tensors", len(weights) > 0)
            """, out + "/model_int8.tflite"], executable: "/usr/bin/env")
        #expect(run.status == 0 && run.out.contains("int8 input True output (1, 10) 4-d int8 tensors True"), "\(run.out)\(run.err)")
    }
}
