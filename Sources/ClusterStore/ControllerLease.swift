/// The right to drive a store's journal. Two controllers driving one journal could both resume
/// an operation and migrate a VM twice, so a controller holds a lease for as long as it runs:
/// a file lock for the embedded store, an etcd lease (with its keep-alive) for a shared one.
public protocol ControllerLease: Sendable {
    /// Who holds it, for messages: a process id, a member name.
    var holder: String { get }
    /// Gives it up at once (a lease is also lost when its holder dies).
    func release() async
}
