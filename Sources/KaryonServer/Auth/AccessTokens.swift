import Foundation
import JWTKit

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

    /// The user id of a valid token, or nil for anything else.
    func verify(_ token: String) async -> UUID? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.decodeSegment(parts[0]),
              let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any],
              object["alg"] as? String == "HS256",
              let kid = object["kid"] as? String, knownKIDs.contains(kid),
              (object["typ"] == nil || object["typ"] as? String == "JWT"),
              object["crit"] == nil
        else { return nil }
        guard let claims = try? await keys.verify(token, as: AccessClaims.self) else { return nil }
        return UUID(uuidString: claims.sub.value)
    }

    private static func decodeSegment(_ segment: Substring) -> Data? {
        var s = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
