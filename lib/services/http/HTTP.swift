// HTTP: the pure-logic half of an HTTP/1.1 static file server (RFC 9110 semantics, RFC 9112 syntax).
// The TCP connection, the file lookup and the sending belong to the server; this module turns received
// bytes into checked requests and writes response heads, error responses and access-log lines. It has
// no dependencies, no Foundation and no existentials; it runs in the guest and in host tests alike.
//
// Receiving. The server appends what it receives to one buffer and calls
// `HTTPRequestParser.parse(_:)` on the unconsumed bytes after each append. The parser keeps no state:
// each call scans from the start of the buffer, left to right, and stops at the first thing it can
// decide. The answer is one of
//     .needMore                       the bytes so far are a valid beginning; receive more and call again;
//     .request(request, consumed:)    one complete request, body included: drop `consumed` bytes and call
//                                     again at once, since the next pipelined request may be there already;
//     .error(error)                   answer `error.status` (see `HTTPResponseHead.writeError`) and then
//                                     close the connection: after a framing error nobody knows where the
//                                     next request would start (RFC 9112 section 9.6 and 6.3).
// Every decision is made at the earliest byte that determines it and depends on nothing after that byte,
// so a prefix of a buffer gives `.needMore` or the same answer as the whole buffer: a request split at
// any byte boundaries parses exactly as it does in one piece. Re-scanning costs O(n²) in the header
// length when a request trickles in a byte at a time; the limits bound n.
//
// What is checked (all with 400 Bad Request unless a status is given):
//   - the request line (RFC 9112 section 3): method SP request-target SP HTTP-version, single spaces,
//     one leading empty line ignored (2.2); a method is a token of at most 16 bytes;
//   - HTTP/1.x only (505 otherwise); HTTP/1.2 to 1.9 are read as 1.1 (2.3);
//   - methods: GET and HEAD; any other is 405, and `HTTPMethod.allowed` is the Allow value to send;
//   - the request-target (3.2): origin-form ("/path?query") or absolute-form ("http://host/path");
//     RFC 3986 characters only, longer than `HTTPLimits.maxTargetLength` is 414; the path is
//     percent-decoded and refused if it contains NUL or a ".." segment; the query is kept, raw;
//   - field lines (5): token names, no whitespace before the colon (5.1), no obs-fold (5.2), values
//     without control characters (RFC 9110 5.5); at most `maxHeaderSectionLength` bytes and
//     `maxHeaderFields` lines, else 431;
//   - Host (3.2): required in HTTP/1.1, at most one, URI-authority characters only;
//   - framing (6): Content-Length is digits; repeated values (in one line or several) must agree; the
//     body, when it arrives, is consumed with the request even though a GET server ignores it; more
//     than `maxBodyLength` is 413. Transfer-Encoding with Content-Length, in HTTP/1.0, or not ending
//     in chunked is 400 (6.1, 6.3); otherwise it is 501: chunked request bodies are not supported;
//   - persistence (9.3): HTTP/1.1 keeps the connection unless "Connection: close"; HTTP/1.0 keeps it
//     only with "Connection: keep-alive".
//
// Not supported: chunked request bodies (501, above); Expect: 100-continue (ignored: a client that
// waits for 100 sends its body after its own timeout); asterisk-form and authority-form targets
// (OPTIONS and CONNECT are 405 anyway); in absolute-form the authority is skipped, not checked against
// Host; Range, conditional requests and Date (RFC 9110 6.6.1: only servers with a reliable clock must
// send it); HTTP/2 and Upgrade.
//
// Ownership: `HTTPRequest` owns its target and decoded path; header fields and the body are ranges of
// the buffer that was parsed, valid until the server drops or changes those bytes.

/// The request methods this server implements (RFC 9110 9.3.1, 9.3.2). Method names are case-sensitive.
public enum HTTPMethod: Hashable, Sendable {
    case get
    case head

    /// The name as sent: "GET", "HEAD".
    public var name: StaticString {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        }
    }

    /// The value of the Allow header of a 405 response (RFC 9110 10.2.1).
    public static let allowed: StaticString = "GET, HEAD"
    /// Longer method tokens are malformed (400), so the request line cannot grow without bound.
    public static let maxLength = 16
}

/// HTTP/1.0 or HTTP/1.1 (RFC 9112 2.3).
public enum HTTPVersion: Hashable, Sendable {
    case http1_0
    case http1_1

    /// "HTTP/1.0", "HTTP/1.1".
    public var name: StaticString {
        switch self {
        case .http1_0: return "HTTP/1.0"
        case .http1_1: return "HTTP/1.1"
        }
    }
}

/// The status codes this server sends (RFC 9110 section 15; 431 is RFC 6585 section 5).
public enum HTTPStatus: UInt16, CaseIterable, Hashable, Sendable {
    case ok = 200
    case badRequest = 400
    case forbidden = 403
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case contentTooLarge = 413
    case uriTooLong = 414
    case requestHeaderFieldsTooLarge = 431
    case internalServerError = 500
    case notImplemented = 501
    case serviceUnavailable = 503
    case httpVersionNotSupported = 505

    public var code: UInt16 { rawValue }

    /// The reason phrase of the status line, as RFC 9110 names it.
    public var reasonPhrase: StaticString {
        switch self {
        case .ok: return "OK"
        case .badRequest: return "Bad Request"
        case .forbidden: return "Forbidden"
        case .notFound: return "Not Found"
        case .methodNotAllowed: return "Method Not Allowed"
        case .requestTimeout: return "Request Timeout"
        case .contentTooLarge: return "Content Too Large"
        case .uriTooLong: return "URI Too Long"
        case .requestHeaderFieldsTooLarge: return "Request Header Fields Too Large"
        case .internalServerError: return "Internal Server Error"
        case .notImplemented: return "Not Implemented"
        case .serviceUnavailable: return "Service Unavailable"
        case .httpVersionNotSupported: return "HTTP Version Not Supported"
        }
    }
}

/// How much a request may occupy. A limit below 0 counts as 0.
public struct HTTPLimits: Hashable, Sendable {
    /// The longest request-target, in bytes; longer is 414. RFC 9112 section 3 recommends supporting
    /// request lines of at least 8000 bytes.
    public var maxTargetLength: Int
    /// The field lines and the empty line that ends them, in bytes; longer is 431.
    public var maxHeaderSectionLength: Int
    /// The most field lines; more is 431.
    public var maxHeaderFields: Int
    /// The largest Content-Length accepted; larger is 413. The whole body must fit in the receive
    /// buffer, since it is consumed with the request.
    public var maxBodyLength: Int

    public init(maxTargetLength: Int = 8000, maxHeaderSectionLength: Int = 8192, maxHeaderFields: Int = 100,
                maxBodyLength: Int = 16384) {
        self.maxTargetLength = maxTargetLength
        self.maxHeaderSectionLength = maxHeaderSectionLength
        self.maxHeaderFields = maxHeaderFields
        self.maxBodyLength = maxBodyLength
    }
}

/// One field line: where its name and value are in the parsed buffer. The value has no leading or
/// trailing whitespace; names are compared case-insensitively (RFC 9110 5.1).
public struct HTTPHeaderField: Hashable, Sendable {
    public var name: Range<Int>
    public var value: Range<Int>

    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}

/// A complete, checked request.
public struct HTTPRequest: Hashable, Sendable {
    public var method: HTTPMethod
    public var version: HTTPVersion
    /// The request-target as received (RFC 3986 characters only), for logging.
    public var target: [UInt8]
    /// The percent-decoded path: starts with "/", has no NUL byte and no ".." segment.
    public var path: [UInt8]
    /// Where the query starts in `target` (after "?"), if there is one.
    public var queryStart: Int?
    /// Every field line, in order, as ranges of the parsed buffer.
    public var headers: [HTTPHeaderField]
    /// The value of the Host field, if present (required in HTTP/1.1).
    public var host: Range<Int>?
    /// The body, as a range of the parsed buffer (empty without Content-Length).
    public var body: Range<Int>
    /// Whether the connection stays open after the response (RFC 9112 section 9.3).
    public var keepAlive: Bool

    /// The query as received (not decoded), without the "?"; nil when the target has none.
    public var query: ArraySlice<UInt8>? {
        guard let queryStart else { return nil }
        return target[queryStart...]
    }

    /// The value of the first field named `name` (any case), as a range of `buffer`, the buffer
    /// this request was parsed from.
    public func field(_ name: StaticString, in buffer: UnsafeRawBufferPointer) -> Range<Int>? {
        for field in headers where ASCII.equalsIgnoringCase(buffer, field.name, name) {
            return field.value
        }
        return nil
    }
}

/// Why a request was refused. Answer with `status`, then close the connection.
public enum HTTPRequestError: Error, Hashable, Sendable {
    case malformedRequestLine          // 400 (RFC 9112 3)
    case malformedTarget               // 400: not origin- or absolute-form, bad character or escape (3.2)
    case forbiddenPath                 // 400: the decoded path contains NUL or a ".." segment
    case malformedHeader               // 400 (RFC 9112 5, RFC 9110 5.5)
    case whitespaceBeforeColon         // 400 (RFC 9112 5.1)
    case obsoleteLineFolding           // 400 (RFC 9112 5.2)
    case badContentLength              // 400: not digits, or values that disagree (RFC 9112 6.3)
    case conflictingFraming            // 400: Transfer-Encoding with Content-Length (RFC 9112 6.1)
    case badTransferEncoding           // 400: final coding not chunked, or in HTTP/1.0 (RFC 9112 6.1, 6.3)
    case missingHost                   // 400: HTTP/1.1 without Host (RFC 9112 3.2)
    case badHost                       // 400: more than one Host, or an invalid value (RFC 9112 3.2)
    case methodNotAllowed              // 405: send `HTTPMethod.allowed` as Allow
    case contentTooLarge               // 413: Content-Length over `maxBodyLength`
    case targetTooLong                 // 414: over `maxTargetLength`
    case headerSectionTooLarge         // 431: over `maxHeaderSectionLength` or `maxHeaderFields`
    case transferEncodingNotImplemented // 501: chunked request bodies are not supported
    case versionNotSupported           // 505: not HTTP/1.x

    /// The status to answer with.
    public var status: HTTPStatus {
        switch self {
        case .malformedRequestLine, .malformedTarget, .forbiddenPath, .malformedHeader, .whitespaceBeforeColon,
             .obsoleteLineFolding, .badContentLength, .conflictingFraming, .badTransferEncoding, .missingHost,
             .badHost:
            return .badRequest
        case .methodNotAllowed: return .methodNotAllowed
        case .contentTooLarge: return .contentTooLarge
        case .targetTooLong: return .uriTooLong
        case .headerSectionTooLarge: return .requestHeaderFieldsTooLarge
        case .transferEncodingNotImplemented: return .notImplemented
        case .versionNotSupported: return .httpVersionNotSupported
        }
    }
}

/// What the parser found at the start of the buffer.
public enum HTTPParseResult: Hashable, Sendable {
    /// A valid beginning: receive more bytes and parse again.
    case needMore
    /// A complete request; the first `consumed` bytes (request line, fields, body) are used up.
    case request(HTTPRequest, consumed: Int)
    /// Answer `error.status` and close the connection.
    case error(HTTPRequestError)
}
