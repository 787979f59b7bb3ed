import TetherModel

/// `tether.io/devices`: the devices a container asks for, as a comma-separated list of
/// selectors (`VID:PID`, `VID:PID:SERIAL`, `HOST/PORT`). `tether.io/vm` may name the container's
/// VM where the hook's own `--vm` does not.
public enum DeviceAnnotation {
    public static let devices = "tether.io/devices"
    public static let vm = "tether.io/vm"

    /// The selectors asked for; empty when the annotation is absent or blank.
    public static func selectors(in annotations: [String: String]) throws(TetherError) -> [DeviceSelector] {
        guard let text = annotations[devices] else { return [] }
        var selectors: [DeviceSelector] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else {
                if text.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
                throw TetherError(.invalidArgument, "annotation \(devices) '\(text)' has an empty entry")
            }
            let selector: DeviceSelector
            do { selector = try DeviceSelector(parsing: item) } catch {
                throw TetherError(.invalidArgument, "annotation \(devices): \(error.message)")
            }
            if !selectors.contains(selector) { selectors.append(selector) }
        }
        return selectors
    }
}
