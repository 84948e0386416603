import Foundation
import Logging
import TopiaryWire

/// The coordinator cannot start as configured (the message says what to change).
public struct CoordinatorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension CoordinatorLoop {
    /// Answers libzmq's ZAP requests: a worker whose public key is on the allow-list may
    /// finish its CURVE handshake; any other is refused before it can send a message.
    mutating func answerAuthentication() throws {
        guard let zap else { return }
        let list = allow
        for d in try zap.answer({ list?.name(of: $0) }) {
            if d.accepted {
                logger.debug("worker key accepted", metadata: ["key": "\(d.name ?? "?")", "address": "\(d.address)"])
            } else {
                warnLimited("unknown-key", "refused a connection: its key is not on the allow-list",
                            ["key": "\(d.publicKey ?? "none (\(d.mechanism))")", "address": "\(d.address)"])
            }
        }
    }

    /// Re-reads the allow-list when it changed on disk; workers whose key was removed are
    /// told so and dropped (their trials go back to the queue). A list that no longer
    /// reads leaves the old one in force.
    mutating func reloadAllowList() {
        guard let current = allow else { return }
        let stamp = AllowList.stamp(current.path)
        guard stamp != allowStamp else { return }
        allowStamp = stamp
        do {
            let fresh = try AllowList(path: current.path)
            allow = fresh
            logger.notice("allow-list reloaded", metadata: ["path": "\(current.path)", "keys": "\(fresh.count)"])
            for w in Array(registry.all) {
                let name = w.name
                guard let key = w.key, fresh.name(of: key) == nil else { continue }
                send(w.identity, .reject("this worker's key was removed from the coordinator's allow-list"))
                logger.warning("worker dropped: its key left the allow-list", metadata: ["worker": "\(name)", "key": "\(key)"])
                dropWorker(name, reason: "key removed from the allow-list")
            }
        } catch {
            logger.error("the allow-list no longer reads; keeping the previous one", metadata: ["path": "\(current.path)", "error": "\(error)"])
        }
    }
}
