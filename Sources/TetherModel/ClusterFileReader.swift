import Yams

/// Reads YAML (and so JSON, which YAML contains) node by node, so that an unknown key, a
/// duplicate key, a wrong type or a negative number is reported with its line and entry, and
/// every problem in the file is reported at once.
struct ClusterFileReader {
    var problems: [ClusterFileError.Problem] = []

    mutating func problem(_ node: Node?, _ place: String, _ message: String) {
        problems.append(.init(line: node?.mark?.line, place: place, message: message))
    }

    /// A mapping with string keys, each allowed and none repeated; the required ones present.
    mutating func mapping(_ node: Node, _ place: String, allowed: [String], required: [String] = []) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            problem(node, place, "expected a mapping with keys \(allowed.joined(separator: ", "))")
            return nil
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                problem(keyNode, place, "keys must be plain names")
                continue
            }
            if !allowed.contains(key.string) {
                problem(keyNode, place, "unknown key '\(key.string)' (allowed: \(allowed.joined(separator: ", ")))")
            } else if result[key.string] != nil {
                problem(keyNode, place, "key '\(key.string)' appears twice")
            } else {
                result[key.string] = value
            }
        }
        for key in required where result[key] == nil {
            problem(node, place, "missing '\(key)'")
        }
        return result
    }

    mutating func sequence(_ node: Node?, _ place: String, _ key: String) -> [Node]? {
        guard let node else { return nil }
        guard case .sequence(let sequence) = node else {
            problem(node, place, "\(key) must be a list")
            return nil
        }
        return Array(sequence)
    }

    /// A non-empty scalar, taken as text (so `vendorId: 0825` stays "0825").
    mutating func string(_ node: Node?, _ place: String, _ key: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, node.null == nil || scalar.style != .plain else {
            problem(node, place, "\(key) must be a name or text, not \(kind(node))")
            return nil
        }
        guard !scalar.string.isEmpty else {
            problem(node, place, "\(key) must not be empty")
            return nil
        }
        return scalar.string
    }

    /// A whole number, 0 or more.
    mutating func count(_ node: Node?, _ place: String, _ key: String) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = node.int else {
            let shown: String = if case .scalar(let s) = node { "'\(s.string)'" } else { kind(node) }
            problem(node, place, "\(key) must be a whole number, not \(shown)")
            return nil
        }
        guard value >= 0 else {
            problem(node, place, "\(key) must not be negative (it is \(value))")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node?, _ place: String, _ key: String) -> Bool? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = node.bool else {
            problem(node, place, "\(key) must be true or false")
            return nil
        }
        return value
    }

    mutating func strings(_ node: Node?, _ place: String, _ key: String) -> [String]? {
        guard let items = sequence(node, place, key) else { return nil }
        var result: [String] = []
        for (i, item) in items.enumerated() {
            guard let text = string(item, place, "\(key)[\(i)]") else { continue }
            if result.contains(text) {
                problem(item, place, "\(key) lists '\(text)' twice")
            } else {
                result.append(text)
            }
        }
        return result
    }

    private func kind(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar: node.null != nil ? "nothing" : "'\(node.string ?? "")'"
        }
    }
}
