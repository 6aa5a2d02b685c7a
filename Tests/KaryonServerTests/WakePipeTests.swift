import Foundation
import Testing
@testable import KaryonServer

@Suite("The wake pipe of karyon up's worker processes")
struct WakePipeTests {
    @Test("lines split across reads are joined; each id is reported once per read; empty lines are skipped")
    func lines() {
        var reader = WakePipe.LineReader()
        #expect(reader.lines(after: Array("intensity\nnu".utf8)) == ["intensity"])
        #expect(reader.lines(after: Array("clei\n\nglcm\nnuclei\nglcm\n".utf8)) == ["nuclei", "glcm"])
        #expect(reader.lines(after: Array("ki67".utf8)).isEmpty)
        #expect(reader.lines(after: Array("\n".utf8)) == ["ki67"])
    }

    @Test("a line longer than the limit is dropped whole, and the next line is read")
    func overlong() {
        var reader = WakePipe.LineReader()
        let long = String(repeating: "x", count: WakePipe.maximumLine + 10)
        #expect(reader.lines(after: Array(long.utf8)).isEmpty)
        #expect(reader.lines(after: Array("yy\nlbp\n".utf8)) == ["lbp"])
    }
}
