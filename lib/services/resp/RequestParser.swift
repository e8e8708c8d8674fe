// The request parser: Redis 7.0's processMultibulkBuffer and processInlineBuffer (networking.c) as one
// resumable scan over the unconsumed bytes. The forms, limits and errors are described in RESP.swift.
//
// A multibulk request is read line by line and argument by argument; the parser remembers where it
// stopped (`Progress`), so a large value arriving in many segments is scanned once, not once per segment:
// each call looks only at what it has not looked at before. An inline request remembers how far it looked
// for the line feed. The contract that makes this sound: between calls the caller only
// appends to the unconsumed bytes; after a command or an error it passes the bytes after `consumed`. If it
// passes fewer bytes than were already scanned, the parser starts that request over.

/// Parses requests. Holds the limits and the progress through the request at the start of the buffer.
public struct RESPParser: Sendable {
    public var limits: RESPLimits
    var progress = Progress()

    /// How far the request at the start of the buffer has been read.
    struct Progress: Sendable {
        /// Where scanning resumes, as an offset from the start of the buffer.
        var position = 0
        /// Multibulk: the count line has been read and `remaining` arguments are still to come.
        var inMultibulk = false
        var remaining = 0
        /// Multibulk: the length line of the next argument has been read; -1 until then.
        var bulkLength = -1
        /// Multibulk: the arguments read so far, as offsets from the start of the buffer.
        var ranges: [Range<Int>] = []

        /// Ready for the next request; the ranges' storage is kept unless it grew large.
        mutating func finish() {
            position = 0
            inMultibulk = false
            remaining = 0
            bulkLength = -1
            if ranges.capacity > 1024 { ranges = [] } else { ranges.removeAll(keepingCapacity: true) }
        }
    }

    /// What a scan found, in offsets; turned into slices of the caller's buffer by `parse`.
    enum Scan {
        case needMore
        case multibulk(consumed: Int)
        case inline([[UInt8]], consumed: Int)
        case error(RESPProtocolError)
    }

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Forgets the progress through a partly received request (for a buffer that was discarded).
    public mutating func reset() {
        progress.finish()
    }

    /// The first request in `buffer`, the unconsumed bytes of one connection.
    public mutating func parse(_ buffer: ArraySlice<UInt8>) -> RESPParseResult {
        if progress.position > buffer.count { progress.finish() }
        let scan = buffer.withUnsafeBytes { bytes in self.scan(bytes) }
        switch scan {
        case .needMore:
            return .needMore
        case .multibulk(let consumed):
            let base = buffer.startIndex
            var arguments: [ArraySlice<UInt8>] = []
            arguments.reserveCapacity(progress.ranges.count)
            for range in progress.ranges {
                arguments.append(buffer[(base + range.lowerBound)..<(base + range.upperBound)])
            }
            progress.finish()
            return .command(arguments, consumed: consumed)
        case .inline(let words, let consumed):
            progress.finish()
            var arguments: [ArraySlice<UInt8>] = []
            arguments.reserveCapacity(words.count)
            for word in words { arguments.append(word[...]) }
            return .command(arguments, consumed: consumed)
        case .error(let error):
            progress.finish()
            return .error(error)
        }
    }

    public mutating func parse(_ buffer: [UInt8]) -> RESPParseResult {
        parse(buffer[...])
    }

    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        guard bytes.count > 0 else { return .needMore }
        if !progress.inMultibulk {
            guard bytes[0] == ASCII.asterisk else { return inline(bytes) }
            switch line(bytes, from: 0) {
            case .needMore: return .needMore
            case .tooLong: return .error(.tooBigMultibulkCountString)
            case .line(let end):
                guard let count = RESPInteger.parse(UnsafeRawBufferPointer(rebasing: bytes[1..<end])),
                      count <= Int64(limits.maxArgumentCount) else { return .error(.invalidMultibulkLength) }
                progress.position = end + 2
                if count <= 0 { return .multibulk(consumed: end + 2) }
                progress.inMultibulk = true
                progress.remaining = Int(count)
                progress.ranges.reserveCapacity(min(Int(count), 1024))
            }
        }
        while progress.remaining > 0 {
            let position = progress.position
            if progress.bulkLength < 0 {
                switch line(bytes, from: position) {
                case .needMore: return .needMore
                case .tooLong: return .error(.tooBigBulkCountString)
                case .line(let end):
                    guard bytes[position] == ASCII.dollar else { return .error(.expectedDollar(got: bytes[position])) }
                    guard let length = RESPInteger.parse(UnsafeRawBufferPointer(rebasing: bytes[(position + 1)..<end])),
                          length >= 0, length <= Int64(limits.maxBulkLength) else { return .error(.invalidBulkLength) }
                    progress.bulkLength = Int(length)
                    progress.position = end + 2
                }
            }
            let start = progress.position
            guard bytes.count - start - 2 >= progress.bulkLength else { return .needMore }
            progress.ranges.append(start..<(start + progress.bulkLength))
            progress.position = start + progress.bulkLength + 2       // the CRLF after the bytes is not checked
            progress.bulkLength = -1
            progress.remaining -= 1
        }
        return .multibulk(consumed: progress.position)
    }

    enum Line {
        case needMore
        case tooLong
        /// The line ends at this CR, and at least one byte follows it.
        case line(end: Int)
    }

    /// A '*' or '$' line starting at `start`: it ends at the first CR, which must come within
    /// `maxInlineLength` bytes and be followed by one more byte (Redis assumes it is the LF).
    func line(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Line {
        let available = bytes.count - start
        let searchEnd = limits.maxInlineLength >= available ? bytes.count : start + limits.maxInlineLength + 1
        var index = start
        while index < searchEnd {
            if bytes[index] == ASCII.carriageReturn {
                return index + 1 < bytes.count ? .line(end: index) : .needMore
            }
            index += 1
        }
        return available > limits.maxInlineLength ? .tooLong : .needMore
    }

    /// An inline request: the bytes up to the first LF, without a CR before it, split into words.
    mutating func inline(_ bytes: UnsafeRawBufferPointer) -> Scan {
        let searchEnd = limits.maxInlineLength >= bytes.count ? bytes.count : limits.maxInlineLength + 1
        var index = progress.position
        while index < searchEnd && bytes[index] != ASCII.lineFeed { index += 1 }
        guard index < searchEnd else {
            progress.position = index
            return bytes.count > limits.maxInlineLength ? .error(.tooBigInlineRequest) : .needMore
        }
        let end = index > 0 && bytes[index - 1] == ASCII.carriageReturn ? index - 1 : index
        guard let words = InlineRequest.split(UnsafeRawBufferPointer(rebasing: bytes[0..<end])) else {
            return .error(.unbalancedQuotes)
        }
        return .inline(words, consumed: index + 1)
    }
}

/// Redis's integer syntax (string2ll in util.c), used for request counts and lengths and by commands:
/// an optional '-', then "0" alone or a digit 1-9 followed by digits; no '+', no spaces, no leading zeros;
/// at most 20 bytes, within Int64.
public enum RESPInteger {
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count > 0, bytes.count <= 20 else { return nil }
        if bytes.count == 1 && bytes[0] == ASCII.zero { return 0 }
        let negative = bytes[0] == ASCII.minus
        var index = negative ? 1 : 0
        guard index < bytes.count, bytes[index] >= ASCII.zero + 1, bytes[index] <= ASCII.nine else { return nil }
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard ASCII.isDigit(byte) else { return nil }
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(byte - ASCII.zero))
            guard !overflow, !carry else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    public static func parse(_ bytes: ArraySlice<UInt8>) -> Int64? {
        bytes.withUnsafeBytes { parse($0) }
    }
}
