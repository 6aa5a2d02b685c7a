import AsyncHTTPClient
import Foundation
import NIOCore

/// One file as a `multipart/form-data` body with a single `file` field, streamed from disk in
/// chunks with an exact `Content-Length`. Each call to ``body()`` starts a new read, so a retry
/// sends the file again.
public struct MultipartFileBody: Sendable {
    public let path: String
    public let size: Int64
    public let boundary: String
    let head: [UInt8]
    let tail: [UInt8]

    static let chunkSize = 256 << 10

    /// - Parameter filename: sent as the part's file name (quotes, semicolons, backslashes and
    ///   control characters become `_`).
    public init(path: String, size: Int64, filename: String) {
        self.path = path
        self.size = size
        boundary = "karyon-" + UUID().uuidString.lowercased()
        let safe = String(filename.unicodeScalars.map { s -> Character in
            s.value < 0x20 || s.value == 0x7F || s == "\"" || s == ";" || s == "\\" ? "_" : Character(s)
        })
        head = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(safe)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        tail = Array("\r\n--\(boundary)--\r\n".utf8)
    }

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }
    public var contentLength: Int64 { Int64(head.count) + size + Int64(tail.count) }

    public func body() -> HTTPClientRequest.Body {
        .stream(Chunks(body: self), length: .known(contentLength))
    }

    /// The head, the file in chunks, the tail. A file whose size changed since ``size`` was taken
    /// ends the stream with an error rather than sending a wrong body.
    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let body: MultipartFileBody

        func makeAsyncIterator() -> Iterator { Iterator(body: body) }

        final class Iterator: AsyncIteratorProtocol {
            let body: MultipartFileBody
            var stage = 0
            var handle: FileHandle?
            var sent: Int64 = 0

            init(body: MultipartFileBody) { self.body = body }

            deinit { try? handle?.close() }

            func next() async throws -> ByteBuffer? {
                switch stage {
                case 0:
                    stage = 1
                    guard let handle = FileHandle(forReadingAtPath: body.path) else { throw ClientError(.io, "cannot open \(body.path)") }
                    self.handle = handle
                    return ByteBuffer(bytes: body.head)
                case 1:
                    if let chunk = try handle?.read(upToCount: MultipartFileBody.chunkSize), !chunk.isEmpty {
                        sent += Int64(chunk.count)
                        guard sent <= body.size else { throw ClientError(.io, "\(body.path) grew while it was being sent") }
                        return ByteBuffer(bytes: chunk)
                    }
                    guard sent == body.size else { throw ClientError(.io, "\(body.path) shrank while it was being sent") }
                    try? handle?.close()
                    handle = nil
                    stage = 2
                    return ByteBuffer(bytes: body.tail)
                default:
                    return nil
                }
            }
        }
    }
}
