// HTTPHandler: the HTTP/1.1 side of one connection, for the network stack's StreamServer.
//
// Every complete request in the inbox is answered at once, in order, so pipelined requests queue
// their responses behind each other (RFC 9112 9.3.2). A request the parser refuses gets its error
// status and the connection closes after it: nothing after a malformed request can be trusted to be
// framed right.
//
// Files come from the file tree under the root folder (/www by default), looked up at each request,
// so a change in a mounted host folder is served at the next request, without a rebuild. A file the
// image's root file system brought is still where the build put it, in the image's read-only data,
// and the VFS hands it over in place (`contentsInPlace`): its bytes are lent to the outbox without a
// copy (small bodies ride in the same write as their head). Other files (a volume, an ext2 disk, a
// file changed at run time) are read through the VFS. The parser has already refused paths with a
// ".." segment, so a request cannot leave the root by name.

import Files
import VFS
import HTTP
import NetStack
import NetTCP
import NetWire

struct HTTPHandler: StreamHandler {
    let client: TCPEndpoint
    let log: Bool
    /// The folder of the file tree served ("/www").
    let root: [UInt8]
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

    /// The file under the root (a directory's index.html), or 404.
    func respond(to request: HTTPRequest, into outbox: inout Outbox) {
        var path = request.path
        if path.last == UInt8(ascii: "/") { path += Array("index.html".utf8) }
        var full = root + path
        var status = try? Files.root.status(full)
        if status?.isDirectory == true {
            path += Array("/index.html".utf8)
            full += Array("/index.html".utf8)
            status = try? Files.root.status(full)
        }
        guard let status, status.type == .regular else {
            HTTPResponseHead.writeError(.notFound, keepAlive: request.keepAlive, includeBody: request.method == .get,
                                        into: &outbox.pending)
            logLine(request, status: .notFound, bytes: 0)
            return
        }
        let head = { (length: Int, outbox: inout Outbox) in
            HTTPResponseHead(status: .ok, contentLength: length, contentType: HTTPContentType(path: path),
                             keepAlive: request.keepAlive).write(into: &outbox.pending)
        }
        if let inPlace = try? Files.root.contentsInPlace(full) {
            head(inPlace.count, &outbox)
            let body = request.method == .get ? inPlace : UnsafeRawBufferPointer(start: nil, count: 0)
            if body.count <= 2048 {
                outbox.pending.append(contentsOf: body)
            } else {
                outbox.append(borrowing: body)
            }
            logLine(request, status: .ok, bytes: body.count)
            return
        }
        guard let bytes = try? Files.root.contents(of: full) else {
            HTTPResponseHead.writeError(.notFound, keepAlive: request.keepAlive, includeBody: request.method == .get,
                                        into: &outbox.pending)
            logLine(request, status: .notFound, bytes: 0)
            return
        }
        head(bytes.count, &outbox)
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
