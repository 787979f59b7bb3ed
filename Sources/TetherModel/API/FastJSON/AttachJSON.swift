/// An attach's request and answer by hand (`FastJSON`). The keys are the Codable ones, sorted;
/// `FastJSONTests` holds each type's stored properties to the keys written here, so a field
/// added to a type and not here fails the tests instead of going missing on the wire.
extension AttachRequest: FastJSONDecodable, FastJSONEncodable {
    public static let fastKeys = ["container", "device", "dryRun", "vm"]

    public static func fastDecoded(from reader: inout JSONReader) -> AttachRequest? {
        var container: String?
        var device: DeviceSelector?
        var vm: String?
        var dryRun = false
        let read = reader.object { r, key in
            switch key {
            case "container": container = r.string()
            case "device":
                // A selector that does not parse: Foundation's decoder says why.
                device = r.string().flatMap { try? DeviceSelector(parsing: $0) }
                return device != nil
            case "vm":
                if r.null() { return true }
                vm = r.string()
                return vm != nil
            case "dryRun":
                if r.null() { return true }
                guard let value = r.bool() else { return false }
                dryRun = value
                return true
            default: return false
            }
            return container != nil
        }
        guard read, let container, let device else { return nil }
        return AttachRequest(container: container, device: device, vm: vm, dryRun: dryRun)
    }

    public func fastEncoded() -> [UInt8]? {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("container")
        w.string(container)
        w.key("device")
        w.string(device.description)
        w.key("dryRun")
        w.bool(dryRun)
        if let vm {
            w.key("vm")
            w.string(vm)
        }
        w.endObject()
        return w.finish()
    }
}

extension AttachResponse: FastJSONDecodable, FastJSONEncodable {
    public static let fastKeys = ["decision", "operation"]

    /// Only an answer without an operation (a dry run, a rejection): an operation's record, with
    /// its times and steps, is left to Foundation.
    public static func fastDecoded(from reader: inout JSONReader) -> AttachResponse? {
        var decision: AttachDecision?
        let read = reader.object { r, key in
            switch key {
            case "decision":
                decision = AttachDecision.fastDecoded(from: &r)
                return decision != nil
            case "operation": return r.null()
            default: return false
            }
        }
        guard read, let decision else { return nil }
        return AttachResponse(decision: decision, operation: nil)
    }

    public func fastEncoded() -> [UInt8]? {
        guard operation == nil else { return nil }
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("decision")
        decision.write(to: &w)
        w.endObject()
        return w.finish()
    }
}

extension AttachDecision {
    public static let fastKeys = ["action", "allocatedBitsPerSecond", "container", "device", "forwardedAfterMove", "migrateThresholdPercent",
                                  "reasons", "rebalance", "requiredBitsPerSecond", "targetHost", "vm", "vmHost"]

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("action")
        w.string(action.rawValue)
        w.key("allocatedBitsPerSecond")
        w.int(allocatedBitsPerSecond)
        w.key("container")
        w.string(container)
        w.key("device")
        w.string(device)
        if let forwardedAfterMove {
            w.key("forwardedAfterMove")
            w.strings(forwardedAfterMove)
        }
        w.key("migrateThresholdPercent")
        w.int(migrateThresholdPercent)
        w.key("reasons")
        w.strings(reasons)
        if let rebalance {
            w.key("rebalance")
            w.bool(rebalance)
        }
        w.key("requiredBitsPerSecond")
        w.int(requiredBitsPerSecond)
        if let targetHost {
            w.key("targetHost")
            w.string(targetHost)
        }
        w.key("vm")
        w.string(vm)
        w.key("vmHost")
        w.string(vmHost)
        w.endObject()
    }

    static func fastDecoded(from reader: inout JSONReader) -> AttachDecision? {
        var action: Action?
        var container: String?, vm: String?, vmHost: String?, device: String?, targetHost: String?
        var required: Int?, allocated: Int?, threshold: Int?
        var reasons: [String]?, forwarded: [String]?
        var rebalance: Bool?
        let read = reader.object { r, key in
            // Optional fields take null, as Foundation's decodeIfPresent does.
            switch key {
            case "action": action = r.string().flatMap(Action.init(rawValue:)); return action != nil
            case "container": container = r.string(); return container != nil
            case "vm": vm = r.string(); return vm != nil
            case "vmHost": vmHost = r.string(); return vmHost != nil
            case "device": device = r.string(); return device != nil
            case "targetHost":
                if r.null() { return true }
                targetHost = r.string()
                return targetHost != nil
            case "requiredBitsPerSecond": required = r.int(); return required != nil
            case "allocatedBitsPerSecond": allocated = r.int(); return allocated != nil
            case "migrateThresholdPercent": threshold = r.int(); return threshold != nil
            case "reasons": reasons = r.strings(); return reasons != nil
            case "forwardedAfterMove":
                if r.null() { return true }
                forwarded = r.strings()
                return forwarded != nil
            case "rebalance":
                if r.null() { return true }
                rebalance = r.bool()
                return rebalance != nil
            default: return false
            }
        }
        guard read, let action, let container, let vm, let vmHost, let device, let required, let allocated, let threshold, let reasons else {
            return nil
        }
        var decision = AttachDecision(action: action, container: container, vm: vm, vmHost: vmHost, device: device, targetHost: targetHost,
                                      requiredBitsPerSecond: required, allocatedBitsPerSecond: allocated, migrateThresholdPercent: threshold,
                                      reasons: reasons, forwardedAfterMove: forwarded)
        decision.rebalance = rebalance
        return decision
    }
}
