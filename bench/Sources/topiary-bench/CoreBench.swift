enum CoreBench {
    static func run(_ args: [String]) throws {}
}
