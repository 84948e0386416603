import Foundation
import Testing
import TopiaryWorker

/// Which GPUs a worker finds and how it hands them to jobs (`GPUs`).
struct GPUsTests {
    @Test func gpuListsReadAsCUDAReadsThem() {
        #expect(GPUs.parse("0,1") == ["0", "1"])
        #expect(GPUs.parse(" 2 , GPU-8a1b ") == ["2", "GPU-8a1b"])
        #expect(GPUs.parse("").isEmpty && GPUs.parse("-1").isEmpty)
        #expect(GPUs.parse("0,-1,3") == ["0"], "CUDA stops at the first negative id")
    }

    @Test func detectionTakesCUDAVisibleDevicesElseTheDriverList() throws {
        let driver = FileManager.default.temporaryDirectory.appendingPathComponent("gpus-\(UUID().uuidString)")
        for bus in ["0000:17:00.0", "0000:65:00.0"] {
            try FileManager.default.createDirectory(at: driver.appendingPathComponent(bus), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: driver) }
        #expect(GPUs.detect(environment: [:], driverDirectory: driver.path) == ["0", "1"])
        #expect(GPUs.detect(environment: [:], driverDirectory: driver.path + "-none").isEmpty)
        #expect(GPUs.detect(environment: ["CUDA_VISIBLE_DEVICES": "1"], driverDirectory: driver.path) == ["1"],
                "a worker confined to some GPUs offers only those")
        #expect(GPUs.detect(environment: ["CUDA_VISIBLE_DEVICES": ""], driverDirectory: driver.path).isEmpty)
    }

    @Test func aNewJobGetsTheGPUTheFewestRunningJobsHold() {
        #expect(GPUs.leastBusy([], holding: []) == nil)
        #expect(GPUs.leastBusy(["0", "1"], holding: []) == "0")
        #expect(GPUs.leastBusy(["0", "1"], holding: ["0"]) == "1")
        #expect(GPUs.leastBusy(["0", "1"], holding: ["0", "1", "1"]) == "0")
    }
}
