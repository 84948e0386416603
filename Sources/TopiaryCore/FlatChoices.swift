/// A candidate's choices as flat names, for tables and analyses: `arch.NAME` and
/// `compression.PATH` (e.g. `compression.pruning.method`) -> the value as text.
public enum FlatChoices {
    public static func of(_ candidate: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ prefix: String, _ v: JSONValue) {
            if let pairs = v.objectPairs {
                for (k, x) in pairs { walk(prefix + "." + k, x) }
            } else if let s = v.stringValue {
                out[prefix] = s
            } else {
                out[prefix] = v.canonical
            }
        }
        for (k, v) in candidate.objectPairs ?? [] where k == "arch" || k == "compression" {
            for (name, x) in v.objectPairs ?? [] { walk(k + "." + name, x) }
        }
        return out
    }
}
