import Foundation
import JWTKit
import Synchronization

/// The claims of an access token (RFC 7519). `typ` is always `access`: no other kind of token
/// this server might issue can be used in its place.
struct AccessClaims: JWTPayload {
    static let issuer = "karyon"
    static let audience = "karyon-api"

    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim
    var aud: AudienceClaim
    var jti: IDClaim
    var typ: String

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "wrong issuer") }
        try aud.verifyIntendedAudience(includes: Self.audience)
        guard typ == "access" else { throw JWTError.generic(identifier: "typ", reason: "not an access token") }
    }
}

/// Issues and verifies short-lived access tokens, HS256 only.
///
/// Verification follows RFC 8725: the header must name `HS256` (so `none` and algorithm confusion
/// fail before any signature check) and a `kid` this server holds (unknown or injected kids fail —
/// jwt-kit alone would fall back to its default key); then the signature, `exp`, `nbf`, `iss`,
/// `aud` and `typ` are checked.
struct AccessTokens: Sendable {
    let keys: JWTKeyCollection
    let activeKID: String
    let knownKIDs: Set<String>
    let lifetime: TimeInterval
    private let verified = VerifiedTokens()

    init(file: SigningKeyFile, lifetime: TimeInterval) async {
        let keys = JWTKeyCollection()
        for (kid, bytes) in file.keys {
            await keys.add(hmac: HMACKey(from: bytes), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        }
        self.keys = keys
        self.activeKID = file.active
        self.knownKIDs = Set(file.keys.keys)
        self.lifetime = lifetime
    }

    func issue(userID: UUID, now: Date = Date()) async throws -> String {
        let claims = AccessClaims(
            sub: .init(value: userID.uuidString), exp: .init(value: now.addingTimeInterval(lifetime)),
            iat: .init(value: now), nbf: .init(value: now.addingTimeInterval(-5)), iss: .init(value: AccessClaims.issuer),
            aud: .init(value: [AccessClaims.audience]), jti: .init(value: UUID().uuidString), typ: "access")
        return try await keys.sign(claims, kid: JWKIdentifier(string: activeKID))
    }

    /// The user id of a valid token, or nil for anything else. A token that passed every check
    /// once is remembered (as its exact text) until it expires, so a client's next requests cost
    /// a lookup and a clock comparison instead of parsing and an HMAC.
    func verify(_ token: String, now: Date = Date()) async -> UUID? {
        if let known = verified.user(for: token, at: now) { return known }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.decodeSegment(parts[0]),
              let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
              object["alg"] as? String == "HS256",
              let kid = object["kid"] as? String, knownKIDs.contains(kid),
              (object["typ"] == nil || object["typ"] as? String == "JWT"),
              object["crit"] == nil
        else { return nil }
        guard let claims = try? await keys.verify(token, as: AccessClaims.self),
              let user = UUID(uuidString: claims.sub.value) else { return nil }
        verified.remember(token, user: user, notBefore: claims.nbf?.value, expires: claims.exp.value, now: now)
        return user
    }

    private static func decodeSegment(_ segment: Substring) -> Data? {
        var s = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}

/// Access tokens that passed verification, with the window in which they stay valid. Bounded:
/// when full, expired entries go, and if none have expired the whole table is dropped (the next
/// request of each client verifies again).
final class VerifiedTokens: Sendable {
    private struct Entry { let user: UUID; let notBefore: Date?; let expires: Date }
    private let table = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func user(for token: String, at now: Date) -> UUID? {
        table.withLock { table in
            guard let entry = table[token] else { return nil }
            guard now < entry.expires else {
                table[token] = nil
                return nil
            }
            if let notBefore = entry.notBefore, now < notBefore { return nil }
            return entry.user
        }
    }

    func remember(_ token: String, user: UUID, notBefore: Date?, expires: Date, now: Date) {
        table.withLock { table in
            if table.count >= capacity {
                table = table.filter { now < $0.value.expires }
                if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            }
            table[token] = Entry(user: user, notBefore: notBefore, expires: expires)
        }
    }
}
