import Foundation
import Lab
import TetherModel

/// How long a guest's writes stopped reaching its datastore across a fault: the lab guest writes
/// counter C into sector `LabGuestImage.sector(of: C)` of its disk, one after the other, over a
/// hundred a second; its image is read every 10 ms (the sectors after the last counter seen) and
/// the longest time between two reads that saw the counter grow is the pause. In normal running
/// that is the sampling interval; through a failover, the time the VM's writes were held.
actor GuestWriteGaps {
    private var sampling: Task<Void, Never>?
    /// When a read saw the counter grow.
    private var grew: [ContinuousClock.Instant] = []

    /// Starts following the guest's counter in `image`, forgetting any earlier samples; waits
    /// for the guest's first counter (a lab just up still boots its guests).
    func start(image: String) async throws(TetherError) {
        sampling?.cancel()
        grew = []
        let deadline = ContinuousClock.now + .seconds(60)
        var first = try LabGuestImage.sequence(of: image).maximum
        while first == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
            first = try LabGuestImage.sequence(of: image).maximum
        }
        guard var last = first else { throw TetherError(.timeout, "the guest wrote no counter to \(image) within 60 s") }
        sampling = Task {
            while !Task.isCancelled {
                if let counter = try? LabGuestImage.latestCounter(in: image, after: last), counter > last {
                    last = counter
                    self.note(.now)
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    private func note(_ at: ContinuousClock.Instant) { grew.append(at) }

    /// Stops following; the longest stop in seconds, nil when fewer than two reads saw it grow.
    func stop() -> Double? {
        sampling?.cancel()
        sampling = nil
        return zip(grew, grew.dropFirst()).map { ($1 - $0).timeInterval }.max()
    }
}
