// What the server writes: response heads, error responses, content types and access-log lines.
//
// A response head is appended to a [UInt8] the caller owns (and may reuse: it reserves room once, so
// writing a head allocates at most once and never per header):
//
//     HTTP/1.1 200 OK\r\n
//     Server: tessera\r\n
//     Content-Type: text/html; charset=utf-8\r\n         only when a content type is given
//     Content-Length: 1234\r\n                           always: the server never closes to end a body
//     Connection: keep-alive\r\n                         or "close"; HTTP/1.0 clients need it (RFC 9112 9.3)
//     Allow: GET, HEAD\r\n                               only in 405 responses (RFC 9110 15.5.6)
//     \r\n
//
// The status line always says HTTP/1.1: a server sends the highest minor version it conforms to
// (RFC 9110 2.5), also to HTTP/1.0 clients. A response to HEAD is the GET response's head alone, with the
// same Content-Length (RFC 9110 9.3.2); the head writer does not care which it is, the body is the
// caller's. Error responses are complete: the head and a short text body, "404 Not Found\n".
//
// Content types come from the file extension (ASCII letters in any case); text types carry
// charset=utf-8; JavaScript is text/javascript (RFC 9239); anything unknown is application/octet-stream.
//
// An access-log line is `10.0.2.2:51234 "GET /index.html HTTP/1.1" 200 1234`: client address and port,
// the request line as received (its target holds only RFC 3986 characters, so the line is plain ASCII
// and the quotes are unambiguous), the status, and a byte count the caller chooses (conventionally the
// body bytes sent). A connection refused before it had a request line logs "-" in its place.

/// The status line and header fields of a response.
public struct HTTPResponseHead: Hashable, Sendable {
    public var status: HTTPStatus
    /// The body length in bytes (for HEAD: the length a GET would send).
    public var contentLength: Int
    public var contentType: HTTPContentType?
    /// Whether the connection stays open after this response.
    public var keepAlive: Bool

    public init(status: HTTPStatus, contentLength: Int, contentType: HTTPContentType? = nil, keepAlive: Bool) {
        self.status = status
        self.contentLength = contentLength
        self.contentType = contentType
        self.keepAlive = keepAlive
    }

    /// Appends the head, through its empty line, to `bytes`.
    public func write(into bytes: inout [UInt8]) {
        precondition(contentLength >= 0, "HTTPResponseHead: negative Content-Length")
        bytes.reserveCapacity(bytes.count + 192)
        bytes.appendASCII("HTTP/1.1 ")
        bytes.appendDecimal(Int(status.code))
        bytes.append(ASCII.space)
        bytes.appendASCII(status.reasonPhrase)
        bytes.appendASCII("\r\nServer: tessera\r\n")
        if let contentType {
            bytes.appendASCII("Content-Type: ")
            bytes.appendASCII(contentType.mediaType)
            bytes.appendASCII("\r\n")
        }
        bytes.appendASCII("Content-Length: ")
        bytes.appendDecimal(contentLength)
        bytes.appendASCII(keepAlive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n")
        if status == .methodNotAllowed {
            bytes.appendASCII("Allow: ")
            bytes.appendASCII(HTTPMethod.allowed)
            bytes.appendASCII("\r\n")
        }
        bytes.appendASCII("\r\n")
    }

    /// Appends a complete error response: the head and, unless `includeBody` is false (a response to
    /// HEAD), the text body "<code> <reason>\n". After a parser error `keepAlive` must stay false.
    public static func writeError(_ status: HTTPStatus, keepAlive: Bool = false, includeBody: Bool = true,
                                  into bytes: inout [UInt8]) {
        let bodyLength = 3 + 1 + status.reasonPhrase.utf8CodeUnitCount + 1
        HTTPResponseHead(status: status, contentLength: bodyLength, contentType: .plainText, keepAlive: keepAlive)
            .write(into: &bytes)
        guard includeBody else { return }
        bytes.appendDecimal(Int(status.code))
        bytes.append(ASCII.space)
        bytes.appendASCII(status.reasonPhrase)
        bytes.append(ASCII.lineFeed)
    }
}

/// Media types by file extension.
public enum HTTPContentType: Hashable, Sendable {
    case html, css, javascript, json, plainText, svg, png, jpeg, gif, icon, wasm, xml, pdf, octetStream
    /// The Prometheus text exposition format 0.0.4 (never chosen by file extension).
    case prometheusText

    /// The Content-Type value.
    public var mediaType: StaticString {
        switch self {
        case .html: return "text/html; charset=utf-8"
        case .css: return "text/css; charset=utf-8"
        case .javascript: return "text/javascript; charset=utf-8"
        case .json: return "application/json"
        case .plainText: return "text/plain; charset=utf-8"
        case .svg: return "image/svg+xml"
        case .png: return "image/png"
        case .jpeg: return "image/jpeg"
        case .gif: return "image/gif"
        case .icon: return "image/x-icon"
        case .wasm: return "application/wasm"
        case .xml: return "application/xml"
        case .pdf: return "application/pdf"
        case .octetStream: return "application/octet-stream"
        case .prometheusText: return "text/plain; version=0.0.4; charset=utf-8"
        }
    }

    /// The type for an extension without its dot ("html", "JPG"); octet-stream when unknown.
    public init(fileExtension: [UInt8]) {
        self = fileExtension.withUnsafeBytes { bytes in
            let all = 0..<bytes.count
            func matches(_ name: StaticString) -> Bool { ASCII.equalsIgnoringCase(bytes, all, name) }
            if matches("html") || matches("htm") { return .html }
            if matches("css") { return .css }
            if matches("js") || matches("mjs") { return .javascript }
            if matches("json") { return .json }
            if matches("txt") { return .plainText }
            if matches("svg") { return .svg }
            if matches("png") { return .png }
            if matches("jpg") || matches("jpeg") { return .jpeg }
            if matches("gif") { return .gif }
            if matches("ico") { return .icon }
            if matches("wasm") { return .wasm }
            if matches("xml") { return .xml }
            if matches("pdf") { return .pdf }
            return .octetStream
        }
    }

    /// The type for the file at `path` ("/css/site.css"): the extension of its last segment.
    public init(path: [UInt8]) {
        var dot = path.count
        while dot > 0 && path[dot - 1] != ASCII.dot && path[dot - 1] != ASCII.slash { dot -= 1 }
        guard dot > 0, path[dot - 1] == ASCII.dot else { self = .octetStream; return }
        self.init(fileExtension: Array(path[dot...]))
    }
}

/// Access-log lines.
public enum HTTPLogLine {
    /// Appends `<client address>:<port> "<METHOD> <target> <version>" <status> <bytes>`, without a line
    /// end. `clientAddress` is an IPv4 address with its first octet most significant (NetWire's
    /// `IPv4Address.rawValue`); `request` is nil when the connection was refused before it had one.
    public static func write(clientAddress: UInt32, clientPort: UInt16, request: HTTPRequest?, status: HTTPStatus,
                             bytes count: Int, into line: inout [UInt8]) {
        line.reserveCapacity(line.count + 48 + (request?.target.count ?? 0))
        for shift in [24, 16, 8, 0] as [UInt32] {
            line.appendDecimal(Int(clientAddress >> shift & 0xFF))
            line.append(shift == 0 ? ASCII.colon : ASCII.dot)
        }
        line.appendDecimal(Int(clientPort))
        line.appendASCII(" \"")
        if let request {
            line.appendASCII(request.method.name)
            line.append(ASCII.space)
            line.append(contentsOf: request.target)
            line.append(ASCII.space)
            line.appendASCII(request.version.name)
        } else {
            line.appendASCII("-")
        }
        line.appendASCII("\" ")
        line.appendDecimal(Int(status.code))
        line.append(ASCII.space)
        line.appendDecimal(count)
    }

    /// The same line as a String.
    public static func string(clientAddress: UInt32, clientPort: UInt16, request: HTTPRequest?, status: HTTPStatus,
                              bytes count: Int) -> String {
        var line: [UInt8] = []
        write(clientAddress: clientAddress, clientPort: clientPort, request: request, status: status, bytes: count,
              into: &line)
        return String(decoding: line, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// `value` in decimal; negative values are written as 0.
    mutating func appendDecimal(_ value: Int) {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = Swift.max(0, value)
        while divisor > 0 {
            append(ASCII.zero + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
