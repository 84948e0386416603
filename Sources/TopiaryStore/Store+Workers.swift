import Foundation
import GRDB

extension Store {
    /// Records a worker that said hello: new workers are added (and logged), known ones get
    /// their host, slots and tags updated. `firstSeen` of a known worker is kept.
    @discardableResult
    public func registerWorker(id: String, host: String, slots: Int, tags: [String]) throws -> WorkerRecord {
        guard slots >= 0 else { throw StoreError.invalidValue(field: "slots", detail: "must not be negative, got \(slots)") }
        return try write("registering worker \(id)") { db in
            let now = clock()
            if var w = try WorkerRecord.fetchOne(db, key: id) {
                w.host = host
                w.slots = slots
                w.tags = tags
                w.lastSeen = now
                try w.update(db)
                return w
            }
            var w = WorkerRecord(id: id, host: host, slots: slots, tags: tags, firstSeen: now, lastSeen: now)
            try w.insert(db)
            try appendEvent(db, kind: "worker.registered", message: "\(host), \(slots) slots, tags \(tags.joined(separator: ","))", worker: id)
            return w
        }
    }

    /// Notes that workers were heard from (heartbeats), in one transaction.
    public func workersSeen(_ ids: [String]) throws {
        try write("updating worker heartbeats") { db in
            let now = clock().timeIntervalSince1970
            for id in ids {
                try db.execute(sql: "UPDATE workers SET last_seen = ? WHERE id = ?", arguments: [now, id])
            }
        }
    }

    /// All workers ever seen, by id.
    public func workers() throws -> [WorkerRecord] {
        try read("listing workers") { db in try WorkerRecord.order(WorkerRecord.CodingKeys.id).fetchAll(db) }
    }
}
