import Foundation

/// One forwarded device's rate as its host's relay measured it over the last second, both
/// directions together (the usbredir stream as the network carries it). Sent with heartbeats.
public struct DeviceRate: Sendable, Equatable, Codable {
    /// The device's port on the reporting host.
    public var device: String
    public var bytesPerSecond: Int

    public init(device: String, bytesPerSecond: Int) {
        self.device = device
        self.bytesPerSecond = bytesPerSecond
    }
}

/// What a device was seen to use: the peak of its one-second rates within the observation window
/// (kept across detaches and controller restarts, so the next attach is decided on it), and the
/// last rate heard.
public struct ObservedTraffic: Sendable, Equatable, Codable {
    public var device: DeviceRef
    public var peakBytesPerSecond: Int
    public var peakAt: Date
    public var lastBytesPerSecond: Int
    public var lastAt: Date
    /// What the device was (`VID:PID[:SERIAL]`): another device plugged into the same port later
    /// does not inherit the figure.
    public var identity: DeviceSelector?

    public init(device: DeviceRef, peakBytesPerSecond: Int, peakAt: Date, lastBytesPerSecond: Int, lastAt: Date,
                identity: DeviceSelector? = nil) {
        self.identity = identity
        self.device = device
        self.peakBytesPerSecond = peakBytesPerSecond
        self.peakAt = peakAt
        self.lastBytesPerSecond = lastBytesPerSecond
        self.lastAt = lastAt
    }
}

/// What the controller does when a forwarded device's observed need stays above its VM's
/// migrate threshold: migrate the VM to the device, only say so, or nothing.
public enum RebalancePolicy: String, Sendable, Equatable, Codable, CaseIterable {
    case auto, advise, off
}

/// Where a device's bulk figure comes from: what it was seen to use, the operator's profile of
/// its product, or its descriptors alone (which reserve nothing for bulk).
public enum BulkFigureSource: String, Sendable, Equatable, Codable {
    case observed, profile, descriptors
}

/// `tether status`: a device's declared and observed figures side by side, and what the
/// controller advises or did about it.
public struct DeviceFigures: Sendable, Equatable, Codable {
    public var device: DeviceRef
    /// The periodic bandwidth its descriptors reserve, in bytes per second.
    public var periodicBytesPerSecond: Int
    /// The bulk figure from the operator's profile of its VID:PID, if there is one.
    public var profileBulkBytesPerSecond: Int?
    /// What its channel carried: the peak within the window, and the last second.
    public var observed: ObservedTraffic?
    /// The figure placement decides on, in bits per second, and where its bulk part came from.
    public var requiredBitsPerSecond: Int
    public var source: BulkFigureSource
    /// Set while a forwarded device's need is above its VM's threshold: since when, and what was
    /// advised or done.
    public var aboveThresholdSince: Date?
    public var advice: String?

    public init(device: DeviceRef, periodicBytesPerSecond: Int, profileBulkBytesPerSecond: Int?, observed: ObservedTraffic?,
                requiredBitsPerSecond: Int, source: BulkFigureSource, aboveThresholdSince: Date? = nil, advice: String? = nil) {
        self.device = device
        self.periodicBytesPerSecond = periodicBytesPerSecond
        self.profileBulkBytesPerSecond = profileBulkBytesPerSecond
        self.observed = observed
        self.requiredBitsPerSecond = requiredBitsPerSecond
        self.source = source
        self.aboveThresholdSince = aboveThresholdSince
        self.advice = advice
    }
}
