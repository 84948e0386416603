import Foundation

/// The CUDA GPUs a worker offers its trainers, and which one each running job holds.
///
/// A worker with GPUs says so in its HELLO (the `cuda` tag, one slot per GPU unless told
/// otherwise) and gives each trainer process one GPU (`CUDA_VISIBLE_DEVICES`), the one
/// the fewest of its running jobs hold; the reference trainer then trains on it and on
/// the CPU where none is visible.
public enum GPUs {
    /// The GPUs of this machine, as `CUDA_VISIBLE_DEVICES` names them: the variable's own
    /// list when it is set (a worker confined to some GPUs), else one index per NVIDIA GPU
    /// the driver lists under `/proc/driver/nvidia/gpus`. Empty without any.
    public static func detect(environment: [String: String] = ProcessInfo.processInfo.environment,
                              driverDirectory: String = "/proc/driver/nvidia/gpus") -> [String] {
        if let visible = environment["CUDA_VISIBLE_DEVICES"] {
            return parse(visible)
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: driverDirectory)) ?? []
        return (0..<entries.count).map(String.init)
    }

    /// A `CUDA_VISIBLE_DEVICES`-style list (`0,1`, `GPU-uuid`, or empty / `-1` for none).
    public static func parse(_ list: String) -> [String] {
        let ids = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // CUDA stops at the first invalid index; a negative one hides every GPU.
        return Array(ids.prefix { !$0.hasPrefix("-") })
    }

    /// The GPU for a new job: the one the fewest running jobs hold (the first on a tie).
    public static func leastBusy(_ gpus: [String], holding: [String]) -> String? {
        gpus.min { a, b in holding.filter { $0 == a }.count < holding.filter { $0 == b }.count }
    }
}
