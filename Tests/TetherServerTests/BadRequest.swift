import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TetherModel

/// One bad request to an API and what it must get back: the status, a JSON error whose code maps
/// to that status, and a message that says what was wrong.
struct BadRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var method: HTTPRequest.Method
    var uri: String
    var body: String?
    var status: Int
    var says: String
    var testDescription: String { name }

    func send(_ client: some TestClientProtocol) async throws {
        try await client.execute(uri: uri, method: method, body: body.map { ByteBuffer(string: $0) }) { response in
            #expect(response.status.code == status)
            #expect(response.headers[.contentType] == "application/json")
            let error = try APIJSON.decoder().decode(APIErrorBody.self, from: Data(buffer: response.body))
            #expect(error.error.message.contains(says), "\(error.error.message)")
            #expect(error.error.code.httpStatus == status)
        }
    }
}
