// HTTPHandler: the HTTP/1.1 side of one connection, for the network stack's StreamServer.
//
// Every complete request in the inbox is answered at once, in order, so pipelined requests queue
// their responses behind each other (RFC 9112 9.3.2). A file's body is the embedded file itself,
// lent to the outbox without copying (small bodies ride in the same write as their head). A request
// the parser refuses gets its error status and the connection closes after it: nothing after a
// malformed request can be trusted to be framed right.
//
// With `--root PATH` the files come from the file tree instead (a host folder shared with
// `tessera run -v ./site:/www`, an ext2 disk, the root file system): each request reads the file
// through the VFS, so a change on the host is served at the next request, without a rebuild. The
// parser has already refused paths with a ".." segment, so a request cannot leave PATH by name.

import EmbeddedFiles
import Files
import VFS
import HTTP
import NetStack
import NetTCP
import NetWire

struct HTTPHandler: StreamHandler {
    let client: TCPEndpoint
    let log: Bool
    /// Serve from this folder of the file tree instead of the embedded files.
    var root: String? = nil
    static let parser = HTTPRequestParser()

    mutating func received(_ inbox: inout [UInt8], outbox: inout Outbox, now: UInt64) -> Bool {
        while true {
            switch inbox.withUnsafeBytes({ Self.parser.parse($0) }) {
            case .needMore:
                return false
            case .error(let error):
                respondWithError(error.status, into: &outbox)
                inbox.removeAll()
                return true
            case .request(let request, let consumed):
                inbox.removeFirst(consumed)
                respond(to: request, into: &outbox)
                if !request.keepAlive { return true }
            }
        }
    }

    mutating func inboxOverflow(outbox: inout Outbox) {
        respondWithError(.requestHeaderFieldsTooLarge, into: &outbox)
    }

    mutating func requestTimedOut(outbox: inout Outbox) {
        respondWithError(.requestTimeout, into: &outbox)
    }

    func respond(to request: HTTPRequest, into outbox: inout Outbox) {
        var path = request.path
        if path.last == UInt8(ascii: "/") { path += Array("index.html".utf8) }
        if let root {
            respondFromFiles(request, root: root, path: path, into: &outbox)
            return
        }
        guard let file = path.withUnsafeBytes({ EmbeddedFiles.file(path: $0) }) else {
            HTTPResponseHead.writeError(.notFound, keepAlive: request.keepAlive, includeBody: request.method == .get,
                                        into: &outbox.pending)
            logLine(request, status: .notFound, bytes: 0)
            return
        }
        HTTPResponseHead(status: .ok, contentLength: file.bytes.count, contentType: HTTPContentType(path: path),
                         keepAlive: request.keepAlive).write(into: &outbox.pending)
        let body = request.method == .get ? file.bytes : UnsafeRawBufferPointer(start: nil, count: 0)
        if body.count <= 2048 {
            outbox.pending.append(contentsOf: body)
        } else {
            outbox.append(borrowing: body)
        }
        logLine(request, status: .ok, bytes: body.count)
    }

    /// The file `root` + `path` from the VFS (a directory's index.html), or 404.
    func respondFromFiles(_ request: HTTPRequest, root: String, path: [UInt8], into outbox: inout Outbox) {
        var path = path
        var full = root + String(decoding: path, as: UTF8.self)
        if let status = try? Files.root.status(full), status.isDirectory {
            path += Array("/index.html".utf8)
            full += "/index.html"
        }
        guard let status = try? Files.root.status(full), status.type == .regular,
              let bytes = try? Files.root.contents(of: full) else {
            HTTPResponseHead.writeError(.notFound, keepAlive: request.keepAlive, includeBody: request.method == .get,
                                        into: &outbox.pending)
            logLine(request, status: .notFound, bytes: 0)
            return
        }
        HTTPResponseHead(status: .ok, contentLength: bytes.count, contentType: HTTPContentType(path: path),
                         keepAlive: request.keepAlive).write(into: &outbox.pending)
        if request.method == .get { outbox.pending.append(contentsOf: bytes) }
        logLine(request, status: .ok, bytes: request.method == .get ? bytes.count : 0)
    }

    func respondWithError(_ status: HTTPStatus, into outbox: inout Outbox) {
        HTTPResponseHead.writeError(status, keepAlive: false, into: &outbox.pending)
        logLine(nil, status: status, bytes: 0)
    }

    func logLine(_ request: HTTPRequest?, status: HTTPStatus, bytes: Int) {
        guard log else { return }
        print(HTTPLogLine.string(clientAddress: client.address.rawValue, clientPort: client.port, request: request,
                                 status: status, bytes: bytes))
    }
}
