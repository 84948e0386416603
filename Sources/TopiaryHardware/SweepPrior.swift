import TopiaryCore

/// The per-layer model fitted to a kernel sweep, as the starting point of a calibration
/// on whole networks (`Calibrator.fit(samples:target:prior:)`).
///
/// Every kernel a sweep timed is a one-layer network of the device, and the sweep covers
/// each kind of operation over a grid of sizes. Whole-network measurements of one family
/// barely move the terms the family hardly uses (a dense convolution that is only the
/// stem of a MobileNet), and those terms then carry the family's scale to networks where
/// they dominate: the saved host-cpu calibration, fitted on MobileNet-style and
/// NAS-Bench-Macro networks, predicted Fused-MBConv networks at a quarter of their time.
/// Fitted to the sweep first, each term starts from what the device showed for that kind
/// of operation, and the whole-network measurements rescale and correct it.
public enum SweepPrior {
    /// The sweep's kernels as calibration samples: each measured signature (fusion probes
    /// aside) matched with the kernel of `plan` that has it, which carries its graph, and
    /// timed as the sweep timed it (the runtime's fixed cost included, as a network's is).
    /// Signatures the plan does not describe are skipped.
    public static func samples(_ profile: KernelProfile, plan: [Kernel], model: LatencyModel) -> [CalibrationSample] {
        var graphs: [String: NetworkGraph] = [:]
        for k in plan where graphs[k.signature] == nil { graphs[k.signature] = k.graph }
        // A kernel alone passes its input and output in and out of the runtime, which a layer
        // inside a network does not: a term of its own (`io`, at the profile's main-memory
        // bandwidth) takes that cost, so that the memory terms networks use do not.
        let bandwidth = max(model.target.memory.bandwidthGBs, 1e-6) * 1e6  // bytes per millisecond
        return profile.rows.compactMap { row in
            guard !row.signature.hasPrefix("probe:"), let g = graphs[row.signature] else { return nil }
            var s = model.sample(g, measuredMilliseconds: row.milliseconds + profile.overheadMilliseconds, label: row.signature)
            let elements = Double(g.nodes[0].shape.elements + g.nodes[g.output].shape.elements)
            s.features.fixed.append(TermTime(.io, elements * 4 / bandwidth))
            return s
        }
    }

    /// The per-layer calibration of `target` on a sweep's kernels (`samples(_:plan:model:)`);
    /// nil when there are fewer than `minimumKernels` of them.
    public static func fit(_ samples: [CalibrationSample], target: HardwareTarget,
                           minimumKernels: Int = 50) throws(CalibrationError) -> Calibration? {
        guard samples.count >= minimumKernels else { return nil }
        var options = Calibrator.Options()
        // Only the per-layer coefficients serve as a prior; the lines are not compared.
        options.forms = [.perLayer]
        return try Calibrator(options: options).fit(samples: samples, target: target)
    }
}
