import Foundation

/// Numbers for people: 1.2M, 3.4 KiB, 12,345.
public enum Format {
    public static func count(_ n: Int) -> String {
        let d = Double(n)
        if abs(d) >= 1e9 { return String(format: "%.2fG", d / 1e9) }
        if abs(d) >= 1e6 { return String(format: "%.2fM", d / 1e6) }
        if abs(d) >= 1e4 { return String(format: "%.1fK", d / 1e3) }
        return String(n)
    }

    public static func bytes(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
        if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
        if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
        return "\(n) B"
    }

    public static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}
