import TopiaryCore
import TopiaryStore

/// The metric names a search may optimise: figures the daemon knows before training, and
/// what the built-in trainers report. An objective naming none of them (`acc:max` for
/// `accuracy:max`) is refused with a suggestion instead of running with no objective value.
/// A trainer Topiary does not ship may report anything: its names are not checked here (a
/// result without the objective fails its trial, so a typo shows at the first result).
public enum MetricCatalog {
    /// Known before training, for every search (see `Admission.metrics`).
    public static let figures = ["macs", "params", "size_kb", "memory_kb", "latency_ms"]

    /// What the built-in trainers put in a result, by trainer name (train trials), and what
    /// a measure trial reports.
    public static let reported: [String: [String]] = [
        "pytorch": ["accuracy", "test_accuracy", "loss", "test_loss", "params", "nonzero_params", "bytes", "payload_bytes",
                    "macs", "sparse_macs", "train_seconds", "seconds", "epochs_done", "onnx_bytes", "epoch_seconds",
                    "teacher_accuracy"],
        // NAS-Bench-Macro's table (`accuracy` is one recorded run; the rest are its columns).
        "table": ["accuracy", "accuracy_mean", "mean_acc", "std", "params", "flops"],
    ]
    public static let measured = ["latency_ms", "latency_min_ms", "latency_p90_ms", "runs"]

    /// The names a search's results can carry, or nil when the trainer's are unknown.
    public static func names(trainer: String, kind: TrialKind, benchmark: String?) -> [String]? {
        if kind == .measure { return figures + measured }
        // Other benchmark tables carry other columns.
        if trainer == "table" && benchmark != "nas-bench-macro" { return nil }
        return reported[trainer].map { figures + $0 }
    }

    /// Checks objective metric names; throws naming the objective, the trainer and a
    /// suggestion.
    public static func check(objectives: [String], trainer: String, kind: TrialKind, benchmark: String?) throws(MetricNameError) {
        guard let known = names(trainer: trainer, kind: kind, benchmark: benchmark) else { return }
        for o in objectives {
            let name = String(o.split(separator: ":").first ?? "")
            guard !known.contains(name) else { continue }
            let hint = suggestion(name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            let source = kind == .measure ? "a measure trial" : "the \(trainer) trainer"
            throw MetricNameError("objective '\(o)': no metric '\(name)'\(hint); \(source) reports "
                                  + Set(known).sorted().joined(separator: ", "))
        }
    }

    /// A known name the word abbreviates, else the closest by spelling.
    public static func suggestion(_ word: String, in known: [String]) -> String? {
        if !word.isEmpty, let p = known.first(where: { $0.hasPrefix(word) }) { return p }
        return YAMLReader.closest(word, in: known)
    }
}

public struct MetricNameError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
