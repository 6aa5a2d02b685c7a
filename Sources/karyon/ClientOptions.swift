import ArgumentParser
import Foundation
import KaryonClient

/// Where the API is and how to sign in, for the commands that talk to a running server.
struct ClientOptions: ParsableArguments {
    @Option(help: "API base URL (default: $KARYON_API or http://127.0.0.1:8080).")
    var api: String?

    @Option(help: "Personal API token (kyn_…) or access token (default: $KARYON_TOKEN). Tokens: POST /api/v1/tokens.")
    var token: String?

    /// The client for `--api`/`$KARYON_API` with `--token`/`$KARYON_TOKEN`.
    /// - Throws: ``ClientError`` for a malformed URL or no token.
    func client() throws -> APIClient {
        try Self.client(api: api, token: token)
    }

    static func client(api: String?, token: String?, defaultURL: String = "http://127.0.0.1:8080") throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        guard let token = token ?? environment["KARYON_TOKEN"], !token.isEmpty else {
            throw ClientError(.badInput, "no token: pass --token or set KARYON_TOKEN (create one with POST /api/v1/tokens)")
        }
        return try APIClient(baseURL: api ?? environment["KARYON_API"] ?? defaultURL, token: token)
    }
}
