import Foundation

/// The part of etcd's v3 API that Tether uses, as its JSON gateway speaks it (etcd 3.4 and
/// later, `POST /v3/...`): keys and values in base64, 64-bit integers as strings, fields under
/// their proto names, defaults (false, 0, empty) left out of answers.
enum EtcdWire {
    struct KeyValue: Decodable, Sendable {
        var key: Data
        var value: Data
        var createRevision: Int64
        var modRevision: Int64
        var version: Int64
        var lease: Int64

        enum CodingKeys: String, CodingKey {
            case key, value, version, lease
            case createRevision = "create_revision", modRevision = "mod_revision"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            key = try c.decodeIfPresent(Data.self, forKey: .key) ?? Data()
            value = try c.decodeIfPresent(Data.self, forKey: .value) ?? Data()
            createRevision = try c.int64(.createRevision)
            modRevision = try c.int64(.modRevision)
            version = try c.int64(.version)
            lease = try c.int64(.lease)
        }

        var keyText: String { String(decoding: key, as: UTF8.self) }
    }

    struct Header: Decodable, Sendable {
        var revision: Int64

        init(from decoder: any Decoder) throws {
            revision = try decoder.container(keyedBy: CodingKeys.self).int64(.revision)
        }

        enum CodingKeys: String, CodingKey { case revision }
    }

    struct RangeRequest: Encodable, Sendable {
        var key: Data
        var rangeEnd: Data?
        var limit: Int64?
        var sortOrder: String?
        var sortTarget: String?
        var countOnly: Bool?
        var revision: Int64?

        enum CodingKeys: String, CodingKey {
            case key, limit, revision
            case rangeEnd = "range_end", sortOrder = "sort_order", sortTarget = "sort_target", countOnly = "count_only"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try c.encodeIfPresent(rangeEnd, forKey: .rangeEnd)
            try c.encodeIfPresent(limit.map(String.init), forKey: .limit)
            try c.encodeIfPresent(revision.map(String.init), forKey: .revision)
            try c.encodeIfPresent(sortOrder, forKey: .sortOrder)
            try c.encodeIfPresent(sortTarget, forKey: .sortTarget)
            try c.encodeIfPresent(countOnly, forKey: .countOnly)
        }
    }

    struct RangeResponse: Decodable, Sendable {
        var header: Header?
        var kvs: [KeyValue]
        var count: Int64

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            header = try c.decodeIfPresent(Header.self, forKey: .header)
            kvs = try c.decodeIfPresent([KeyValue].self, forKey: .kvs) ?? []
            count = try c.int64(.count)
        }

        enum CodingKeys: String, CodingKey { case header, kvs, count }
    }

    struct PutRequest: Encodable, Sendable {
        var key: Data
        var value: Data
        var lease: Int64?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try c.encode(value, forKey: .value)
            try c.encodeIfPresent(lease.map(String.init), forKey: .lease)
        }

        enum CodingKeys: String, CodingKey { case key, value, lease }
    }

    struct DeleteRangeRequest: Encodable, Sendable {
        var key: Data
        var rangeEnd: Data?

        enum CodingKeys: String, CodingKey { case key, rangeEnd = "range_end" }
    }

    /// One condition of a transaction. With `rangeEnd`, every key in the range must meet it
    /// (and an empty range compares as one missing key: version, create and mod revision 0).
    struct Compare: Encodable, Sendable {
        enum Target: String, Sendable { case version = "VERSION", create = "CREATE", mod = "MOD", lease = "LEASE" }
        enum Result: String, Sendable { case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL" }

        var key: Data
        var rangeEnd: Data?
        var target: Target
        var result: Result
        var number: Int64

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try c.encodeIfPresent(rangeEnd, forKey: .rangeEnd)
            try c.encode(target.rawValue, forKey: .target)
            try c.encode(result.rawValue, forKey: .result)
            let field: CodingKeys = switch target {
            case .version: .version
            case .create: .createRevision
            case .mod: .modRevision
            case .lease: .lease
            }
            try c.encode(String(number), forKey: field)
        }

        enum CodingKeys: String, CodingKey {
            case key, target, result, version, lease
            case rangeEnd = "range_end", createRevision = "create_revision", modRevision = "mod_revision"
        }
    }

    enum Operation: Encodable, Sendable {
        case range(RangeRequest)
        case put(PutRequest)
        case delete(DeleteRangeRequest)

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .range(let r): try c.encode(r, forKey: .requestRange)
            case .put(let p): try c.encode(p, forKey: .requestPut)
            case .delete(let d): try c.encode(d, forKey: .requestDeleteRange)
            }
        }

        enum CodingKeys: String, CodingKey {
            case requestRange = "request_range", requestPut = "request_put", requestDeleteRange = "request_delete_range"
        }
    }

    struct TxnRequest: Encodable, Sendable {
        var compare: [Compare]
        var success: [Operation]
        var failure: [Operation]
    }

    struct TxnResponse: Decodable, Sendable {
        var header: Header?
        var succeeded: Bool
        /// One per operation of the branch taken; only ranges carry anything Tether reads.
        var responses: [RangeResponse?]

        init(header: Header? = nil, succeeded: Bool, responses: [RangeResponse?]) {
            self.header = header
            self.succeeded = succeeded
            self.responses = responses
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            header = try c.decodeIfPresent(Header.self, forKey: .header)
            succeeded = try c.decodeIfPresent(Bool.self, forKey: .succeeded) ?? false
            responses = try (c.decodeIfPresent([OperationResponse].self, forKey: .responses) ?? []).map(\.range)
        }

        enum CodingKeys: String, CodingKey { case header, succeeded, responses }
    }

    struct OperationResponse: Decodable, Sendable {
        var range: RangeResponse?

        enum CodingKeys: String, CodingKey { case range = "response_range" }
    }

    struct LeaseGrantRequest: Encodable, Sendable {
        var ttl: Int64

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(String(ttl), forKey: .ttl)
        }

        enum CodingKeys: String, CodingKey { case ttl = "TTL" }
    }

    struct LeaseID: Encodable, Sendable {
        var id: Int64

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(String(id), forKey: .id)
        }

        enum CodingKeys: String, CodingKey { case id = "ID" }
    }

    struct LeaseGrant: Decodable, Sendable {
        var id: Int64
        var ttl: Int64

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.int64(.id)
            ttl = try c.int64(.ttl)
        }

        enum CodingKeys: String, CodingKey { case id = "ID", ttl = "TTL" }
    }

    /// A keep-alive answers on a stream, one `result` per request; a lease that is gone comes
    /// back with no TTL.
    struct LeaseKeepAlive: Decodable, Sendable {
        var result: LeaseGrant?
    }

    /// What the gateway sends instead of an answer: gRPC's status code and message.
    struct Failure: Decodable, Sendable {
        var code: Int?
        var message: String?
        var error: String?
    }
}

extension KeyedDecodingContainer {
    /// A 64-bit integer as the gateway writes it (a string), or as a number; absent is 0.
    func int64(_ key: Key) throws -> Int64 {
        if let text = try? decodeIfPresent(String.self, forKey: key) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "'\(text)' is not a 64-bit integer")
            }
            return value
        }
        return try decodeIfPresent(Int64.self, forKey: key) ?? 0
    }
}
