// The fuzzing entry point, for a libFuzzer target (and called by the host tests on mutated requests).

extension RESPParser {
    /// Runs `bytes` through the parser as one connection's input would go, with the default limits and
    /// with tiny ones, and checks the parser's promises with `precondition` (so a fuzzer sees a crash):
    ///   - every command consumes at least one byte and no more than it was given, and its multibulk
    ///     arguments lie inside what it consumed;
    ///   - the same bytes delivered one at a time to a fresh parser give the same commands, then the same
    ///     error or the same need for more;
    ///   - writing each command back as an array of bulk strings, and each error as its reply, works.
    /// Returns how many commands were parsed.
    @discardableResult
    public static func fuzz(_ bytes: UnsafeRawBufferPointer) -> Int {
        let input = [UInt8](bytes)
        let tiny = RESPLimits(maxBulkLength: 8, maxArgumentCount: 4, maxInlineLength: 16)
        var commands = 0
        for limits in [RESPLimits(), tiny] {
            let whole = answers(input, limits: limits, chunk: input.count + 1)
            let trickled = answers(input, limits: limits, chunk: 1)
            precondition(whole == trickled, "RESP fuzz: split input answered differently")
            var reply: [UInt8] = []
            for answer in whole {
                switch answer {
                case .command(let arguments, _):
                    RESPReply.arrayHeader(arguments.count, into: &reply)
                    for argument in arguments { RESPReply.bulkString(argument, into: &reply) }
                    commands += 1
                case .error(let error):
                    error.write(into: &reply)
                case .needMore:
                    break
                }
            }
        }
        return commands
    }

    /// Every answer a server gets when `input` arrives in pieces of `chunk` bytes: the commands, then the
    /// error or `.needMore` it stopped at. Commands are compared by their argument bytes.
    static func answers(_ input: [UInt8], limits: RESPLimits, chunk: Int) -> [RESPParseResult] {
        var parser = RESPParser(limits: limits)
        var results: [RESPParseResult] = []
        var start = 0, received = 0
        while received < input.count {
            received = min(received + chunk, input.count)
            while true {
                let unconsumed = input[start..<received]
                let result = parser.parse(unconsumed)
                guard case .command(let arguments, let consumed) = result else {
                    if case .error = result { return results + [result] }
                    break
                }
                precondition(consumed > 0 && consumed <= unconsumed.count, "RESP fuzz: consumed out of range")
                var copies: [ArraySlice<UInt8>] = []
                for argument in arguments {
                    let inside = argument.startIndex >= start && argument.endIndex <= start + consumed
                    precondition(inside || argument.startIndex == 0, "RESP fuzz: argument outside its command")
                    copies.append(ArraySlice(Array(argument)))      // compare bytes, not storage
                }
                results.append(.command(copies, consumed: consumed))
                start += consumed
            }
        }
        return results + [.needMore]
    }
}
