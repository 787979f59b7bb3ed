import Foundation
import TetherModel

/// Moves a host made on its own while it could not reach the controller (management lost): the
/// controller journals each as the failover it was, with its steps and times, so that the
/// journal explains every automatic action (shared/spec/ha.md, invariant 3), and a completed one
/// takes the VM's forwarded devices along as a failover of its own would.
extension Controller {
    public func adoptMoves(of host: String, _ moves: [OperationRecord]) async throws(TetherError) -> [String] {
        let known = Set(try await store.recentOperations(limit: 500).compactMap { record -> String? in
            guard let order = record.failover, let by = order.ranBy, let id = order.ranAs else { return nil }
            return "\(by)/\(id)"
        })
        var adopted: [String] = []
        var episodes: [Date: (order: FailoverOrder, lines: [String])] = [:]
        for move in moves {
            guard case .failover(var order) = move.payload, move.state.isFinished else {
                throw TetherError(.invalidArgument, "\(move.id) is not a finished failover; a host hands over only the moves it finished")
            }
            guard order.from == host else {
                throw TetherError(.permissionDenied, "\(host) hands over a move of \(order.vm) from \(order.from); a host hands over only its own")
            }
            order.ranBy = host
            order.ranAs = move.id
            guard !known.contains("\(host)/\(move.id)") else { continue }   // handed over before; the agent did not hear the answer
            let record = try await store.begin(.failover(order), at: move.created)
            for step in move.steps { _ = try await store.record(step, in: record.id) }
            let finished = try await store.finish(record.id, as: move.state, error: move.error, at: move.updated)
            ControllerMetrics.finished(finished)
            if finished.state == .completed {
                finished.attachmentChanges(given: attachments.values).apply(to: &attachments)
                applyToModel(finished)
            }
            adopted.append(record.id)
            episodes[order.detectedAt, default: (order, [])].lines.append(
                "\(host) moved \(order.vm) to \(order.target) on its own (its \(move.id)), journaled here as \(record.id): \(move.state.rawValue)")
            for step in move.steps {
                events.append(ClusterEvent(at: step.at, kind: .operation, host: host, subject: record.id, from: OperationRecord.Kind.failover.rawValue,
                                           to: "\(step.step) \(step.phase.rawValue)", detail: step.detail.map { [$0] } ?? []))
            }
        }
        // One fault event per loss, as when the controller itself acts on a fault.
        for (detected, episode) in episodes.sorted(by: { $0.key < $1.key }) {
            let order = episode.order
            events.append(ClusterEvent(at: detected, kind: .fault, host: host, subject: order.fault.rawValue, from: order.trigger.rawValue,
                                       to: "failover", detail: order.evidence + episode.lines,
                                       detectionSeconds: order.faultAt.map { detected.timeIntervalSince($0) }))
        }
        return adopted
    }
}
