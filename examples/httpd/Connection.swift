// Connection: one client of the server — bytes in, parsed requests, queued responses, bytes out.
//
// Received bytes accumulate in `inbox`; every complete request in it is answered at once, in order,
// so pipelined requests queue their responses behind each other (RFC 9112 9.3.2). A response is a
// list of chunks: the head (owned bytes) and the body, which for an embedded file is a view of the
// image's read-only data — never copied until TCP takes it into its send buffer. A request the
// parser refuses gets its error status and the connection closes after it (nothing after a
// malformed request can be trusted to be framed right). Reading stops while responses wait, so a
// client that pipelines without reading cannot make the server buffer without bound.

import EmbeddedFiles
import HTTP
import NetInterface
import NetStack
import NetTCP
import NetWire

enum Chunk {
    case owned([UInt8])
    case file(UnsafeRawBufferPointer)

    var count: Int {
        switch self {
        case .owned(let bytes): return bytes.count
        case .file(let bytes): return bytes.count
        }
    }
}

struct Connection {
    let stream: TCPStream
    let client: TCPEndpoint
    var inbox: [UInt8] = []
    var outbox: [Chunk] = []
    /// Bytes of outbox[0] already written.
    var written = 0
    /// Close once the outbox is empty (error, Connection: close, or the client finished).
    var closeAfterWrite = false
    var clientFinished = false
    var lastActivity: UInt64
    var requests = 0

    static let parser = HTTPRequestParser()
    static let maximumInbox = 16 * 1024

    init(stream: TCPStream, client: TCPEndpoint, now: UInt64) {
        self.stream = stream
        self.client = client
        lastActivity = now
        inbox.reserveCapacity(2048)
    }

    var wantsToRead: Bool { !clientFinished && !closeAfterWrite && outbox.isEmpty }
    var isFinished: Bool { outbox.isEmpty && (closeAfterWrite || clientFinished) }

    /// Reads what arrived and answers every complete request. False when the connection failed.
    mutating func receive(into scratch: inout [UInt8], log: Bool) -> Bool {
        while wantsToRead {
            let result = scratch.withUnsafeMutableBytes { buffer -> Result<Int, SocketError>? in
                do throws(SocketError) {
                    return try stream.tryRead(into: buffer).map { .success($0) }
                } catch {
                    return .failure(error)
                }
            }
            guard let result else { break }
            guard case .success(let count) = result else { return false }
            if count == 0 {
                clientFinished = true
                break
            }
            inbox.append(contentsOf: scratch[0..<count])
            answerRequests(log: log)
            if inbox.count > Self.maximumInbox && outbox.isEmpty {
                respondWithError(.requestHeaderFieldsTooLarge, request: nil, log: log)
            }
        }
        return true
    }

    mutating func answerRequests(log: Bool) {
        while !closeAfterWrite {
            let result = inbox.withUnsafeBytes { Self.parser.parse($0) }
            switch result {
            case .needMore:
                return
            case .error(let error):
                respondWithError(error.status, request: nil, log: log)
                inbox.removeAll()
                return
            case .request(let request, let consumed):
                inbox.removeFirst(consumed)
                respond(to: request, log: log)
            }
        }
    }

    mutating func respond(to request: HTTPRequest, log: Bool) {
        requests += 1
        var path = request.path
        if path.last == UInt8(ascii: "/") { path += Array("index.html".utf8) }
        let file = path.withUnsafeBytes { EmbeddedFiles.file(path: $0) }
        var head: [UInt8] = []
        guard let file else {
            HTTPResponseHead.writeError(.notFound, keepAlive: request.keepAlive, includeBody: request.method == .get, into: &head)
            queue(head, body: nil, keepAlive: request.keepAlive)
            if log { logLine(request, status: .notFound, bytes: 0) }
            return
        }
        HTTPResponseHead(status: .ok, contentLength: file.bytes.count, contentType: HTTPContentType(path: path),
                         keepAlive: request.keepAlive).write(into: &head)
        let body = request.method == .get ? file.bytes : nil
        queue(head, body: body, keepAlive: request.keepAlive)
        if log { logLine(request, status: .ok, bytes: body?.count ?? 0) }
    }

    mutating func respondWithError(_ status: HTTPStatus, request: HTTPRequest?, log: Bool) {
        var head: [UInt8] = []
        HTTPResponseHead.writeError(status, keepAlive: false, into: &head)
        queue(head, body: nil, keepAlive: false)
        if log { logLine(request, status: status, bytes: 0) }
    }

    mutating func queue(_ head: [UInt8], body: UnsafeRawBufferPointer?, keepAlive: Bool) {
        // A small body rides in the same chunk as its head: one write, one segment.
        if let body, body.count <= 2048 {
            outbox.append(.owned(head + Array(body)))
        } else {
            outbox.append(.owned(head))
            if let body, !body.isEmpty { outbox.append(.file(body)) }
        }
        if !keepAlive { closeAfterWrite = true }
    }

    func logLine(_ request: HTTPRequest?, status: HTTPStatus, bytes: Int) {
        var line: [UInt8] = []
        HTTPLogLine.write(clientAddress: client.address.rawValue, clientPort: client.port, request: request,
                          status: status, bytes: bytes, into: &line)
        line.append(0)
        line.withUnsafeBytes { print(String(decoding: $0.prefix(line.count - 1), as: UTF8.self)) }
    }

    /// Writes queued responses as far as the send buffer allows. False when the connection failed.
    mutating func send() -> Bool {
        while let chunk = outbox.first {
            let result: Result<Int, SocketError>
            switch chunk {
            case .owned(let bytes):
                result = bytes.withUnsafeBytes { all in
                    Result { () throws(SocketError) in try stream.tryWrite(UnsafeRawBufferPointer(rebasing: all[written...])) }
                }
            case .file(let bytes):
                result = Result { () throws(SocketError) in try stream.tryWrite(UnsafeRawBufferPointer(rebasing: bytes[written...])) }
            }
            guard case .success(let count) = result else { return false }
            if count == 0 { break }
            written += count
            if written == chunk.count {
                outbox.removeFirst()
                written = 0
            }
        }
        return true
    }
}
