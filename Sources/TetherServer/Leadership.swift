import ClusterStore
import ClusterStoreEtcd
import Controller
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TetherModel

/// One controller of several on etcd: renews its lease, stands by until it leads, then leads a
/// term (a fresh `Controller` on the fenced store, the journal's unfinished operations driven,
/// health watched) until its lease is about to run out; then it stops acting and stands by again.
struct Leadership: Service {
    let election: EtcdElection
    let seat: ControllerSeat
    let store: EtcdClusterStore
    let makeController: @Sendable (any ClusterStore) async throws(TetherError) -> Controller
    let logger: Logger

    func run() async throws {
        let election = election, logger = logger
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await election.keepAlive { error in logger.warning("cannot renew the lease on etcd", metadata: ["error": "\(error)"]) }
                }
                group.addTask { await terms() }
                // Both run until shutdown cancels them.
            }
        }
    }

    private func terms() async {
        let lastError = Mutex("")
        while !Task.isCancelled {
            let fence: EtcdClusterStore.Fence
            do {
                fence = try await election.lead { error in
                    // Said once per kind of trouble, not five times a second.
                    let text = "\(error)"
                    if lastError.withLock({ old in defer { old = text }; return old != text }) {
                        logger.warning("cannot campaign on etcd", metadata: ["error": "\(text)"])
                    }
                }
            } catch {
                return   // cancelled
            }
            let started = ContinuousClock.now
            do {
                let controller = try await makeController(store.fenced(by: fence))
                await seat.lead(controller)
                let resumed = try await controller.recover()
                logger.notice("leading", metadata: ["fence": "\(fence.createRevision)", "resumed": "\(resumed)",
                                                    "took": "\(ContinuousClock.now - started)"])
                await withTaskGroup(of: Void.self) { term in
                    term.addTask { try? await OperationRunner(controller).run() }
                    term.addTask { try? await HealthWatch(controller: controller).run() }
                    term.addTask { await election.lost() }
                    // The first to return is the lease running out (or shutdown): the term ends.
                    _ = await term.next()
                    term.cancelAll()
                }
            } catch {
                // Holding the key without leading would leave the cluster with no leader.
                logger.error("cannot lead; handing over", metadata: ["error": "\(error)"])
                election.stepDown()
            }
            await seat.standBy()
            if !Task.isCancelled {
                logger.warning("stopped leading: the lease on etcd could not be renewed in time; standing by")
            }
        }
    }
}
