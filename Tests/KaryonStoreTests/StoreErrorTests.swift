import Testing
@testable import KaryonStore

@Suite struct StoreErrorTests {
    @Test func describesItselfByItsMessage() {
        let error = StoreError(.integrity, "blob 1 failed authentication", underlying: "tag mismatch")
        #expect(error.description == "blob 1 failed authentication")
        #expect(error.code.rawValue == "integrity")
    }
}
