import Crypto
import Foundation
import KaryonAnalysis

/// Personal API tokens: `kyn_` followed by 43 base64url characters (256 random bits).
/// Only the SHA-256 of the token is stored; the token itself is shown once, at creation.
enum PersonalTokens {
    static let prefix = "kyn_"

    static func generate() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let b64 = bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return prefix + b64
    }

    static func hash(_ token: String) -> String {
        sha256Hex(Array(token.utf8))
    }

    static func looksLikeToken(_ value: String) -> Bool {
        value.hasPrefix(prefix) && value.utf8.count == prefix.utf8.count + 43
    }
}
