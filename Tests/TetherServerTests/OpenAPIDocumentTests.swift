import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TetherModel
@testable import Controller
@testable import TetherHTTP

/// The API's description matches the routes that exist, both ways: a route added without its
/// description, or a description left behind by a route removed, fails here (and so the build).
/// schemathesis checks the answers against it (SchemathesisTests).
struct OpenAPIDocumentTests {
    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    /// `METHOD /v1/path/{param}` for every route under /v1 that the two routers serve.
    static func servedRoutes() async throws -> Set<String> {
        let (store, _) = try ClusterFixtures.temporaryStore()
        let controller = try await Controller(store: store) { UnreachableAgent(host: $0.host) }
        let routers = [ControllerRoutes.router(controller).routes, AgentRoutes.router(UnreachableAgent(host: "host-a"), callers: []).routes]
        return Set(routers.flatMap { $0 }.compactMap { route -> String? in
            let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            let text = "/" + path.joined(separator: "/")
            return text.hasPrefix("/v1/") ? "\(route.method.rawValue) \(text)" : nil
        })
    }

    static func documentedRoutes(_ document: [String: Any]) throws -> Set<String> {
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return Set(paths.flatMap { path, operations in
            operations.keys.filter { ["get", "post", "put", "delete", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
    }

    @Test func everyRouteIsDescribedAndEveryDescriptionIsARoute() async throws {
        let served = try await Self.servedRoutes()
        let documented = try Self.documentedRoutes(try Self.document())
        #expect(served.count >= 27, "\(served.sorted())")
        #expect(served.subtracting(documented).isEmpty, "routes missing from the OpenAPI document: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "described but not served: \(documented.subtracting(served).sorted())")
    }

    @Test func everyOperationHasAnIdATagAndItsErrorsInTheAPIsShape() throws {
        let document = try Self.document()
        #expect((document["openapi"] as? String)?.hasPrefix("3.0") == true)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var ids = Set<String>()
        for (path, operations) in paths {
            for (method, value) in operations where ["get", "post"].contains(method) {
                let operation = try #require(value as? [String: Any])
                let id = try #require(operation["operationId"] as? String, "\(method) \(path)")
                #expect(ids.insert(id).inserted, "operationId \(id) twice")
                #expect((operation["tags"] as? [String])?.isEmpty == false, "\(method) \(path) has a tag")
                let responses = try #require(operation["responses"] as? [String: Any])
                var fallback = try #require(responses["default"] as? [String: Any], "\(method) \(path) describes its errors")
                if let ref = fallback["$ref"] as? String, ref.hasPrefix("#/components/responses/") {
                    let shared = (document["components"] as? [String: Any])?["responses"] as? [String: Any]
                    fallback = try #require(shared?[String(ref.dropFirst("#/components/responses/".count))] as? [String: Any], "\(ref)")
                }
                let schema = ((fallback["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                #expect(schema?["$ref"] as? String == "#/components/schemas/Error", "\(method) \(path)")
            }
        }
    }

    @Test func bothRolesServeIt() async throws {
        let (store, _) = try ClusterFixtures.temporaryStore()
        let controller = try await Controller(store: store) { UnreachableAgent(host: $0.host) }
        let routers = [ControllerRoutes.router(controller), AgentRoutes.router(UnreachableAgent(host: "host-a"), callers: [])]
        for router in routers {
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/v1/openapi.json", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/json")
                    #expect(String(buffer: response.body) == OpenAPIDocument.json)
                }
            }
        }
    }
}
