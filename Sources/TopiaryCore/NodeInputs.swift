/// The inputs of a graph node, stored inline (up to eight) so that building, copying
/// and walking a graph allocates nothing per node. Cost accounting runs for every
/// candidate the search considers, so this matters.
public struct NodeInputs: RandomAccessCollection, ExpressibleByArrayLiteral, Sendable, Equatable {
    public static let capacity = 8
    private var storage: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count: Int = 0

    public init() {}

    public init<S: Sequence>(_ items: S) where S.Element == Int {
        for i in items { append(i) }
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(i: Int) -> Int {
        get {
            precondition(i >= 0 && i < count, "node input index out of range")
            return withUnsafeBytes(of: storage) { Int($0.load(fromByteOffset: i * 4, as: Int32.self)) }
        }
        set {
            precondition(i >= 0 && i < count, "node input index out of range")
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: Int32(newValue), toByteOffset: i * 4, as: Int32.self) }
        }
    }

    public mutating func append(_ v: Int) {
        precondition(count < Self.capacity, "a node takes at most \(Self.capacity) inputs")
        count += 1
        self[count - 1] = v
    }

    public static func == (a: NodeInputs, b: NodeInputs) -> Bool { a.elementsEqual(b) }
}
