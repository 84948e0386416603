import Foundation
import GRDB

/// A row of the Topiary database as a plain `Codable` value. Columns are snake_case
/// (each record spells them in its `CodingKeys`); dates are stored as seconds since 1970,
/// JSON documents as text.
public protocol StoreRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {}

extension StoreRecord {
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .timeIntervalSince1970
    }

    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .timeIntervalSince1970
    }
}
