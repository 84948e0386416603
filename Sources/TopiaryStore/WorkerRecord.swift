import Foundation
import GRDB

/// A worker the coordinator has seen: where it runs, how many trials it takes at once,
/// its tags (e.g. the hardware target it can measure), and when it was last heard from.
public struct WorkerRecord: StoreRecord, Equatable {
    public var id: String
    public var host: String
    public var slots: Int
    public var tags: [String]
    public var firstSeen: Date
    public var lastSeen: Date

    public static let databaseTableName = "workers"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, host, slots, tags
        case firstSeen = "first_seen", lastSeen = "last_seen"
    }

    public init(id: String, host: String, slots: Int, tags: [String], firstSeen: Date, lastSeen: Date) {
        self.id = id
        self.host = host
        self.slots = slots
        self.tags = tags
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}
