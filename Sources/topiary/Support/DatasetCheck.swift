import Foundation
import TopiaryCore

/// What `search start --dataset` checks before anything is queued: the path exists, is a
/// folder of class folders (`PATH/CLASS/IMAGE`, or `PATH/train/CLASS/IMAGE` with an
/// optional `PATH/test/` of the same classes) or a NumPy `.npz`, and has as many classes
/// as the space's networks output. The trainer reads the images themselves (and names any
/// it cannot read or whose size differs).
enum DatasetCheck {
    /// The dataset's absolute path, or an error naming the path and what to do.
    static func check(_ path: String, space: SearchSpace) throws -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let p = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
            throw InputError("--dataset \(path): no such file or folder")
        }
        if !isDir.boolValue {
            guard p.hasSuffix(".npz") else {
                throw InputError("--dataset \(path): expected a folder of class folders or a NumPy .npz file (x_train, y_train, x_test, y_test)")
            }
            guard let h = FileHandle(forReadingAtPath: p), let magic = try? h.read(upToCount: 4), magic == Data([0x50, 0x4B, 0x03, 0x04]) else {
                throw InputError("--dataset \(path): not a NumPy .npz archive (np.savez writes one)")
            }
            return p
        }
        let train = FileManager.default.fileExists(atPath: url.appendingPathComponent("train").path) ? url.appendingPathComponent("train") : url
        let classes = try classFolders(train, shown: path)
        if classes.isEmpty {
            throw InputError("--dataset \(path): no class folders; expected \(path)/CLASS/IMAGE (or \(path)/train/CLASS/IMAGE), one folder of images per class")
        }
        let test = url.appendingPathComponent("test")
        if train != url, FileManager.default.fileExists(atPath: test.path) {
            let testClasses = try classFolders(test, shown: path)
            if testClasses != classes {
                throw InputError("--dataset \(path): test/ has the classes \(testClasses.joined(separator: ", ")) but train/ has \(classes.joined(separator: ", ")); give both the same class folders")
            }
        }
        if classes.count != space.classes {
            throw InputError("--dataset \(path) has \(classes.count) classes (\(classes.prefix(6).joined(separator: ", "))\(classes.count > 6 ? ", …" : "")) "
                             + "but \(space.name)'s networks output \(space.classes): use a space with classes: \(classes.count) (copy the space file and change it)")
        }
        return p
    }

    /// Sorted names of the folders under `dir` (hidden ones skipped); each must hold a file.
    static func classFolders(_ dir: URL, shown: String) throws -> [String] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var classes: [String] = []
        for n in names {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir.appendingPathComponent(n).path, isDirectory: &isDir), isDir.boolValue else { continue }
            let files = ((try? fm.contentsOfDirectory(atPath: dir.appendingPathComponent(n).path)) ?? []).filter { !$0.hasPrefix(".") }
            if files.isEmpty { throw InputError("--dataset \(shown): class folder \(dir.appendingPathComponent(n).path) has no images") }
            classes.append(n)
        }
        return classes
    }
}
