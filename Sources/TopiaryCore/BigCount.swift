/// An exact non-negative integer for counting search spaces, which easily pass 2^64
/// (Once-for-All's space alone has about 2 x 10^19 architectures).
public struct BigCount: Equatable, Sendable, CustomStringConvertible, Comparable {
    /// Little-endian limbs in base 10^9.
    private var limbs: [UInt32]
    private static let base: UInt64 = 1_000_000_000

    public init(_ v: Int) {
        precondition(v >= 0)
        limbs = []
        var x = UInt64(v)
        repeat { limbs.append(UInt32(x % Self.base)); x /= Self.base } while x > 0
    }

    public static let zero = BigCount(0)
    public static let one = BigCount(1)

    public static func + (a: BigCount, b: BigCount) -> BigCount {
        var out = [UInt32]()
        var carry: UInt64 = 0
        for i in 0..<max(a.limbs.count, b.limbs.count) {
            let s = UInt64(i < a.limbs.count ? a.limbs[i] : 0) + UInt64(i < b.limbs.count ? b.limbs[i] : 0) + carry
            out.append(UInt32(s % base)); carry = s / base
        }
        if carry > 0 { out.append(UInt32(carry)) }
        var r = BigCount(0); r.limbs = out
        return r
    }

    public static func * (a: BigCount, b: BigCount) -> BigCount {
        var acc = [UInt64](repeating: 0, count: a.limbs.count + b.limbs.count + 1)
        for (i, x) in a.limbs.enumerated() {
            var carry: UInt64 = 0
            for (j, y) in b.limbs.enumerated() {
                let t = acc[i + j] + UInt64(x) * UInt64(y) + carry
                acc[i + j] = t % base; carry = t / base
            }
            var k = i + b.limbs.count
            while carry > 0 { let t = acc[k] + carry; acc[k] = t % base; carry = t / base; k += 1 }
        }
        while acc.count > 1 && acc.last == 0 { acc.removeLast() }
        var r = BigCount(0); r.limbs = acc.map { UInt32($0) }
        return r
    }

    /// The value, if it fits in an `Int`.
    public var intValue: Int? {
        var v = 0
        for limb in limbs.reversed() {
            let (m, o1) = v.multipliedReportingOverflow(by: Int(Self.base))
            let (s, o2) = m.addingReportingOverflow(Int(limb))
            if o1 || o2 { return nil }
            v = s
        }
        return v
    }

    /// Approximate value as a double, for display in scientific notation.
    public var doubleValue: Double { limbs.reversed().reduce(0.0) { $0 * Double(Self.base) + Double($1) } }

    public var description: String {
        var s = String(limbs.last ?? 0)
        for limb in limbs.dropLast().reversed() {
            let part = String(limb)
            s += String(repeating: "0", count: 9 - part.count) + part
        }
        return s
    }

    public static func < (a: BigCount, b: BigCount) -> Bool {
        if a.limbs.count != b.limbs.count { return a.limbs.count < b.limbs.count }
        for i in stride(from: a.limbs.count - 1, through: 0, by: -1) where a.limbs[i] != b.limbs[i] {
            return a.limbs[i] < b.limbs[i]
        }
        return false
    }
}
