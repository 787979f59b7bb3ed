/// `POST /v1/attachments`: give a container's VM a device.
public struct AttachRequest: Sendable, Equatable, Codable {
    public var container: String
    public var device: DeviceSelector
    /// The VM the container runs in, when the controller may not know it yet (a container the
    /// hook is starting). Without it, the container must be listed on a registered VM.
    public var vm: String?
    /// Decide only; change nothing.
    public var dryRun: Bool

    public init(container: String, device: DeviceSelector, vm: String? = nil, dryRun: Bool = false) {
        self.container = container
        self.device = device
        self.vm = vm
        self.dryRun = dryRun
    }

    enum CodingKeys: String, CodingKey { case container, device, vm, dryRun }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        container = try c.decode(String.self, forKey: .container)
        device = try c.decode(DeviceSelector.self, forKey: .device)
        vm = try c.decodeIfPresent(String.self, forKey: .vm)
        dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
    }
}

/// The answer to an attach: the decision with its reasons, and the operation that carries it
/// out (none for a dry run, a rejection, or a device already attached to that VM).
public struct AttachResponse: Sendable, Equatable, Codable {
    public var decision: AttachDecision
    public var operation: OperationRecord?

    public init(decision: AttachDecision, operation: OperationRecord?) {
        self.decision = decision
        self.operation = operation
    }
}

/// `POST /v1/detachments`: take a device back from a container's VM.
public struct DetachRequest: Sendable, Equatable, Codable {
    public var container: String
    /// Which of the container's devices; nil: all of them.
    public var device: DeviceSelector?

    public init(container: String, device: DeviceSelector? = nil) {
        self.container = container
        self.device = device
    }
}

public struct DetachReply: Sendable, Equatable, Codable {
    public var operations: [OperationRecord]
    public init(operations: [OperationRecord]) { self.operations = operations }
}
