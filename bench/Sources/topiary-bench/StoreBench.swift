enum StoreBench {
    static func run(_ args: [String]) throws {
        print("store benchmark: not written yet")
    }
}
