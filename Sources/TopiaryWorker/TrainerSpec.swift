/// How a worker runs jobs for one trainer name.
public enum TrainerSpec: Sendable {
    /// A command run through `/bin/sh -c` per job (the trainer protocol: job JSON on stdin
    /// and in the file named by `TOPIARY_JOB`; JSON lines on stdout).
    case command(String)
    /// The built-in benchmark-table lookup.
    case table(TableEvaluator)

    /// Parses `NAME=COMMAND` or `NAME=table:PATH.csv`.
    public static func parse(_ text: String) throws -> (String, TrainerSpec) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw TableError("--trainer '\(text)': expected NAME=COMMAND or NAME=table:PATH.csv")
        }
        let name = String(text[..<eq]), rest = String(text[text.index(after: eq)...])
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw TableError("--trainer '\(text)': a trainer name uses letters, digits, '-' and '_'")
        }
        guard !rest.isEmpty else { throw TableError("--trainer '\(text)': the command is empty") }
        if rest.hasPrefix("table:") { return (name, .table(try TableEvaluator(path: String(rest.dropFirst(6))))) }
        // Jobs of searches whose trainer is `table` come without a graph (docs/PROTOCOL.md, JOB).
        guard name != "table" else {
            throw TableError("--trainer '\(text)': 'table' is the name of benchmark-table trainers (NAME=table:PATH.csv), whose jobs carry no graph; give this command another name")
        }
        return (name, .command(rest))
    }
}
