// The request parser: one left-to-right scan over the unconsumed bytes (RFC 9112 sections 2-6, 9.3).
//
// The scan has three stages, each only reached when the one before it is complete:
//   1. the request line, read piece by piece so that nothing waits for a line feed that may never come:
//      the method (at most 16 token bytes, then SP), the target (at most `maxTargetLength` RFC 3986
//      bytes, then SP), the version (8 bytes, then CRLF or LF: the line feed must come within 10 bytes).
//      When the line is complete it is judged in this order: version syntax (400), major version (505),
//      method (405), target decoding (400): each later check only means something if the earlier
//      passed;
//   2. field lines, one per line feed, each judged when complete; the line feed that ends the section
//      must come within `maxHeaderSectionLength` bytes of its start (431). Content-Length,
//      Transfer-Encoding, Host and Connection are interpreted as the lines go by;
//   3. after the empty line: Host (400), then framing (400, 501, 413), then the body must be present.
// Running out of bytes anywhere is `.needMore`. A refusal is made at the byte that decides it, whatever
// follows, which is why a prefix never answers differently from the whole (see HTTP.swift).
//
// Lines end in CRLF or a bare LF (2.2 allows recipients to accept LF); a CR anywhere else is a control
// character and refused. Internally the scan throws `Stop`, so each step reads as straight-line code.

/// Parses requests; holds only the limits.
public struct HTTPRequestParser: Hashable, Sendable {
    public var limits: HTTPLimits

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// The first request in `buffer`, which starts where the previous request ended.
    public func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        let scanner = RequestScanner(bytes: buffer, limits: limits)
        do throws(RequestScanner.Stop) {
            let (request, consumed) = try scanner.request()
            return .request(request, consumed: consumed)
        } catch {
            switch error {
            case .needMore: return .needMore
            case .refuse(let reason): return .error(reason)
            }
        }
    }

    public func parse(_ buffer: [UInt8]) -> HTTPParseResult {
        buffer.withUnsafeBytes { parse($0) }
    }
}

/// One scan of one buffer. Every index it reads is checked against `bytes.count` first.
struct RequestScanner {
    enum Stop: Error {
        case needMore
        case refuse(HTTPRequestError)
    }

    /// What the field lines said about the request, gathered while scanning them.
    struct Fields {
        var list: [HTTPHeaderField] = []
        var contentLength: Int?
        var transferEncoding = false
        var finalCodingIsChunked = false
        var hostCount = 0
        var host: Range<Int>?
        var close = false
        var keepAlive = false
    }

    /// Content-Length values saturate here: far above any sensible limit, far from overflowing.
    static let saturatedLength = 1 << 50

    let bytes: UnsafeRawBufferPointer
    let maxTargetLength: Int, maxHeaderSectionLength: Int, maxHeaderFields: Int, maxBodyLength: Int

    init(bytes: UnsafeRawBufferPointer, limits: HTTPLimits) {
        self.bytes = bytes
        maxTargetLength = max(0, limits.maxTargetLength)
        maxHeaderSectionLength = max(0, limits.maxHeaderSectionLength)
        maxHeaderFields = max(0, limits.maxHeaderFields)
        maxBodyLength = max(0, limits.maxBodyLength)
    }

    func request() throws(Stop) -> (HTTPRequest, consumed: Int) {
        // 1. The request line.
        let methodStart = try afterEmptyLine()
        let methodEnd = try methodToken(from: methodStart)
        let targetEnd = try targetToken(from: methodEnd + 1)
        let versionStart = targetEnd + 1
        let lineEnd = try lineFeed(from: versionStart, before: versionStart + 10, else: .malformedRequestLine)
        let version = try httpVersion(versionStart..<withoutCarriageReturn(versionStart, lineEnd))
        let method = try httpMethod(methodStart..<methodEnd)
        let target = UnsafeRawBufferPointer(rebasing: bytes[(methodEnd + 1)..<targetEnd])
        let (path, queryStart): ([UInt8], Int?)
        do throws(HTTPRequestError) { (path, queryStart) = try RequestTarget.parse(target) } catch { throw .refuse(error) }

        // 2. The field lines.
        var fields = Fields()
        let sectionStart = lineEnd + 1
        let sectionLimit = maxHeaderSectionLength > Int.max - sectionStart ? Int.max : sectionStart + maxHeaderSectionLength
        var position = sectionStart
        while true {
            let end = try lineFeed(from: position, before: sectionLimit, else: .headerSectionTooLarge)
            let line = position..<withoutCarriageReturn(position, end)
            position = end + 1
            if line.isEmpty { break }
            try fieldLine(line, into: &fields)
        }

        // 3. Host, framing, body.
        if version == .http1_1 && fields.hostCount == 0 { throw .refuse(.missingHost) }
        if fields.hostCount > 1 { throw .refuse(.badHost) }
        if fields.transferEncoding {
            if fields.contentLength != nil { throw .refuse(.conflictingFraming) }
            if version == .http1_0 || !fields.finalCodingIsChunked { throw .refuse(.badTransferEncoding) }
            throw .refuse(.transferEncodingNotImplemented)
        }
        let length = fields.contentLength ?? 0
        guard length <= maxBodyLength else { throw .refuse(.contentTooLarge) }
        guard bytes.count - position >= length else { throw .needMore }
        let request = HTTPRequest(method: method, version: version, target: Array(target), path: path,
                                  queryStart: queryStart, headers: fields.list, host: fields.host,
                                  body: position..<(position + length),
                                  keepAlive: !fields.close && (version == .http1_1 || fields.keepAlive))
        return (request, position + length)
    }

    // MARK: - Request line

    /// Where the request line starts: after one empty line, which RFC 9112 2.2 says to ignore.
    func afterEmptyLine() throws(Stop) -> Int {
        guard bytes.count > 0 else { throw .needMore }
        if bytes[0] == ASCII.lineFeed { return 1 }
        guard bytes[0] == ASCII.carriageReturn else { return 0 }
        guard bytes.count > 1 else { throw .needMore }
        return bytes[1] == ASCII.lineFeed ? 2 : 0
    }

    /// The index of the space after the method.
    func methodToken(from start: Int) throws(Stop) -> Int {
        var index = start
        while true {
            guard index < bytes.count else { throw .needMore }
            let byte = bytes[index]
            if byte == ASCII.space && index > start { return index }
            guard ASCII.isTokenCharacter(byte), index - start < HTTPMethod.maxLength else {
                throw .refuse(.malformedRequestLine)
            }
            index += 1
        }
    }

    /// The index of the space after the request-target.
    func targetToken(from start: Int) throws(Stop) -> Int {
        var index = start
        while true {
            guard index < bytes.count else { throw .needMore }
            let byte = bytes[index]
            if byte == ASCII.space && index > start { return index }
            guard index - start < maxTargetLength else { throw .refuse(.targetTooLong) }
            guard ASCII.isTargetCharacter(byte) else {
                let endsLine = byte == ASCII.space || byte == ASCII.carriageReturn || byte == ASCII.lineFeed
                throw .refuse(endsLine ? .malformedRequestLine : .malformedTarget)
            }
            index += 1
        }
    }

    /// "HTTP/1.0" or "HTTP/1.1" (HTTP-name is case-sensitive, RFC 9112 2.3); 1.2-1.9 are read as 1.1.
    func httpVersion(_ range: Range<Int>) throws(Stop) -> HTTPVersion {
        let at = range.lowerBound
        guard range.count == 8, ASCII.equals(bytes, at..<(at + 5), "HTTP/"), ASCII.isDigit(bytes[at + 5]),
              bytes[at + 6] == ASCII.dot, ASCII.isDigit(bytes[at + 7]) else { throw .refuse(.malformedRequestLine) }
        guard bytes[at + 5] == UInt8(ascii: "1") else { throw .refuse(.versionNotSupported) }
        return bytes[at + 7] == ASCII.zero ? .http1_0 : .http1_1
    }

    /// GET or HEAD (case-sensitive, RFC 9110 9.1).
    func httpMethod(_ range: Range<Int>) throws(Stop) -> HTTPMethod {
        if ASCII.equals(bytes, range, "GET") { return .get }
        if ASCII.equals(bytes, range, "HEAD") { return .head }
        throw .refuse(.methodNotAllowed)
    }

    // MARK: - Lines and fields

    /// The index of the first line feed at or after `start` and before `end`; `.needMore` when the
    /// buffer ends before `end`, else `failure`.
    func lineFeed(from start: Int, before end: Int, else failure: HTTPRequestError) throws(Stop) -> Int {
        var index = start
        while index < min(end, bytes.count) {
            if bytes[index] == ASCII.lineFeed { return index }
            index += 1
        }
        throw bytes.count < end ? .needMore : .refuse(failure)
    }

    /// `lineFeed`, or the CR before it if the line ends in CRLF.
    func withoutCarriageReturn(_ start: Int, _ lineFeed: Int) -> Int {
        lineFeed > start && bytes[lineFeed - 1] == ASCII.carriageReturn ? lineFeed - 1 : lineFeed
    }

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 5), `line` without its line end.
    func fieldLine(_ line: Range<Int>, into fields: inout Fields) throws(Stop) {
        if ASCII.isWhitespace(bytes[line.lowerBound]) {         // a continuation line, or space after the start line
            throw .refuse(fields.list.isEmpty ? .malformedHeader : .obsoleteLineFolding)
        }
        var colon = line.lowerBound
        while colon < line.upperBound && bytes[colon] != ASCII.colon {
            if ASCII.isWhitespace(bytes[colon]) {
                var next = colon
                while next < line.upperBound && ASCII.isWhitespace(bytes[next]) { next += 1 }
                let beforeColon = next < line.upperBound && bytes[next] == ASCII.colon
                throw .refuse(beforeColon ? .whitespaceBeforeColon : .malformedHeader)
            }
            guard ASCII.isTokenCharacter(bytes[colon]) else { throw .refuse(.malformedHeader) }
            colon += 1
        }
        guard colon > line.lowerBound, colon < line.upperBound else { throw .refuse(.malformedHeader) }
        let value = trimmed(colon + 1..<line.upperBound)
        for index in value where !ASCII.isFieldValueCharacter(bytes[index]) { throw .refuse(.malformedHeader) }
        guard fields.list.count < maxHeaderFields else { throw .refuse(.headerSectionTooLarge) }
        let field = HTTPHeaderField(name: line.lowerBound..<colon, value: value)
        fields.list.append(field)
        try interpret(field, into: &fields)
    }

    /// Records what Content-Length, Transfer-Encoding, Host and Connection say.
    func interpret(_ field: HTTPHeaderField, into fields: inout Fields) throws(Stop) {
        if ASCII.equalsIgnoringCase(bytes, field.name, "content-length") {
            let length = try contentLength(field.value)
            if let previous = fields.contentLength, previous != length { throw .refuse(.badContentLength) }
            fields.contentLength = length
        } else if ASCII.equalsIgnoringCase(bytes, field.name, "transfer-encoding") {
            fields.transferEncoding = true
            var last: Range<Int>? = nil
            forEachElement(of: field.value) { element in if !element.isEmpty { last = element } }
            if let last { fields.finalCodingIsChunked = ASCII.equalsIgnoringCase(bytes, last, "chunked") }
        } else if ASCII.equalsIgnoringCase(bytes, field.name, "host") {
            fields.hostCount += 1
            for index in field.value where !ASCII.isHostCharacter(bytes[index]) { throw .refuse(.badHost) }
            fields.host = field.value
        } else if ASCII.equalsIgnoringCase(bytes, field.name, "connection") {
            forEachElement(of: field.value) { option in
                if ASCII.equalsIgnoringCase(bytes, option, "close") { fields.close = true }
                if ASCII.equalsIgnoringCase(bytes, option, "keep-alive") { fields.keepAlive = true }
            }
        }
    }

    /// Content-Length = 1*DIGIT; a list of equal values ("5, 5") is accepted (RFC 9110 8.6).
    func contentLength(_ value: Range<Int>) throws(Stop) -> Int {
        var length: Int? = nil
        var valid = true
        forEachElement(of: value) { element in
            var number = 0
            for index in element {
                guard ASCII.isDigit(bytes[index]) else { valid = false; return }
                number = min(number * 10 + Int(bytes[index] - ASCII.zero), Self.saturatedLength)
            }
            if element.isEmpty || (length != nil && length != number) { valid = false }
            length = number
        }
        guard valid, let length else { throw .refuse(.badContentLength) }
        return length
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 5.6.1), without surrounding
    /// whitespace; empty elements included.
    func forEachElement(of range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while true {
            var end = start
            while end < range.upperBound && bytes[end] != ASCII.comma { end += 1 }
            body(trimmed(start..<end))
            guard end < range.upperBound else { return }
            start = end + 1
        }
    }

    /// `range` without leading and trailing SP and HTAB.
    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var start = range.lowerBound, end = range.upperBound
        while start < end && ASCII.isWhitespace(bytes[start]) { start += 1 }
        while end > start && ASCII.isWhitespace(bytes[end - 1]) { end -= 1 }
        return start..<end
    }
}

// MARK: - Fuzzing

extension HTTPRequestParser {
    /// Runs `bytes` through the parser as one connection's input would go, once with the default limits
    /// and once with tiny ones, and checks the parser's promises with `precondition` (so a fuzzer sees a
    /// crash): each request consumes at least one byte and no more than it was given, its ranges lie
    /// inside what it consumed and its path is safe; the same bytes minus the last one need more; half
    /// of the remaining bytes need more or give the same answer. Responses and log lines are written for
    /// every answer, to exercise those too. Returns how many requests were parsed.
    @discardableResult
    public static func fuzz(_ bytes: UnsafeRawBufferPointer) -> Int {
        let tiny = HTTPLimits(maxTargetLength: 12, maxHeaderSectionLength: 48, maxHeaderFields: 3, maxBodyLength: 4)
        var requests = 0
        var output: [UInt8] = []
        for parser in [HTTPRequestParser(), HTTPRequestParser(limits: tiny)] {
            var offset = 0
            connection: while true {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                let result = parser.parse(rest)
                let half = parser.parse(UnsafeRawBufferPointer(rebasing: rest[..<(rest.count / 2)]))
                precondition(half == .needMore || half == result, "HTTP fuzz: a prefix answered differently")
                output.removeAll(keepingCapacity: true)
                switch result {
                case .needMore:
                    break connection
                case .error(let error):
                    HTTPResponseHead.writeError(error.status, into: &output)
                    HTTPLogLine.write(clientAddress: 0x0A00_0202, clientPort: 1, request: nil, status: error.status,
                                      bytes: 0, into: &output)
                    break connection
                case .request(let request, let consumed):
                    precondition(consumed > 0 && consumed <= rest.count, "HTTP fuzz: consumed out of range")
                    precondition(request.body.upperBound == consumed, "HTTP fuzz: body does not end the request")
                    for field in request.headers {
                        precondition(field.value.upperBound <= request.body.lowerBound, "HTTP fuzz: field out of range")
                    }
                    precondition(request.path.first == ASCII.slash && !request.path.contains(0), "HTTP fuzz: bad path")
                    let shorter = parser.parse(UnsafeRawBufferPointer(rebasing: rest[..<(consumed - 1)]))
                    precondition(shorter == .needMore, "HTTP fuzz: an incomplete request was accepted")
                    let type = HTTPContentType(path: request.path)
                    HTTPResponseHead(status: .ok, contentLength: request.body.count, contentType: type,
                                     keepAlive: request.keepAlive).write(into: &output)
                    HTTPLogLine.write(clientAddress: 0x0A00_0202, clientPort: 1, request: request, status: .ok,
                                      bytes: consumed, into: &output)
                    requests += 1
                    offset += consumed
                }
            }
        }
        return requests
    }
}
