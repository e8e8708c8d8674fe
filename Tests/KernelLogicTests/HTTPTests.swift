// HTTP/1.1 request parsing (RFC 9112), responses, content types and log lines; a seeded mutation fuzz.
//
// Requests are written as Swift strings with explicit "\r\n". `serve` plays the server: it appends the
// input in chunks of a given size, parses after each append and drops what each request consumed, so the
// same input can be delivered whole, byte by byte, or in any other split and the answers compared.

import HTTP
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func parse(_ text: String, _ limits: HTTPLimits = HTTPLimits()) -> HTTPParseResult {
    HTTPRequestParser(limits: limits).parse(bytes(text))
}

/// The request, if `text` parses as exactly one complete request.
private func request(_ text: String, _ limits: HTTPLimits = HTTPLimits()) -> HTTPRequest? {
    guard case .request(let request, let consumed) = parse(text, limits), consumed == text.utf8.count else { return nil }
    return request
}

private func error(_ text: String, _ limits: HTTPLimits = HTTPLimits()) -> HTTPRequestError? {
    if case .error(let error) = parse(text, limits) { error } else { nil }
}

/// The answers a server gets when `input` arrives in chunks of `chunk` bytes: each request, then the
/// error or `.needMore` it stopped at.
private func serve(_ input: [UInt8], chunk: Int, limits: HTTPLimits = HTTPLimits()) -> [HTTPParseResult] {
    let parser = HTTPRequestParser(limits: limits)
    var buffer: [UInt8] = [], results: [HTTPParseResult] = [], position = 0
    while position < input.count {
        buffer += input[position..<min(position + chunk, input.count)]
        position += chunk
        var result = parser.parse(buffer)
        while case .request(_, let consumed) = result {
            results.append(result)
            buffer.removeFirst(consumed)
            result = parser.parse(buffer)
        }
        if case .error = result { return results + [result] }
    }
    return results + [.needMore]
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Valid requests mutated by bit flips, random bytes, syntax fragments, deletions, duplicated runs, truncation
/// and appended requests; SplitMix64 (AllocatorTestSupport.swift) makes a failure repeat.
private struct HTTPMutator {
    var random: SplitMix64
    static let seeds = [get, threePipelined, "HEAD /x.png?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                        "GET http://h/a%20b/ HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc",
                        "GET /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                        "\r\nGET /%2e/c.css HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\nAccept: */*\r\n\r\n",
                       ].map(bytes)
    static let fragments = [":", " ", "\t", "\r\n", "\n", "\r", "%", "%2e", "%00", "..", "/", "?", "#", "0", "9", ",",
                            "Content-Length: 4\r\n", "Transfer-Encoding: chunked\r\n", "Host: b\r\n", "\r\n\r\n",
                            "HTTP/1.1", "GET /", " x\r\n", "Connection: close\r\n"].map(bytes)

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    mutating func pick(_ list: [[UInt8]]) -> [UInt8] { list[below(list.count)] }

    mutating func mutant() -> [UInt8] {
        var input = pick(Self.seeds)
        for _ in 0..<1 + below(4) {
            let count = input.count, at = below(count + 1)                  // a position, or the end
            let run = at..<min(count, at + 1 + below(16))                     // up to 16 bytes from there
            switch below(8) {
            case 0 where at < count: input[at] ^= 1 << UInt8(below(8))
            case 1 where at < count: input[at] = UInt8(truncatingIfNeeded: random.next())
            case 2: input.insert(contentsOf: pick(Self.fragments), at: at)
            case 3: input.removeSubrange(run)
            case 4: input.insert(contentsOf: Array(input[run]), at: below(count + 1))
            case 5: input.removeLast(count - at)
            case 6: input += pick(Self.seeds)
            case 7:                                                             // a fragment at a line start
                if let lineFeed = input.indices.filter({ input[$0] == 0x0A }).randomElement(using: &random) {
                    input.insert(contentsOf: pick(Self.fragments), at: lineFeed + 1)
                }
            default: break
            }
        }
        return input
    }
}

private let threePipelined = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
    + "HEAD /b?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
    + "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

private let get = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"

@Suite struct HTTPTests {
    // MARK: - Request line and fields

    @Test func rfc9112Section3RequestLineAndFieldsAreParsedForGetAndHead() throws {
        let parsed = try #require(request(get))
        #expect(parsed.method == .get && parsed.version == .http1_1 && parsed.keepAlive)
        #expect(parsed.path == bytes("/index.html") && parsed.target == bytes("/index.html") && parsed.query == nil)
        #expect(parsed.headers.count == 2 && parsed.body.isEmpty && parsed.body.lowerBound == get.utf8.count)
        let buffer = bytes(get)
        buffer.withUnsafeBytes { raw in
            #expect(parsed.host.map { Array(buffer[$0]) } == bytes("example.com"))
            #expect(parsed.field("USER-agent", in: raw).map { Array(buffer[$0]) } == bytes("test"))
            #expect(parsed.field("accept", in: raw) == nil)
        }
        #expect(try #require(request("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")).method == .head)     // RFC 9110 9.3.2
    }

    @Test func everyRefusalAnswersItsStatus() {
        let small = HTTPLimits(maxTargetLength: 8, maxHeaderSectionLength: 64, maxHeaderFields: 2, maxBodyLength: 10)
        let cases: [(String, UInt16)] = [
            ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400), ("GET / HTTP/1.1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405), ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413),
            ("GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n", 414), ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n", 431),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "x", count: 60) + "\r\n\r\n", 431),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ]
        for (input, status) in cases {
            #expect(error(input, small)?.status.code == status, "\(input)")
        }
    }

    @Test func rfc9112Section3MalformedRequestLinesAre400() {
        for line in ["GET  / HTTP/1.1", "GET /", "GET / http/1.1", "GET / HTTP/1.10", "GET\t/ HTTP/1.1", " GET / HTTP/1.1",
                     "GET / HTTP/1.1 ", "/ HTTP/1.1", "GE(T / HTTP/1.1", "GET / HTTP/1.1\rX", "ABCDEFGHIJKLMNOPQ / HTTP/1.1"] {
            #expect(error(line + "\r\nHost: a\r\n\r\n") == .malformedRequestLine, "\(line)")
        }
    }

    @Test func rfc9112Section2_3OnlyHTTP1IsServedAndLaterMinorVersionsReadAs1_1() throws {
        for version in ["HTTP/0.9", "HTTP/2.0", "HTTP/3.0", "HTTP/9.9"] {
            #expect(error("GET / \(version)\r\nHost: a\r\n\r\n") == .versionNotSupported)
        }
        #expect(try #require(request("GET / HTTP/1.7\r\nHost: a\r\n\r\n")).version == .http1_1)
        #expect(error("GET / HTTP/1.7\r\n\r\n") == .missingHost)
    }

    @Test func rfc9110Section15_5_6MethodsOtherThanGetAndHeadAre405() {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "get", "Head", "BREW"] {
            #expect(error("\(method) / HTTP/1.1\r\nHost: a\r\n\r\n") == .methodNotAllowed, "\(method)")
        }
        #expect(HTTPMethod.allowed.description == "GET, HEAD")
    }

    @Test func rfc9112Section5_1WhitespaceBeforeTheColonIs400() {
        #expect(error("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == .whitespaceBeforeColon)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n") == .whitespaceBeforeColon)
    }

    @Test func rfc9112Section5_2ObsoleteLineFoldingIs400() {
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n") == .obsoleteLineFolding)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n") == .obsoleteLineFolding)
        #expect(error("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == .malformedHeader)     // space after the start line (2.2)
    }

    @Test func rfc9110Section5MalformedFieldLinesAre400() {
        for line in ["NoColon", ": empty-name", "Ho@st: a", "X: a\u{0}b", "X: a\rb", "X: a\u{7F}", "X: \u{1B}[31m"] {
            #expect(error("GET / HTTP/1.1\r\nHost: a\r\n\(line)\r\n\r\n") == .malformedHeader, "\(line)")
        }
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n") != nil)
    }

    @Test func rfc9112Section3_2HostIsRequiredOnceIn1_1() throws {
        #expect(error("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == .missingHost)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == .badHost)
        #expect(error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == .badHost)
        #expect(error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == .badHost)
        #expect(request("GET / HTTP/1.0\r\n\r\n") != nil)
        #expect(request("GET / HTTP/1.1\r\nHost:\r\n\r\n") != nil)                          // empty is allowed
        #expect(request("GET / HTTP/1.1\r\nhost: [::1]:8080\r\n\r\n") != nil)
    }

    @Test func rfc9112Section2_2BareLineFeedsAndOneLeadingEmptyLineAreAccepted() throws {
        #expect(try #require(request("GET /a HTTP/1.1\nHost: a\n\n")).path == bytes("/a"))
        #expect(request("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") != nil)
        #expect(request("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") != nil)
        #expect(error("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == .malformedRequestLine)
        #expect(parse("\r\n") == .needMore && parse("") == .needMore && parse("\r") == .needMore)
    }

    // MARK: - Persistence and framing

    @Test func rfc9112Section9_3Http1_1IsPersistentUnlessConnectionClose() {
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")?.keepAlive == true)
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n")?.keepAlive == false)
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nconnection: close\r\n\r\n")?.keepAlive == false)
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n")?.keepAlive == true)
    }

    @Test func rfc9112Section9_3Http1_0IsPersistentOnlyWithKeepAlive() {
        #expect(request("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?.keepAlive == true)
        #expect(request("GET / HTTP/1.0\r\nConnection: , Keep-Alive\r\n\r\n")?.keepAlive == true)
        #expect(request("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")?.keepAlive == false)
    }

    @Test func rfc9112Section6_3ABodyIsConsumedWithItsRequestAndThenTheNextParses() throws {
        let input = "GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
        let first = serve(bytes(input), chunk: input.utf8.count)
        guard case .request(let a, let consumed) = first[0], case .request(let b, _) = first[1] else {
            Issue.record("\(first)"); return
        }
        #expect(Array(bytes(input)[a.body]) == bytes("hello") && consumed == a.body.upperBound)
        #expect(b.path == bytes("/b") && first.count == 3 && first[2] == .needMore)
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhell") == .needMore)
    }

    @Test func rfc9110Section8_6ContentLengthMustBeDigitsAndRepeatsMustAgree() throws {
        #expect(try #require(request("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi")).body.count == 2)
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi") != nil)
        for value in ["2, 3", "+2", "-1", "0x2", "2 2", "", "2,", ",2", "2;"] {
            #expect(error("GET / HTTP/1.0\r\nContent-Length: \(value)\r\n\r\nhi") == .badContentLength, "\(value)")
        }
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi") == .badContentLength)
    }

    @Test func rfc9112Section6_1TransferEncodingIs501AloneAnd400WithContentLength() {
        let start = "GET / HTTP/1.1\r\nHost: a\r\n"
        #expect(error(start + "Transfer-Encoding: chunked\r\n\r\n") == .transferEncodingNotImplemented)
        #expect(error(start + "Transfer-Encoding: gzip, Chunked\r\n\r\n") == .transferEncodingNotImplemented)
        #expect(error(start + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") == .conflictingFraming)
        #expect(error(start + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == .conflictingFraming)
        #expect(error(start + "Transfer-Encoding: chunked, gzip\r\n\r\n") == .badTransferEncoding)   // 6.3 item 4
        #expect(error("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == .badTransferEncoding)
    }

    @Test func limitsAreExactAndDetectedBeforeTheLineEndsAndContentLengthSaturates() {
        let limits = HTTPLimits(maxTargetLength: 10, maxHeaderSectionLength: 20, maxHeaderFields: 2)
        #expect(request("GET / HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd", HTTPLimits(maxBodyLength: 4)) != nil)
        #expect(error("GET / HTTP/1.0\r\nContent-Length: 5\r\n\r\n", HTTPLimits(maxBodyLength: 4)) == .contentTooLarge)
        #expect(error("GET / HTTP/1.0\r\nContent-Length: 99999999999999999999999999\r\n\r\n") == .contentTooLarge)
        #expect(request("GET /123456789 HTTP/1.1\r\nHost: a\r\n\r\n", limits) != nil)          // target of 10
        #expect(error("GET /1234567890", limits) == .targetTooLong)                            // no line end yet
        #expect(request("GET / HTTP/1.1\r\nHost: a\r\nX: 1234\r\n\r\n", limits) != nil)         // section of 20
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n", limits) == .headerSectionTooLarge)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX: 12345678", limits) == .headerSectionTooLarge)   // 20, no LF
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 1234567", limits) == .needMore)
        #expect(error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n", limits) == .headerSectionTooLarge)
        #expect(error(String(repeating: "G", count: 17)) == .malformedRequestLine)              // method > 16
        #expect(error("GET / HTTP/1.1XX") == .malformedRequestLine)                             // no LF in 10
        #expect(HTTPLimits().maxHeaderSectionLength == 8192)
    }

    // MARK: - Pipelining and splits

    @Test func rfc9112Section9_3_2ThreePipelinedRequestsInOneBufferParseInOrder() {
        let input = bytes(threePipelined)
        let parser = HTTPRequestParser()
        var offset = 0, paths: [[UInt8]] = [], methods: [HTTPMethod] = []
        while case .request(let request, let consumed) = parser.parse(Array(input[offset...])) {
            paths.append(request.path)
            methods.append(request.method)
            offset += consumed
        }
        #expect(paths == [bytes("/a"), bytes("/b"), bytes("/c")] && methods == [.get, .head, .get])
        #expect(offset == input.count)
    }

    @Test func requestsFedOneByteAtATimeGiveTheSameAnswers() {
        let inputs = [threePipelined, get, "GET /a HTTP/1.0\nConnection: keep-alive\n\n", "\r\n" + get,
                      "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
                      "GET /x HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\n",
                      "GET /" + String(repeating: "a", count: 9000),
                      "GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 2000)]
        for input in inputs {
            let whole = serve(bytes(input), chunk: input.utf8.count)
            #expect(serve(bytes(input), chunk: 1) == whole, "\(input.prefix(40))")
            #expect(serve(bytes(input), chunk: 7) == whole, "\(input.prefix(40))")
        }
        #expect(serve(bytes(threePipelined), chunk: 1).count == 4)
    }

    // MARK: - Targets

    @Test func rfc3986PercentEncodedPathsAreDecodedAndTheQueryIsKeptRaw() throws {
        let parsed = try #require(request("GET /a%20b/%C3%A9t%c3%a9.html?q=a%20b&x HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(parsed.path == bytes("/a b/été.html") && parsed.query.map { Array($0) } == bytes("q=a%20b&x"))
        #expect(try #require(request("GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n")).path == bytes("/a/b"))
        #expect(try #require(request("GET /? HTTP/1.1\r\nHost: a\r\n\r\n")).query.map { Array($0) } == [])
    }

    @Test func rfc9112Section3_2_2AbsoluteFormTargetsAreAccepted() throws {
        let parsed = try #require(request("GET http://example.com:80/x?y HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(parsed.path == bytes("/x") && parsed.query.map { Array($0) } == bytes("y"))
        #expect(try #require(request("GET HTTPS://example.com HTTP/1.1\r\nHost: a\r\n\r\n")).path == bytes("/"))
    }

    @Test func traversalAndNulAreRefusedAfterDecoding() {
        for target in ["/..", "/../etc/passwd", "/a/../b", "/a/..", "/%2e%2e/x", "/%2E%2e", "/a%2F..%2Fb", "/..%2f",
                       "/a%00b", "/%00"] {
            #expect(error("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == .forbiddenPath, "\(target)")
        }
        for target in ["/...", "/..a", "/a..", "/./a", "//a", "/a/.../b"] {
            #expect(request("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") != nil, "\(target)")
        }
        #expect(HTTPRequestError.forbiddenPath.status == .badRequest)
    }

    @Test func rfc3986TargetsOutsideTheGrammarAre400() {
        for target in ["*", "example.com:80", "/%zz", "/%4", "/a%", "/a#frag", "/a\"b", "/a<b>", "/a\\b", "/é", "ftp://x/y",
                       "http:///y", "http:/y"] {
            #expect(error("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == .malformedTarget, "\(target)")
        }
    }

    // MARK: - Responses, content types, log lines

    @Test func responseHeadCarriesStatusServerTypeLengthAndConnection() {
        var out: [UInt8] = []
        HTTPResponseHead(status: .ok, contentLength: 1234, contentType: .html, keepAlive: true).write(into: &out)
        #expect(text(out) == "HTTP/1.1 200 OK\r\nServer: tessera\r\nContent-Type: text/html; charset=utf-8\r\n"
                + "Content-Length: 1234\r\nConnection: keep-alive\r\n\r\n")
        out.removeAll()
        HTTPResponseHead(status: .notFound, contentLength: 0, keepAlive: false).write(into: &out)
        #expect(text(out) == "HTTP/1.1 404 Not Found\r\nServer: tessera\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test func errorResponsesHaveATextBodyAnd405SaysAllow() {
        var out: [UInt8] = []
        HTTPResponseHead.writeError(.methodNotAllowed, into: &out)
        #expect(text(out) == "HTTP/1.1 405 Method Not Allowed\r\nServer: tessera\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n"
                + "Allow: GET, HEAD\r\n\r\n405 Method Not Allowed\n")
        var head: [UInt8] = []
        HTTPResponseHead.writeError(.notFound, keepAlive: true, includeBody: false, into: &head)
        #expect(text(head).hasSuffix("Content-Length: 14\r\nConnection: keep-alive\r\n\r\n"))   // "404 Not Found\n"
    }

    @Test func everyStatusHasAThreeDigitCodeAndAReasonPhrase() {
        for status in HTTPStatus.allCases {
            var out: [UInt8] = []
            HTTPResponseHead.writeError(status, into: &out)
            #expect(status.code >= 200 && status.code < 600 && status.reasonPhrase.utf8CodeUnitCount > 1)
            #expect(text(out).hasSuffix("\r\n\r\n\(status.code) \(status.reasonPhrase)\n"))
        }
        #expect(HTTPStatus.requestHeaderFieldsTooLarge.reasonPhrase.description == "Request Header Fields Too Large")
    }

    @Test func contentTypesFollowTheFileExtensionInAnyCase() {
        let expected: [(String, String)] = [
            ("/index.html", "text/html; charset=utf-8"), ("/a.HTM", "text/html; charset=utf-8"),
            ("/s.css", "text/css; charset=utf-8"), ("/app.js", "text/javascript; charset=utf-8"),
            ("/d.json", "application/json"), ("/r.txt", "text/plain; charset=utf-8"), ("/i.svg", "image/svg+xml"),
            ("/i.png", "image/png"), ("/i.jpg", "image/jpeg"), ("/i.JPEG", "image/jpeg"), ("/i.gif", "image/gif"),
            ("/favicon.ico", "image/x-icon"), ("/m.wasm", "application/wasm"), ("/f.xml", "application/xml"),
            ("/doc.pdf", "application/pdf"), ("/archive.tar.gz", "application/octet-stream"),
            ("/README", "application/octet-stream"), ("/dir.html/file", "application/octet-stream"),
            ("/", "application/octet-stream"),
        ]
        for (path, type) in expected {
            #expect(HTTPContentType(path: bytes(path)).mediaType.description == type, "\(path)")
        }
        #expect(HTTPContentType(fileExtension: bytes("Css")) == .css)
    }

    @Test func logLinesNameClientRequestStatusAndBytes() throws {
        let parsed = try #require(request("GET /a%20b?x HTTP/1.0\r\n\r\n"))
        #expect(HTTPLogLine.string(clientAddress: 0x0A00_0202, clientPort: 51234, request: parsed, status: .ok, bytes: 1234)
                == "10.0.2.2:51234 \"GET /a%20b?x HTTP/1.0\" 200 1234")
        var line: [UInt8] = []
        HTTPLogLine.write(clientAddress: 0xFFFF_FFFF, clientPort: 0, request: nil, status: .badRequest, bytes: 0,
                          into: &line)
        #expect(text(line) == "255.255.255.255:0 \"-\" 400 0")
    }

    // MARK: - Fuzz

    @Test func fiftyThousandMutatedRequestsNeverTrapOverconsumeOrAnswerDifferentlyWhenSplit() {
        var mutator = HTTPMutator(random: SplitMix64(seed: 0x4854_5450_2026))
        let tiny = HTTPLimits(maxTargetLength: 12, maxHeaderSectionLength: 40, maxHeaderFields: 3, maxBodyLength: 2)
        let limits = [HTTPLimits(), tiny]
        var outcomes: [String: Int] = [:], failures: [String] = []
        for round in 0..<50_000 {
            let input = mutator.mutant()
            let parser = HTTPRequestParser(limits: limits[round % 2])
            let whole = parser.parse(input)
            switch whole {
            case .needMore: outcomes["needMore", default: 0] += 1
            case .request(_, let consumed):
                outcomes["request", default: 0] += 1
                if consumed < 1 || consumed > input.count { failures.append("consumed \(consumed): \(hex(input))") }
            case .error(let error): outcomes["\(error.status.code)", default: 0] += 1
            }
            let prefix = parser.parse(Array(input[..<mutator.below(input.count + 1)]))
            if prefix != .needMore && prefix != whole { failures.append("prefix \(prefix) vs \(whole): \(hex(input))") }
            if round % 100 == 0, serve(input, chunk: 1, limits: limits[round % 2])
                != serve(input, chunk: input.count + 1, limits: limits[round % 2]) {
                failures.append("byte by byte: \(hex(input))")
            }
            input.withUnsafeBytes { _ = HTTPRequestParser.fuzz($0) }     // traps if a promise is broken
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
        for outcome in ["needMore", "request", "400", "405", "413", "414", "431", "501", "505"] {
            #expect(outcomes[outcome, default: 0] >= 20, "\(outcome): \(outcomes[outcome, default: 0])")
        }
        print("HTTP fuzz outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }
}
