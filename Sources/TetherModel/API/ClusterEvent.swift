import Foundation

/// One entry of `tether events`: a health change the controller saw (a network, a path, a
/// host's verdict) or a step of the journal.
public struct ClusterEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// A host's network or datastore path changed state.
        case network, path
        /// The controller's verdict on a host changed.
        case host
        /// A journaled operation began, stepped or ended.
        case operation
        /// A fault was reported (by a host's agent) or seen (by the controller), and what was
        /// done about it: failovers begun or joined, VMs no host could take.
        case fault
        /// A device's observed need crossed its VM's migrate threshold, or a device was lost or
        /// came back; and what was done about it.
        case device
    }

    /// Grows by one per event, from 1; `GET /v1/events?after=N` returns those after N.
    public var sequence: Int
    public var at: Date
    public var kind: Kind
    public var host: String?
    /// What changed: `management`, `ds1 nbd://10.83.0.1:10809`, an operation id.
    public var subject: String
    public var from: String?
    public var to: String
    /// The evidence or the step's detail, in words.
    public var detail: [String]
    /// From the fault (the last good measure) to the controller knowing of it, for a change to
    /// `down`, `partial` or a bad verdict.
    public var detectionSeconds: Double?

    public init(sequence: Int = 0, at: Date, kind: Kind, host: String?, subject: String, from: String?, to: String,
                detail: [String] = [], detectionSeconds: Double? = nil) {
        self.sequence = sequence
        self.at = at
        self.kind = kind
        self.host = host
        self.subject = subject
        self.from = from
        self.to = to
        self.detail = detail
        self.detectionSeconds = detectionSeconds
    }
}

/// `GET /v1/events`: the events after the asked sequence, and the sequence to ask after next.
public struct EventPage: Sendable, Equatable, Codable {
    public var events: [ClusterEvent]
    public var next: Int

    public init(events: [ClusterEvent], next: Int) {
        self.events = events
        self.next = next
    }
}
