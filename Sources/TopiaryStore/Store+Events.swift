import Foundation
import GRDB

extension Store {
    /// Appends an event to the log (for the coordinator's own notes: worker lost, key refused…).
    @discardableResult
    public func logEvent(kind: String, message: String, search: Int64? = nil, trial: Int64? = nil,
                         worker: String? = nil) throws -> EventRecord {
        try write("logging an event") { db in
            try appendEvent(db, kind: kind, message: message, search: search, trial: trial, worker: worker)
        }
    }

    /// Events, oldest first, optionally only those of one search or one trial.
    public func events(search: Int64? = nil, trial: Int64? = nil, kind: String? = nil, limit: Int? = nil) throws -> [EventRecord] {
        try read("reading events") { db in
            var request = EventRecord.all()
            if let search { request = request.filter(EventRecord.CodingKeys.searchID == search) }
            if let trial { request = request.filter(EventRecord.CodingKeys.trialID == trial) }
            if let kind { request = request.filter(EventRecord.CodingKeys.kind == kind) }
            request = request.order(EventRecord.CodingKeys.id)
            if let limit { request = request.limit(limit) }
            return try request.fetchAll(db)
        }
    }

    @discardableResult
    func appendEvent(_ db: Database, kind: String, message: String, search: Int64? = nil, trial: Int64? = nil,
                     worker: String? = nil) throws -> EventRecord {
        var e = EventRecord(time: clock(), searchID: search, trialID: trial, workerID: worker, kind: kind, message: message)
        try e.insert(db)
        return e
    }
}
