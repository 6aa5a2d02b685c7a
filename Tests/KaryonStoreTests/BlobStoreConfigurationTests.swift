import Testing
@testable import KaryonStore

@Suite("BlobStoreConfiguration: options over environment over defaults")
struct BlobStoreConfigurationTests {
    @Test func defaults() {
        let c = BlobStoreConfiguration(environment: [:])
        #expect(c.dataDirectory == "karyon-data" && c.blobDirectory == "karyon-data/blobs" && c.keyFile == "karyon-data/keys/kek.json")
    }

    @Test func environment() {
        let c = BlobStoreConfiguration(environment: ["KARYON_DATA_DIR": "/srv/k", "KARYON_KEY_FILE": "/run/secrets/kek.json"])
        #expect(c.blobDirectory == "/srv/k/blobs" && c.keyFile == "/run/secrets/kek.json")
        #expect(BlobStoreConfiguration(environment: ["KARYON_DATA_DIR": "/srv/k"]).keyFile == "/srv/k/keys/kek.json")
    }

    @Test func optionsWin() {
        let c = BlobStoreConfiguration(environment: ["KARYON_DATA_DIR": "/srv/k", "KARYON_KEY_FILE": "/x"], dataDirectory: "d", keyFile: "k.json")
        #expect(c.dataDirectory == "d" && c.keyFile == "k.json")
        #expect(BlobStoreConfiguration(environment: ["KARYON_DATA_DIR": "/srv/k"], dataDirectory: "d").keyFile == "d/keys/kek.json")
    }
}
