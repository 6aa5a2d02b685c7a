import Foundation
import Vapor
import Testing

@testable import KaryonServer

@Suite("Multipart bodies (RFC 2046 §5.1.1, RFC 7578)")
struct MultipartBodyTests {
    func parse(_ text: String, boundary: String = "b0undary") throws -> [MultipartBody.Part] {
        try parse(Array(text.utf8), boundary: boundary)
    }

    func parse(_ bytes: [UInt8], boundary: String = "b0undary") throws -> [MultipartBody.Part] {
        try MultipartBody.parse(ByteBuffer(bytes: bytes), boundary: boundary, maxParts: 5)
    }

    func reason(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as MultipartBody.Malformed {
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test("two files with headers, binary content containing CR, LF, dashes and a near-boundary")
    func twoParts() throws {
        let binary: [UInt8] = [0x89, 0x50, 0x0D, 0x0A, 0x2D, 0x2D, 0x62, 0x30, 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0xFF] + Array("\r\n--b0undar".utf8)
        var body = Array("--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += binary
        body += Array("\r\n--b0undary\r\ncontent-disposition: form-data; name=file; filename=\"b c.tif\"\r\n\r\nxyz\r\n--b0undary--\r\n".utf8)
        let parts = try parse(body)
        #expect(parts.count == 2)
        #expect(parts[0].name == "file" && parts[0].filename == "a.png")
        #expect(parts[0].headers.map(\.name) == ["Content-Disposition", "Content-Type"])
        #expect(parts[0].headers[1].value == "image/png")
        #expect(parts[0].bytes == Data(binary))
        #expect(parts[1].name == "file" && parts[1].filename == "b c.tif")
        #expect(parts[1].bytes == Data("xyz".utf8))
    }

    @Test("preamble, white space after a delimiter, a part without headers, empty content, an epilogue")
    func allowedForms() throws {
        let parts = try parse("preamble\r\n--b0undary \t\r\n\r\nno headers\r\n--b0undary\r\nX-A: 1\r\n\r\n\r\n--b0undary\r\n\r\n--b0undary--epilogue\r\n--b0undary junk")
        #expect(parts.count == 3)
        #expect(parts[0].headers.isEmpty && parts[0].bytes == Data("no headers".utf8))
        #expect(parts[1].headers.count == 1 && parts[1].headers[0] == ("X-A", "1") && parts[1].bytes.isEmpty)
        #expect(parts[2].headers.isEmpty && parts[2].bytes.isEmpty)
        #expect(try parse("--b0undary--").isEmpty)
    }

    @Test("malformed bodies are refused with their reason")
    func malformed() throws {
        #expect(reason("") == "the body is empty")
        #expect(reason("no delimiter here") == "no boundary delimiter")
        #expect(reason("--b0undaryX\r\n\r\nx\r\n--b0undary--") == "a boundary delimiter is followed by neither a line break nor '--'")
        #expect(reason("--b0undary\r\nA: 1\r\n\r\ntruncated") == "the body ends inside a part, before the close delimiter")
        #expect(reason("--b0undary\r\nA: 1\r\n\r\ndata\r\n--b0undary") == "a boundary delimiter is followed by neither a line break nor '--'")
        #expect(reason("--b0undary\r\nA: 1\r\nx\r\n--b0undary\r\nB: 2\r\n\r\ny\r\n--b0undary--") == "a part's header section does not end with a blank line within 16384 bytes")
        #expect(reason("--b0undary\r\nno colon\r\n\r\nx\r\n--b0undary--") == "a part's header line is not 'name: value'")
        #expect(reason("--b0undary\r\n: empty name\r\n\r\nx\r\n--b0undary--") == "a part's header line is not 'name: value'")
        #expect(throws: MultipartBody.Malformed.self) { try parse("--\r\n\r\nx\r\n----", boundary: "") }
        let six = String(repeating: "--b0undary\r\n\r\nx\r\n", count: 6) + "--b0undary--"
        #expect(reason(six) == "more than 5 parts")
        #expect(try parse(String(repeating: "--b0undary\r\n\r\nx\r\n", count: 5) + "--b0undary--").count == 5)
    }

    @Test("headers without content; the close delimiter right after the boundary; a buffer already partly read")
    func edges() throws {
        let headersOnly = try parse("--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n--b0undary--")
        #expect(headersOnly.count == 1 && headersOnly[0].name == "file" && headersOnly[0].bytes.isEmpty)
        #expect(reason("--b0undary\r\n\r\nx\r\n--b0undary \t--") == "a boundary delimiter is followed by neither a line break nor '--'")
        var buffer = ByteBuffer(bytes: Array("ignored prefix|--b0undary\r\nA: 1\r\n\r\nabc\r\n--b0undary--".utf8))
        buffer.moveReaderIndex(forwardBy: "ignored prefix|".utf8.count)
        let parts = try MultipartBody.parse(buffer, boundary: "b0undary")
        #expect(parts.count == 1 && parts[0].bytes == Data("abc".utf8))
    }

    @Test("header sections are bounded: 16 KiB and 32 lines")
    func headerLimits() throws {
        let long = "--b0undary\r\nX: " + String(repeating: "a", count: 17 << 10) + "\r\n\r\nx\r\n--b0undary--"
        #expect(reason(long) == "a part's header section does not end with a blank line within 16384 bytes")
        let many = "--b0undary\r\n" + String(repeating: "a: 1\r\n", count: 33) + "\r\nx\r\n--b0undary--"
        #expect(reason(many) == "a part has more than 32 header lines")
        #expect(try parse("--b0undary\r\n" + String(repeating: "a: 1\r\n", count: 32) + "\r\nx\r\n--b0undary--")[0].headers.count == 32)
        // Linear however many carriage returns the content holds.
        let crs = [UInt8](repeating: 0x0D, count: 4 << 20)
        let body = Array("--b0undary\r\n\r\n".utf8) + crs + Array("\r\n--b0undary--".utf8)
        #expect(try parse(body)[0].bytes.count == crs.count)
    }

    @Test("Content-Disposition parameters: tokens, quoted strings with ';' and escapes, the first of repeats")
    func disposition() {
        let p = MultipartBody.dispositionParameter
        #expect(p("name", "form-data; name=\"file\"; filename=\"a;b.png\"") == "file")
        #expect(p("filename", "form-data; name=\"file\"; filename=\"a;b.png\"") == "a;b.png")
        #expect(p("filename", "form-data; filename=\"x\\\"y.tif\"; name=file") == "x\"y.tif")
        #expect(p("name", "form-data; filename=\"n.png\"; name = file ") == "file")
        #expect(p("filename", "form-data; name=file") == nil)
        #expect(p("name", "form-data; name=first; name=second") == "first")
        #expect(p("name", "name=\"not a parameter\"") == nil)
        #expect(p("filename", "form-data; filename=\" spaced .png\"") == " spaced .png")
    }

    @Test("every truncation of a valid body is refused or gives fewer complete parts, never a part cut short")
    func truncations() throws {
        let full = Array("--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n0123456789\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabcdef\r\n--b0undary--".utf8)
        #expect(try parse(full).map(\.bytes) == [Data("0123456789".utf8), Data("abcdef".utf8)])
        for cut in 0..<full.count {
            if let parts = try? parse(Array(full[..<cut])) {
                Issue.record("a body cut at \(cut) of \(full.count) bytes parsed as \(parts.count) parts")
            }
        }
    }
}
