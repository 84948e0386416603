import Foundation
import GRDB
import Synchronization

extension Store {
    /// Runs `body` as one write transaction: the store's write methods that `body` calls on
    /// this thread join it, each in a savepoint of its own (one that fails is undone alone,
    /// and throws as usual). Nothing is visible to readers before the whole batch commits;
    /// when it cannot commit, nothing of it is stored. For a writer that applies many small
    /// writes at once (the daemon's store writer): one commit instead of one per write.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        do {
            if let fullDiskFlag { try limitGrowth(flag: fullDiskFlag) }
            return try pool.write { db in
                batchConnection.withLock { $0 = BatchConnection(thread: pthread_self(), db: db) }
                defer { batchConnection.withLock { $0 = nil } }
                return try body()
            }
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw Self.unavailable(e, path: path, busyTimeout: busyTimeout) ?? StoreError.database(operation: "writing a batch", message: e.message ?? "\(e)")
        }
    }

    /// The connection of the batch this thread is running, if any.
    func currentBatch() -> Database? {
        batchConnection.withLock { b in
            guard let b, pthread_equal(b.thread, pthread_self()) != 0 else { return nil }
            return b.db
        }
    }
}

/// The write connection of a running `batch`, and the thread running it.
struct BatchConnection: @unchecked Sendable {
    var thread: pthread_t
    var db: Database
}
