import Fluent
import Foundation
import JWTKit
import KaryonStore
import Testing
import Vapor
@testable import KaryonServer

@Suite("Accounts, access tokens and personal API tokens")
struct AuthTests {
    @Test("register, log in, read /me; duplicate e-mail is a conflict", arguments: TestDatabase.all)
    func registerAndLogin(database: TestDatabase) async throws {
        try await TestServer.with(database) { server in
            let (token, id) = try await server.account("ana@lab.example")
            let me = try await server.send(.GET, "/api/v1/me", token: token)
            #expect(me.status == .ok)
            #expect(me.object["email"] as? String == "ana@lab.example")
            #expect(me.object["id"] as? String == id)
            #expect(me.object["role"] as? String == "researcher")
            #expect(me.object["password_hash"] == nil)
            let again = try await server.send(.POST, "/api/v1/auth/register",
                                              json: ["email": "ANA@lab.example", "password": "another password", "name": "x"])
            #expect(again.status == .conflict)
            #expect(again.errorCode == "conflict")
        }
    }

    @Test("passwords are bcrypt with cost 12 and 72-byte passwords are the limit")
    func passwordStorage() async throws {
        try await TestServer.with { server in
            try await server.account("bo@lab.example")
            let user = try #require(try await User.query(on: server.app.db).first())
            #expect(user.passwordHash.hasPrefix("$2b$12$") || user.passwordHash.hasPrefix("$2a$12$") || user.passwordHash.hasPrefix("$2y$12$"))
            let long = try await server.send(.POST, "/api/v1/auth/register",
                                             json: ["email": "long@lab.example", "password": String(repeating: "a", count: 73), "name": "L"])
            #expect(long.status == .unprocessableEntity)
            let short = try await server.send(.POST, "/api/v1/auth/register", json: ["email": "s@lab.example", "password": "short", "name": "S"])
            #expect(short.status == .unprocessableEntity)
        }
    }

    @Test("unknown user, wrong password and a locked account answer alike; lockout after the threshold")
    func throttling() async throws {
        try await TestServer.with(adjust: { $0.lockoutThreshold = 5 }) { server in
            try await server.account("cy@lab.example")
            let unknown = try await server.send(.POST, "/api/v1/auth/login", json: ["email": "nobody@lab.example", "password": "whatever123"])
            var wrong: TestServer.Reply?
            for _ in 0..<5 {
                wrong = try await server.send(.POST, "/api/v1/auth/login", json: ["email": "cy@lab.example", "password": "wrong password"])
            }
            let locked = try await server.send(.POST, "/api/v1/auth/login", json: ["email": "cy@lab.example", "password": "correct horse battery"])
            #expect(unknown.status == .unauthorized)
            #expect(wrong?.status == .unauthorized)
            #expect(locked.status == .unauthorized)
            #expect(unknown.body == wrong?.body)
            #expect(locked.body == unknown.body)
            let denials = try await AuditEvent.query(on: server.app.db).filter(\.$action == "auth.login").filter(\.$outcome == "denied").count()
            #expect(denials == 7)
        }
    }

    @Test("forged, expired and misdirected access tokens are all 401, never 500")
    func jwtAttacks() async throws {
        try await TestServer.with { server in
            let (token, id) = try await server.account("dee@lab.example")
            let keyFile = try SigningKeyFile.loadOrCreate(path: server.configuration.jwtKeyFile)
            let key = try #require(keyFile.keys[keyFile.active])
            let now = Date()
            func claims(_ edit: (inout [String: Any]) -> Void = { _ in }) -> [String: Any] {
                var c: [String: Any] = ["sub": id.uppercased(), "exp": now.timeIntervalSince1970 + 600, "iat": now.timeIntervalSince1970,
                                        "iss": "karyon", "aud": ["karyon-api"], "jti": UUID().uuidString, "typ": "access"]
                edit(&c)
                return c
            }
            let valid = try Forge.hs256(header: ["alg": "HS256", "typ": "JWT", "kid": keyFile.active], claims: claims(), key: key)
            #expect(try await server.send(.GET, "/api/v1/me", token: valid).status == .ok, "a correctly forged token must pass (sanity)")

            var attacks: [String: String] = [:]
            attacks["alg none"] = Forge.unsigned(header: ["alg": "none", "typ": "JWT", "kid": keyFile.active], claims: claims())
            attacks["other key"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims(), key: Array(repeating: 7, count: 32))
            attacks["alg RS256 header"] = try Forge.hs256(header: ["alg": "RS256", "kid": keyFile.active], claims: claims(), key: key)
            attacks["no kid"] = try Forge.hs256(header: ["alg": "HS256"], claims: claims(), key: key)
            attacks["unknown kid"] = try Forge.hs256(header: ["alg": "HS256", "kid": "nope"], claims: claims(), key: key)
            attacks["injected kid"] = try Forge.hs256(header: ["alg": "HS256", "kid": "../../etc/passwd"], claims: claims(), key: key)
            attacks["expired"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["exp"] = now.timeIntervalSince1970 - 10 }, key: key)
            attacks["no exp"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["exp"] = nil }, key: key)
            attacks["future nbf"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["nbf"] = now.timeIntervalSince1970 + 3600 }, key: key)
            attacks["wrong aud"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["aud"] = ["someone-else"] }, key: key)
            attacks["wrong iss"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["iss"] = "evil" }, key: key)
            attacks["refresh typ"] = try Forge.hs256(header: ["alg": "HS256", "kid": keyFile.active], claims: claims { $0["typ"] = "refresh" }, key: key)
            var flipped = Array(token.utf8)
            flipped[flipped.count / 2] = flipped[flipped.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            attacks["flipped byte"] = String(decoding: flipped, as: UTF8.self)
            attacks["garbage"] = "not.a.jwt"
            attacks["empty parts"] = ".."
            for (name, forged) in attacks {
                let reply = try await server.send(.GET, "/api/v1/me", token: forged)
                #expect(reply.status == .unauthorized, "\(name): \(reply.status)")
            }
            #expect(try await server.send(.GET, "/api/v1/me").status == .unauthorized)
        }
    }

    @Test("a remembered access token still expires, and the table stays bounded")
    func verifiedTokenTable() {
        let table = VerifiedTokens(capacity: 3)
        let now = Date()
        let ana = UUID(), ben = UUID()
        table.remember("t-ana", user: ana, notBefore: now.addingTimeInterval(-5), expires: now.addingTimeInterval(60), now: now)
        #expect(table.user(for: "t-ana", at: now) == ana)
        #expect(table.user(for: "t-ana-", at: now) == nil, "only the exact token text is known")
        #expect(table.user(for: "t-ana", at: now.addingTimeInterval(60)) == nil, "expired at exp")
        #expect(table.user(for: "t-ana", at: now) == nil, "an expired entry is forgotten, not revived")
        table.remember("t-ben", user: ben, notBefore: now, expires: now.addingTimeInterval(60), now: now)
        #expect(table.user(for: "t-ben", at: now.addingTimeInterval(-1)) == nil, "not before nbf")
        for i in 0..<10 {
            table.remember("t-\(i)", user: UUID(), notBefore: nil, expires: now.addingTimeInterval(60), now: now)
        }
        #expect(table.user(for: "t-9", at: now) != nil)
        #expect(table.user(for: "t-0", at: now) == nil, "the table was dropped when it filled with live tokens")
    }

    @Test("API tokens: shown once, stored only as a hash, revocable, never accepted in the URL")
    func personalTokens() async throws {
        try await TestServer.with { server in
            let (access, _) = try await server.account("eve@lab.example")
            let created = try await server.send(.POST, "/api/v1/tokens", token: access, json: ["name": "ingest script"])
            #expect(created.status == .created)
            let secret = try #require(created.object["token"] as? String)
            let tokenID = try #require(created.object["id"] as? String)
            #expect(secret.hasPrefix("kyn_"))
            #expect(try await server.send(.GET, "/api/v1/me", token: secret).status == .ok)
            let listed = try await server.send(.GET, "/api/v1/tokens", token: secret)
            #expect(listed.array.count == 1)
            #expect(!listed.text.contains(secret))
            #expect(listed.array.first?["token"] == nil)
            #expect(try await server.send(.GET, "/api/v1/me?access_token=\(secret)").status == .badRequest)

            // The plaintext is nowhere on disk: database, WAL, keys, blobs.
            let rows = try await APIToken.query(on: server.app.db).all()
            #expect(rows.count == 1 && rows[0].tokenHash == PersonalTokens.hash(secret))
            // Its use is recorded, at most once a minute.
            let used = try #require(rows[0].lastUsedAt)
            #expect(abs(used.timeIntervalSinceNow) < 60)
            rows[0].lastUsedAt = Date().addingTimeInterval(-3600)
            try await rows[0].save(on: server.app.db)
            #expect(try await server.send(.GET, "/api/v1/me", token: secret).status == .ok)
            #expect(try await APIToken.find(rows[0].id, on: server.app.db)?.lastUsedAt.map { abs($0.timeIntervalSinceNow) < 60 } == true)
            for file in filesUnder(server.directory) {
                #expect(file.bytes.range(of: Data(secret.utf8)) == nil, "token found in \(file.path)")
            }

            let revoke = try await server.send(.DELETE, "/api/v1/tokens/\(tokenID)", token: access)
            #expect(revoke.status == .noContent)
            #expect(try await server.send(.GET, "/api/v1/me", token: secret).status == .unauthorized)
        }
    }

    @Test("an administrator can close registration; non-admins cannot")
    func closedRegistration() async throws {
        try await TestServer.with { server in
            let (admin, _) = try await server.account("root@lab.example")
            try await server.promote("root@lab.example")
            let (user, _) = try await server.account("user@lab.example")
            #expect(try await server.send(.PATCH, "/api/v1/admin/settings", token: user, json: ["open_registration": false]).status == .forbidden)
            let closed = try await server.send(.PATCH, "/api/v1/admin/settings", token: admin, json: ["open_registration": false])
            #expect(closed.status == .ok)
            #expect(closed.object["open_registration"] as? Bool == false)
            let refused = try await server.send(.POST, "/api/v1/auth/register", json: ["email": "late@lab.example", "password": "long enough pw", "name": "L"])
            #expect(refused.status == .forbidden)
        }
    }
}

/// Builds JWTs by hand, including malformed and malicious ones.
enum Forge {
    static func b64(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unsigned(header: [String: Any], claims: [String: Any]) -> String {
        let h = b64(try! JSONSerialization.data(withJSONObject: header))
        let c = b64(try! JSONSerialization.data(withJSONObject: claims))
        return "\(h).\(c)."
    }

    static func hs256(header: [String: Any], claims: [String: Any], key: [UInt8]) throws -> String {
        let input = String(unsigned(header: header, claims: claims).dropLast())
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: key))
        return input + "." + b64(Data(mac))
    }
}
