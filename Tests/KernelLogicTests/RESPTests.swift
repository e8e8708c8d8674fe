// RESP2 request parsing (multibulk and inline), reply writing, protocol errors, limits, and a seeded mutation
// fuzz. Every expected error reply and inline split below is what redis-server 7.0.15 answered to the same
// bytes (captured with a raw socket).
//
// `serve` plays the server: it appends the input in chunks of a given size, parses after each append and
// drops what each command consumed, so the same input can be delivered whole, byte by byte, or split at any
// point and the answers compared.

import RESP
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func text(_ bytes: some Sequence<UInt8>) -> String { String(decoding: Array(bytes), as: UTF8.self) }

/// One answer, with arguments as strings, so that expectations read naturally.
private enum Answer: Equatable, CustomStringConvertible {
    case command([String], consumed: Int)
    case error(String)
    case needMore

    init(_ result: RESPParseResult) {
        switch result {
        case .needMore: self = .needMore
        case .command(let arguments, let consumed): self = .command(arguments.map { text($0) }, consumed: consumed)
        case .error(let error): self = .error(error.description)
        }
    }

    var description: String {
        switch self {
        case .command(let arguments, let consumed): return "command(\(arguments), \(consumed))"
        case .error(let message): return "error(\(message))"
        case .needMore: return "needMore"
        }
    }
}

private func parse(_ input: [UInt8], _ limits: RESPLimits = RESPLimits()) -> Answer {
    var parser = RESPParser(limits: limits)
    return Answer(parser.parse(input))
}

private func parse(_ input: String, _ limits: RESPLimits = RESPLimits()) -> Answer { parse(bytes(input), limits) }

/// Every answer a server gets when `input` arrives in chunks of `chunk` bytes (or cut at `splits`).
private func serve(_ input: [UInt8], chunk: Int = Int.max, splits: [Int]? = nil,
                   limits: RESPLimits = RESPLimits()) -> [Answer] {
    var parser = RESPParser(limits: limits)
    var answers: [Answer] = []
    var ends = splits ?? Array(stride(from: min(chunk, input.count), to: input.count, by: max(1, chunk)))
    ends.append(input.count)
    var start = 0
    for end in ends {
        while true {
            let result = parser.parse(input[start..<end])
            guard case .command(_, let consumed) = result else {
                if case .error = result { return answers + [Answer(result)] }
                break
            }
            answers.append(Answer(result))
            start += consumed
        }
    }
    return answers + [.needMore]
}

private let setCommand = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
private let pipelined = setCommand + "PING\r\n" + "*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n" + "*0\r\n" + "\n"
    + "set k \"two words\" 'x'\r\n" + "*1\r\n$4\r\nPING\r\n"

@Suite struct RESPTests {
    // MARK: - Requests

    @Test func multibulkRequestGivesItsArgumentsAndLength() {
        #expect(parse(setCommand) == .command(["SET", "key", "value"], consumed: setCommand.utf8.count))
        #expect(parse("*1\r\n$0\r\n\r\n") == .command([""], consumed: 10))
        let binary: [UInt8] = Array("*2\r\n$4\r\nECHO\r\n$4\r\n".utf8) + [0, 13, 10, 255] + [13, 10]
        var parser = RESPParser()
        guard case .command(let arguments, let consumed) = parser.parse(binary) else { Issue.record("not parsed"); return }
        #expect(consumed == binary.count && Array(arguments[1]) == [0, 13, 10, 255])
    }

    @Test func multibulkArgumentsAreSlicesOfTheBufferNotCopies() {
        let buffer = bytes("xx" + setCommand)
        var parser = RESPParser()
        guard case .command(let arguments, _) = parser.parse(buffer[2...]) else { Issue.record("not parsed"); return }
        #expect(arguments[1].startIndex == 2 + 17 && arguments[1].endIndex == 2 + 20)
    }

    @Test func pipelinedCommandsAreReturnedOneByOneWithBytesConsumed() {
        let answers = serve(bytes(pipelined))
        #expect(answers == [
            .command(["SET", "key", "value"], consumed: 33), .command(["PING"], consumed: 6),
            .command(["ECHO", "a\r\nb"], consumed: 24), .command([], consumed: 4), .command([], consumed: 1),
            .command(["set", "k", "two words", "x"], consumed: 23), .command(["PING"], consumed: 14), .needMore,
        ])
    }

    @Test func everySplitPointAndChunkSizeGivesTheSameCommands() {
        let input = bytes(pipelined)
        let whole = serve(input)
        for split in 1..<input.count {
            #expect(serve(input, splits: [split]) == whole, "split at \(split)")
        }
        for chunk in 1...input.count {
            #expect(serve(input, chunk: chunk) == whole, "chunks of \(chunk)")
        }
    }

    @Test func aLargeValueArrivingInManySegmentsIsParsedOnce() {
        let value = [UInt8](repeating: 0x61, count: 1 << 20)
        let input = bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(value.count)\r\n") + value + bytes("\r\n")
        let answers = serve(input, chunk: 1460)
        #expect(answers.count == 2)
        if case .command(let arguments, let consumed) = answers[0] {
            #expect(arguments[2].utf8.count == value.count && consumed == input.count)
        }
    }

    @Test func emptyCommandsAreConsumedWithoutArguments() {
        #expect(parse("*0\r\n") == .command([], consumed: 4))
        #expect(parse("*-1\r\n") == .command([], consumed: 5))
        #expect(parse("\r\n") == .command([], consumed: 2))
        #expect(parse("   \t\r\n") == .command([], consumed: 6))
    }

    @Test func incompleteRequestsNeedMore() {
        for prefix in ["", "*", "*3", "*3\r", "*3\r\n$3", "*3\r\n$3\r\nSET", "*3\r\n$3\r\nSET\r", "PING", "PING\r", "ECHO \"a"] {
            #expect(parse(prefix) == .needMore, "\(prefix.debugDescription)")
        }
    }

    @Test func aParserGivenFewerBytesThanItScannedStartsOver() {
        var parser = RESPParser()
        #expect(parser.parse(bytes("*2\r\n$4\r\nECHO\r\n$")) == .needMore)
        #expect(Answer(parser.parse(bytes("PING\r\n"))) == .command(["PING"], consumed: 6))
    }

    // MARK: - Inline requests

    @Test func inlineRequestsSplitWordsWithRedisQuotingRules() {
        let cases: [(String, [String])] = [
            ("PING\r\n", ["PING"]), ("PING\n", ["PING"]), ("EcHo  \t hi  \r\n", ["EcHo", "hi"]),
            ("ECHO \"\\x41\\n\\z\"\r\n", ["ECHO", "A\nz"]), ("ECHO 'it\\'s'\r\n", ["ECHO", "it's"]),
            ("ECHO a\rb\r\n", ["ECHO", "a", "b"]), ("ECHO \"a\\x4\"\r\n", ["ECHO", "ax4"]),
            ("ECHO a'b c'\r\n", ["ECHO", "ab c"]), ("ECHO \u{0B}x\r\n", ["ECHO", "x"]), ("ECHO \"\" \r\n", ["ECHO", ""]),
            ("ECHO \"\\xZZ\"\r\n", ["ECHO", "xZZ"]), ("ECHO \"\\X41\"\r\n", ["ECHO", "X41"]),
            ("ECHO 'a\\nb'\r\n", ["ECHO", "a\\nb"]), ("ECHO \"\\t\\r\\b\\a\\\"\"\r\n", ["ECHO", "\t\r\u{08}\u{07}\""]),
            ("set a \"x y\"\r\n", ["set", "a", "x y"]), ("x\u{0C}y z\r\n", ["x\u{0C}y", "z"]),
        ]
        for (input, words) in cases {
            #expect(parse(input) == .command(words, consumed: input.utf8.count), "\(input.debugDescription)")
        }
    }

    @Test func unbalancedQuotesAreAProtocolError() {
        for input in ["PING \"a\r\n", "PING 'a\r\n", "ECHO \"a\"b\r\n", "ECHO \"a\\\"\r\n", "ECHO 'a'b\r\n"] {
            #expect(parse(input) == .error("ERR Protocol error: unbalanced quotes in request"), "\(input.debugDescription)")
        }
    }

    // MARK: - Protocol errors and limits

    @Test func protocolErrorsAreWordedAsRedisWordsThem() {
        let cases: [(String, String)] = [
            ("*x\r\n", "invalid multibulk length"), ("*01\r\n", "invalid multibulk length"),
            ("*+1\r\n", "invalid multibulk length"), ("* 1\r\n", "invalid multibulk length"),
            ("*2147483648\r\n", "invalid multibulk length"), ("*1\r\n$x\r\n", "invalid bulk length"),
            ("*1\r\n$-1\r\n", "invalid bulk length"), ("*1\r\n$04\r\n", "invalid bulk length"),
            ("*1\r\n$+4\r\n", "invalid bulk length"), ("*1\r\n$536870913\r\n", "invalid bulk length"),
            ("*1\r\nx3\r\nfoo\r\n", "expected '$', got 'x'"), ("*1\r$4\r\nPING\r\n", "expected '$', got '4'"),
            ("*1\r\n\r\r\n", "expected '$', got ' '"),
        ]
        for (input, reason) in cases {
            #expect(parse(input) == .error("ERR Protocol error: " + reason), "\(input.debugDescription)")
        }
        #expect(parse("*2147483647\r\n") == .needMore && parse("*1\r\n$536870912\r\n") == .needMore)
        #expect(parse("*1\r\n$4\r\nPINGxx") == .command(["PING"], consumed: 14))     // the CRLF is not checked
    }

    @Test func errorRepliesAreWrittenWithTheByteRedisPrints() {
        var reply: [UInt8] = []
        RESPProtocolError.expectedDollar(got: 0x01).write(into: &reply)
        RESPProtocolError.tooBigInlineRequest.write(into: &reply)
        #expect(reply == bytes("-ERR Protocol error: expected '$', got '\u{01}'\r\n-ERR Protocol error: too big inline request\r\n"))
    }

    @Test func inlineAndCountLinesAreLimitedTo64KiB() {
        let x = [UInt8](repeating: 0x78, count: 65536)
        #expect(parse(x) == .needMore)
        #expect(parse(x + [0x78]) == .error("ERR Protocol error: too big inline request"))
        #expect(parse(x + [0x0A]) == .command([String(repeating: "x", count: 65536)], consumed: 65537))
        let ones = [UInt8](repeating: 0x31, count: 65536)
        #expect(parse(bytes("*") + ones) == .error("ERR Protocol error: too big mbulk count string"))
        #expect(parse(bytes("*1\r\n$") + ones) == .error("ERR Protocol error: too big bulk count string"))
        #expect(serve(bytes("PING\r\n*1\r\n$") + ones)
                == [.command(["PING"], consumed: 6), .error("ERR Protocol error: too big bulk count string")])
    }

    @Test func smallerLimitsRefuseLargerRequests() {
        let limits = RESPLimits(maxBulkLength: 4, maxArgumentCount: 2, maxInlineLength: 8)
        #expect(parse("*3\r\n", limits) == .error("ERR Protocol error: invalid multibulk length"))
        #expect(parse("*1\r\n$5\r\n", limits) == .error("ERR Protocol error: invalid bulk length"))
        #expect(parse("*1\r\n$4\r\nPING\r\n", limits) == .command(["PING"], consumed: 14))
        #expect(parse("123456789", limits) == .error("ERR Protocol error: too big inline request"))
        #expect(parse("12345678\n", limits) == .command(["12345678"], consumed: 9))
    }

    @Test func commandsBeforeAnErrorInTheSameBufferAreStillReturned() {
        #expect(serve(bytes("FOO\r\n*x\r\nPING\r\n"))
                == [.command(["FOO"], consumed: 5), .error("ERR Protocol error: invalid multibulk length")])
    }

    @Test func integersFollowRedisString2ll() {
        let valid: [(String, Int64)] = [("0", 0), ("-1", -1), ("9223372036854775807", .max), ("-9223372036854775808", .min)]
        for (input, value) in valid { #expect(RESPInteger.parse(bytes(input)[...]) == value, "\(input)") }
        for input in ["", "-", "-0", "01", "+1", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1a",
                      "123456789012345678901"] {
            #expect(RESPInteger.parse(bytes(input)[...]) == nil, "\(input)")
        }
    }

    // MARK: - Replies

    @Test func replyWriterWritesEachRESP2Type() {
        var reply: [UInt8] = []
        RESPReply.ok(into: &reply)
        RESPReply.simpleString("PONG", into: &reply)
        RESPReply.simpleString(bytes("a\r\nb"), into: &reply)
        RESPReply.error("ERR syntax error", into: &reply)
        RESPReply.error(bytes("ERR bad\nline"), into: &reply)
        RESPReply.integer(-42, into: &reply)
        RESPReply.integer(.min, into: &reply)
        RESPReply.bulkString(bytes("hello"), into: &reply)
        RESPReply.bulkString(bytes(""), into: &reply)
        RESPReply.bulkString("static", into: &reply)
        RESPReply.bulkDecimal(1234, into: &reply)
        RESPReply.nullBulkString(into: &reply)
        RESPReply.arrayHeader(2, into: &reply)
        RESPReply.arrayHeader(0, into: &reply)
        RESPReply.nullArray(into: &reply)
        #expect(text(reply) == "+OK\r\n+PONG\r\n+a  b\r\n-ERR syntax error\r\n-ERR bad line\r\n:-42\r\n"
                + ":-9223372036854775808\r\n$5\r\nhello\r\n$0\r\n\r\n$6\r\nstatic\r\n$4\r\n1234\r\n$-1\r\n*2\r\n*0\r\n*-1\r\n")
    }

    @Test func requestsWrittenAsArraysOfBulkStringsParseBackToTheSameArguments() {
        var random = SplitMix64(seed: 0x5245_5350)
        for _ in 0..<500 {
            var arguments: [[UInt8]] = []
            for _ in 0..<(1 + Int(random.next() % 6)) {
                arguments.append((0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            }
            var request: [UInt8] = []
            RESPReply.arrayHeader(arguments.count, into: &request)
            for argument in arguments { RESPReply.bulkString(argument, into: &request) }
            var parser = RESPParser()
            guard case .command(let parsed, let consumed) = parser.parse(request) else {
                Issue.record("not parsed: \(request)")
                return
            }
            #expect(parsed.map { Array($0) } == arguments && consumed == request.count)
        }
    }

    // MARK: - Fuzz

    @Test func fiftyThousandMutatedRequestsNeverTrapOverconsumeOrAnswerDifferentlyWhenSplit() {
        var random = SplitMix64(seed: 0x5245_5350_2026)
        let seeds = [setCommand, pipelined, "PING\r\n", "ECHO \"a\\x41\" 'b\\'c'\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
                     "*1\r\n$10\r\n0123456789\r\n"].map(bytes)
        let fragments = ["*", "$", "\r\n", "\r", "\n", "-1", "0", "9", "\"", "'", "\\", "\\x", " ", "*1\r\n", "$3\r\n",
                         "*2147483647\r\n", "$536870912\r\n"].map(bytes)
        func below(_ bound: Int) -> Int { Int(random.next() % UInt64(max(1, bound))) }
        var outcomes: [String: Int] = [:]
        var failures: [String] = []
        let tiny = RESPLimits(maxBulkLength: 8, maxArgumentCount: 4, maxInlineLength: 16)
        for round in 0..<50_000 {
            var input = seeds[below(seeds.count)]
            for _ in 0..<(1 + below(4)) {
                let at = below(input.count + 1)
                switch below(6) {
                case 0 where at < input.count: input[at] ^= 1 << UInt8(below(8))
                case 1 where at < input.count: input[at] = UInt8(truncatingIfNeeded: random.next())
                case 2: input.insert(contentsOf: fragments[below(fragments.count)], at: at)
                case 3: input.removeSubrange(at..<min(input.count, at + 1 + below(8)))
                case 4: input += seeds[below(seeds.count)]
                default: input.removeLast(input.count - at)
                }
            }
            let limits = round % 2 == 0 ? RESPLimits() : tiny
            let whole = serve(input, limits: limits)
            let split = serve(input, splits: [below(input.count + 1)].filter { $0 > 0 && $0 < input.count }, limits: limits)
            if whole != split { failures.append("split: \(input)") }
            var consumed = 0
            for answer in whole {
                if case .command(_, let count) = answer {
                    if count < 1 { failures.append("consumed \(count): \(input)") }
                    consumed += count
                }
                outcomes[String(answer.description.prefix(while: { $0 != "(" })), default: 0] += 1
            }
            if consumed > input.count { failures.append("consumed more than given: \(input)") }
            if round % 50 == 0 { input.withUnsafeBytes { _ = RESPParser.fuzz($0) } }    // traps if a promise is broken
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(5).joined(separator: "\n")))
        for outcome in ["command", "error", "needMore"] {
            #expect(outcomes[outcome, default: 0] >= 1000, "\(outcome): \(outcomes[outcome, default: 0])")
        }
    }
}
