import Foundation
import NIOCore
import NIOFoundationCompat

/// A `multipart/form-data` body read whole (RFC 7578 on RFC 2046 §5.1.1): the parts between the
/// boundary delimiters, each with its header fields and its content.
///
/// Uploads arrive whole anyway (every part is kept in memory until it is stored, within the upload
/// limit), so the body is searched for its delimiters with `memchr` and compared with `memcmp`
/// instead of being fed byte by byte through a streaming state machine, which cost about an
/// eighth of the server's CPU per upload.
///
/// What RFC 2046 allows is accepted: a preamble before the first delimiter and an epilogue after
/// the close delimiter (both ignored), linear white space between a delimiter and its line break,
/// a part without header fields. Everything else is refused with ``Malformed``: no delimiter, a
/// delimiter followed by anything but `--` or a line break, a header section without its blank
/// line or with a line that is not `name: value`, a body that ends before the close delimiter,
/// more parts than the caller takes (checked while parsing, so a body of many tiny parts costs no
/// memory beyond its own).
struct MultipartBody {
    struct Part {
        /// Header fields in order, names as sent.
        var headers: [(name: String, value: String)] = []
        var bytes = Data()
        /// The `name` and `filename` parameters of `Content-Disposition`.
        var name: String?
        var filename: String?
    }

    /// A part's header section may not be longer (a file part has two or three short lines).
    static let maxHeaderBytes = 16 << 10
    static let maxHeaderLines = 32

    /// Why a body is not multipart as its boundary says.
    struct Malformed: Error, Equatable {
        let reason: String
    }

    /// The parts of `body` delimited by `boundary` (1–70 characters, RFC 2046). Their bytes share
    /// the body's storage (no copy).
    /// - Throws: ``Malformed``, also for more than `maxParts` parts.
    static func parse(_ body: ByteBuffer, boundary: String, maxParts: Int = 1000) throws -> [Part] {
        let found = try body.withUnsafeReadableBytes { try locate($0, boundary: boundary, maxParts: maxParts) }
        return found.map { part, content in
            var part = part
            part.bytes = body.getData(at: body.readerIndex + content.lowerBound, length: content.count, byteTransferStrategy: .noCopy)!
            return part
        }
    }

    /// The parts' headers and where their contents lie in `body`.
    private static func locate(_ body: UnsafeRawBufferPointer, boundary: String, maxParts: Int) throws -> [(Part, Range<Int>)] {
        let dash = Array(("--" + boundary).utf8)
        guard (3...72).contains(dash.count) else { throw Malformed(reason: "the boundary must have 1 to 70 characters") }
        let delimiter = Array("\r\n".utf8) + dash
        let n = body.count
        guard let bytes = body.baseAddress?.assumingMemoryBound(to: UInt8.self), n > 0 else {
            throw Malformed(reason: "the body is empty")
        }
        func matches(_ pattern: [UInt8], at i: Int) -> Bool {
            i + pattern.count <= n && pattern.withUnsafeBufferPointer { memcmp(bytes + i, $0.baseAddress!, pattern.count) == 0 }
        }
        /// The first index ≥ `start` where `pattern` occurs, at most `within` bytes on (glibc's
        /// `memmem`: linear however many near-matches the bytes hold).
        func find(_ pattern: [UInt8], from start: Int, within: Int = .max) -> Int? {
            let end = within >= n - start ? n : start + within
            guard start + pattern.count <= end else { return nil }
            let hit = pattern.withUnsafeBufferPointer { memmem(bytes + start, end - start, $0.baseAddress!, pattern.count) }
            return hit.map { bytes.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
        }
        // The first delimiter may open the body, without the line break before it.
        var position: Int
        if matches(dash, at: 0) {
            position = 0
        } else if let at = find(delimiter, from: 0) {
            position = at + 2
        } else {
            throw Malformed(reason: "no boundary delimiter")
        }
        var parts: [(Part, Range<Int>)] = []
        while true {
            var i = position + dash.count
            if matches(Array("--".utf8), at: i) { return parts }  // the close delimiter; the epilogue is ignored
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            guard matches(Array("\r\n".utf8), at: i) else {
                throw Malformed(reason: "a boundary delimiter is followed by neither a line break nor '--'")
            }
            i += 2
            guard parts.count < maxParts else { throw Malformed(reason: "more than \(maxParts) parts") }
            guard let next = find(delimiter, from: i) else {
                throw Malformed(reason: "the body ends inside a part, before the close delimiter")
            }
            var part = Part()
            let contentStart: Int
            if next == i {
                contentStart = i  // neither header fields nor content
            } else if matches(Array("\r\n".utf8), at: i) {
                contentStart = i + 2  // no header fields
            } else {
                // The header section ends with a blank line before the content, or, for a part
                // with headers and no content, at the next delimiter's line break.
                let end: Int
                if let blank = find(Array("\r\n\r\n".utf8), from: i, within: maxHeaderBytes + 4), blank + 4 <= next {
                    end = blank
                    contentStart = blank + 4
                } else if next >= i + 2, next - i <= maxHeaderBytes + 2, matches(Array("\r\n".utf8), at: next - 2) {
                    end = next - 2
                    contentStart = next
                } else {
                    throw Malformed(reason: "a part's header section does not end with a blank line within \(maxHeaderBytes) bytes")
                }
                let lines = String(decoding: UnsafeBufferPointer(start: bytes + i, count: end - i), as: UTF8.self)
                    .split(separator: "\r\n", omittingEmptySubsequences: false)
                guard lines.count <= maxHeaderLines else {
                    throw Malformed(reason: "a part has more than \(maxHeaderLines) header lines")
                }
                for line in lines {
                    guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                        throw Malformed(reason: "a part's header line is not 'name: value'")
                    }
                    let name = String(line[..<colon])
                    let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    part.headers.append((name, value))
                    if name.lowercased() == "content-disposition" {
                        part.name = dispositionParameter("name", in: value)
                        part.filename = dispositionParameter("filename", in: value)
                    }
                }
            }
            parts.append((part, contentStart..<next))
            position = next + 2
        }
    }

    /// The value of parameter `key` in a Content-Disposition value, e.g. `form-data; name="file";
    /// filename="a;b.png"`: a token, or a quoted string in which `;` belongs to the value and
    /// `\x` stands for `x` (RFC 7578 §4.2, RFC 9110 §5.6.4); the first of repeated parameters.
    static func dispositionParameter(_ key: String, in header: String) -> String? {
        var rest = header[...]
        while let c = rest.first, c != ";" { rest.removeFirst() }  // the disposition type
        while rest.popFirst() != nil {  // the `;` before a parameter
            var name = ""
            while let c = rest.first, c != "=", c != ";" { name.append(c); rest.removeFirst() }
            guard rest.first == "=" else { continue }
            rest.removeFirst()
            while let c = rest.first, c == " " || c == "\t" { rest.removeFirst() }
            var value = ""
            if rest.first == "\"" {
                rest.removeFirst()
                while let c = rest.popFirst(), c != "\"" {
                    value.append(c == "\\" ? rest.popFirst() ?? c : c)
                }
                while let c = rest.first, c != ";" { rest.removeFirst() }
            } else {
                while let c = rest.first, c != ";" { value.append(c); rest.removeFirst() }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            if name.trimmingCharacters(in: .whitespaces).lowercased() == key { return value }
        }
        return nil
    }
}

@_silgen_name("memmem")
private func memmem(_ haystack: UnsafeRawPointer, _ haystackLength: Int, _ needle: UnsafeRawPointer, _ needleLength: Int) -> UnsafeMutableRawPointer?
