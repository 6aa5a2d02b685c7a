import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KaryonClient
import KaryonTestSupport
import Testing

/// reliability-tests.md, "API and auth" 8: a body over the upload limit is refused with 413 while
/// it streams, and the server's memory does not grow by the body's size. Against a real
/// `karyon up` process, over a raw socket, so the body is produced and sent a piece at a time and
/// the answer can be read while sending.
@Suite("Upload limit against a real server process", .serialized)
final class UploadLimitProcessTests {
    let temp = TemporaryDirectory("upload-limit")

    deinit { try? FileManager.default.removeItem(atPath: temp.path) }

    /// Peak resident memory of a process (`VmHWM`), in bytes.
    func peakResident(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kib = try #require(Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]))
        return kib << 10
    }

    /// Sends `headers` then up to `bodyBytes` of body in 256 KiB pieces, reading after each piece;
    /// stops when the server has answered (or closed). Returns the answer and the bytes of body
    /// sent by the time the answer arrived.
    func streamUntilAnswered(port: Int, headers: String, prefix: [UInt8], bodyBytes: Int) throws -> (answer: String, sent: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        func sendAll(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        var answer: [UInt8] = []
        func readAvailable() {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n <= 0 { return }
                answer += buffer[0..<n]
            }
        }
        try #require(sendAll(Array(headers.utf8) + prefix))
        let piece = [UInt8](repeating: 0x5A, count: 256 << 10)
        var sent = 0
        while sent < bodyBytes {
            readAvailable()
            if !answer.isEmpty { break }
            guard sendAll(piece) else { break }  // the server closed the connection
            sent += piece.count
        }
        // Whatever is still on its way: wait up to 5 s for the status line.
        let deadline = Date().addingTimeInterval(5)
        while !String(decoding: answer, as: UTF8.self).contains("\r\n"), Date() < deadline {
            readAvailable()
            usleep(10_000)
        }
        return (String(decoding: answer, as: UTF8.self), sent)
    }

    @Test("a 512 MiB upload over a 1 MiB limit: 413 long before the body ends, server memory flat, nothing stored")
    func oversizedUploadWhileStreaming() async throws {
        let server = try await TestServer.start(temp, environment: ["KARYON_UPLOAD_LIMIT_MB": "1"])
        defer { _ = server.server.stop() }
        let pid = server.server.processID
        let before = try peakResident(pid)

        let boundary = "karyon-limit-test"
        let prefix = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        let bodyBytes = 512 << 20
        let headers = "POST /api/v1/studies/\(server.studyID)/images HTTP/1.1\r\nHost: 127.0.0.1:\(server.server.port)\r\n"
            + "Authorization: Bearer \(server.token)\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\n"
            + "Content-Length: \(prefix.count + bodyBytes)\r\n\r\n"
        let (answer, sent) = try streamUntilAnswered(port: server.server.port, headers: headers, prefix: prefix, bodyBytes: bodyBytes)

        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(300))")
        #expect(answer.contains("payload_too_large"), "\(answer.prefix(300))")
        #expect(sent < 64 << 20, "the answer came after \(sent >> 20) MiB of a 512 MiB body")
        let after = try peakResident(pid)
        #expect(after - before < 64 << 20, "peak resident memory grew by \((after - before) >> 20) MiB")

        #expect(try await server.images().isEmpty)
        let blobDirectory = server.server.dataDirectory + "/blobs"
        let files = ((try? FileManager.default.subpathsOfDirectory(atPath: blobDirectory)) ?? []).filter { path in
            (try? FileManager.default.attributesOfItem(atPath: blobDirectory + "/" + path)[.type] as? FileAttributeType) == .typeRegular
        }
        #expect(files.isEmpty, "\(files)")
        #expect(server.server.isRunning)
        // The server still answers afterwards.
        let ok = try await server.client.send(.GET, "/api/v1/studies/\(server.studyID)")
        #expect(ok.status == 200)
    }
}
