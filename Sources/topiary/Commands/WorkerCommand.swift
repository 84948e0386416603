import ArgumentParser
import Foundation
import TopiaryWire
import TopiaryWorker

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: dial the coordinator, run the trials it is given, reconnect when it goes away.",
        discussion: """
            --trainer NAME=COMMAND runs COMMAND through /bin/sh for each job (trainer protocol, docs/PROTOCOL.md);
            --trainer NAME=table:PATH.csv answers from a benchmark table (e.g. table=table:../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv).
            """)

    @Option(help: "Coordinator endpoint.") var connect = "tcp://127.0.0.1:5555"
    @Option(help: "Jobs run at once (default: one per GPU --gpus gives, else 1).") var slots: Int?
    @Option(help: "Capability tags, comma-separated (e.g. cpu,raspberry-pi-4); `cuda` is added when the worker has GPUs.") var tags = "cpu"
    @Option(help: ArgumentHelp("CUDA GPUs for the trainers, one per job: auto (CUDA_VISIBLE_DEVICES, else the NVIDIA driver's list), none, or ids (0,1).",
                               valueName: "auto|none|ids"))
    var gpus = "auto"
    @Option(name: .customLong("trainer"), help: "NAME=COMMAND or NAME=table:PATH.csv; repeatable.") var trainers: [String] = []
    @Option(help: "Worker name (default: host-pid).") var name: String?
    @Option(help: "Directory for job files, logs and outputs.") var workDir: String?
    @Option(help: "Threads each job may use (TOPIARY_THREADS, OMP_NUM_THREADS); default cores / slots.") var threads: Int?
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs = 1_000
    @Option(help: "MiB of trainer output kept in each job's trial.log (its last 4 KiB past that are kept too).") var maxLogMb = 64.0
    @Option(help: "Seconds between SIGTERM and SIGKILL when a job passes its deadline or is cancelled.") var killGrace = 5.0
    @Option(help: "Where files jobs need are cached by content (default ~/.cache/topiary/artifacts).") var cache: String?
    @Option(help: "Most GiB the cache may hold; the least recently used files go first.") var cacheGb = 10.0
    @Option(help: "Log level.") var logLevel = "info"
    @Option(help: "This worker's CURVE key pair (a .key file from `topiary keys generate`).") var key: String?
    @Option(help: "The coordinator's public key: its .pub file or the 40-character key; the handshake fails against any other server.")
    var serverKey: String?
    @Flag(help: "Allow dialing a non-loopback endpoint in plain TCP (no encryption, no authentication).") var insecure = false

    func validate() throws {
        if let slots, slots < 1 || slots > 1024 { throw ValidationError("--slots must be 1...1024") }
        if gpus != "auto" && gpus != "none" && GPUs.parse(gpus).isEmpty { throw ValidationError("--gpus must be auto, none or GPU ids such as 0,1; got '\(gpus)'") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
        guard (key == nil) == (serverKey == nil) else { throw ValidationError("--key and --server-key go together") }
        guard maxLogMb > 0 && maxLogMb <= 1_048_576 else { throw ValidationError("--max-log-mb must be above 0 and at most 1048576") }
        guard killGrace >= 0 && killGrace <= 3_600 else { throw ValidationError("--kill-grace must be 0...3600 seconds") }
        guard cacheGb > 0 && cacheGb <= 1_048_576 else { throw ValidationError("--cache-gb must be above 0") }
        guard !trainers.isEmpty else { throw ValidationError("give at least one --trainer NAME=COMMAND (or NAME=table:PATH.csv)") }
    }

    func run() async throws {
        let logger = try Logs.bootstrap(level: logLevel)
        var specs: [String: TrainerSpec] = [:]
        for t in trainers {
            do {
                let (n, spec) = try TrainerSpec.parse(t)
                specs[n] = spec
            } catch { throw InputError("\(error)") }
        }
        let host = ProcessInfo.processInfo.hostName
        let workerName = name ?? "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        let dir = URL(fileURLWithPath: workDir ?? NSTemporaryDirectory() + "topiary-worker-\(workerName)")
        let gpuList = gpus == "auto" ? GPUs.detect() : gpus == "none" ? [] : GPUs.parse(gpus)
        var tagList = tags.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !gpuList.isEmpty && !tagList.contains("cuda") { tagList.append("cuda") }
        var config = WorkerConfig(endpoint: connect, name: workerName, host: host, slots: slots ?? max(1, gpuList.count),
                                  tags: tagList, trainers: specs, workDirectory: dir)
        config.gpus = gpuList
        if !gpuList.isEmpty { logger.info("GPUs for the trainers", metadata: ["gpus": "\(gpuList.joined(separator: ","))"]) }
        config.heartbeatMs = heartbeatMs
        if let threads { config.threadsPerJob = threads }
        config.allowPlainNetwork = insecure
        if let key, let serverKey {
            do { config.curve = (try KeyFiles.loadPublic(serverKey), try KeyFiles.loadPair(key)) } catch let e as KeyError {
                throw InputError(e.description)
            }
        }
        config.maxLogBytes = UInt64(maxLogMb * 1_048_576)
        config.killGraceSeconds = killGrace
        if let cache { config.cacheDirectory = URL(fileURLWithPath: cache) }
        config.cacheLimitBytes = Int(cacheGb * 1_073_741_824)
        let agent = WorkerAgent(config: config, logger: logger)
        do {
            try await runUntilSignalled(LoopService(name: "worker", body: { try agent.run() }, stop: { agent.stop() }), logger: logger)
        } catch let e as WorkerRejected {
            throw RuntimeError(e.description)
        } catch let e as WorkerSetupError {
            throw InputError(e.description)
        }
    }
}
