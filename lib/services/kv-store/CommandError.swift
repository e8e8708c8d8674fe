// Error replies, worded exactly as Redis 7.0 words them (each was checked against redis-server 7.0.15),
// and the byte helpers the commands share.
//
// Command handlers validate everything before they change anything or write a reply, and report a refusal
// by throwing a `CommandError`; `KVStore.execute` writes it. An error reply counts as a failed call in the
// statistics (Redis: failed_calls, total_error_replies).

import RESP

enum CommandError: Error {
    case wrongType
    case syntax
    case notInteger
    case notFloat
    case notPositive
    case overflow
    case decrementOverflow
    case notANumberResult
    /// "ERR invalid expire time in '<command>' command".
    case invalidExpireTime(StaticString)
    /// "ERR wrong number of arguments for '<command>' command" (subcommands as 'config|get').
    case wrongArity(StaticString)
    /// "ERR unknown subcommand '<sub>'. Try <COMMAND> HELP."
    case unknownSubcommand(ArraySlice<UInt8>, command: ArraySlice<UInt8>)
    /// A fixed message, without the '-'.
    case message(StaticString)
    /// A composed message, without the '-'.
    case composed([UInt8])

    func write(into reply: inout [UInt8]) {
        switch self {
        case .wrongType: RESPReply.error("WRONGTYPE Operation against a key holding the wrong kind of value", into: &reply)
        case .syntax: RESPReply.error("ERR syntax error", into: &reply)
        case .notInteger: RESPReply.error("ERR value is not an integer or out of range", into: &reply)
        case .notFloat: RESPReply.error("ERR value is not a valid float", into: &reply)
        case .notPositive: RESPReply.error("ERR value is out of range, must be positive", into: &reply)
        case .overflow: RESPReply.error("ERR increment or decrement would overflow", into: &reply)
        case .decrementOverflow: RESPReply.error("ERR decrement would overflow", into: &reply)
        case .notANumberResult: RESPReply.error("ERR resulting score is not a number (NaN)", into: &reply)
        case .invalidExpireTime(let command):
            var text: [UInt8] = []
            text.appendStatic("ERR invalid expire time in '")
            text.appendStatic(command)
            text.appendStatic("' command")
            RESPReply.error(text, into: &reply)
        case .wrongArity(let command):
            var text: [UInt8] = []
            text.appendStatic("ERR wrong number of arguments for '")
            text.appendStatic(command)
            text.appendStatic("' command")
            RESPReply.error(text, into: &reply)
        case .unknownSubcommand(let subcommand, let command):
            var text: [UInt8] = []
            text.appendStatic("ERR unknown subcommand '")
            text.appendCString(subcommand, limit: 128)
            text.appendStatic("'. Try ")
            for byte in command { text.append(ASCIIBytes.uppercased(byte)) }
            text.appendStatic(" HELP.")
            RESPReply.error(text, into: &reply)
        case .message(let text): RESPReply.error(text, into: &reply)
        case .composed(let text): RESPReply.error(text, into: &reply)
        }
    }

    /// "ERR unknown command 'NAME', with args beginning with: 'a' 'b' ": the name and the arguments as
    /// Redis prints them (C strings, so each stops at a NUL; the name to 128 bytes, and arguments are
    /// added, each cut to fit, while the list is under 128 bytes).
    static func unknownCommand(_ arguments: [ArraySlice<UInt8>]) -> CommandError {
        var list: [UInt8] = []
        for argument in arguments.dropFirst() {
            guard list.count < 128 else { break }
            list.append(ASCIIBytes.quote)
            list.appendCString(argument, limit: 128 - list.count + 1)
            list.append(ASCIIBytes.quote)
            list.append(ASCIIBytes.space)
        }
        var text: [UInt8] = []
        text.appendStatic("ERR unknown command '")
        text.appendCString(arguments[0], limit: 128)
        text.appendStatic("', with args beginning with: ")
        text.append(contentsOf: list)
        return .composed(text)
    }
}

enum ASCIIBytes {
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x27
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let equals: UInt8 = 0x3D
    static let carriageReturn: UInt8 = 0x0D
    static let lineFeed: UInt8 = 0x0A

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
    }

    /// Whether `bytes` spell `text` in any letter case (`text` is lowercase ASCII).
    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        return text.withUTF8Buffer { expected in
            var index = 0
            for byte in bytes {
                if lowercased(byte) != expected[index] { return false }
                index += 1
            }
            return true
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendStatic(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        }
    }

    mutating func appendDecimal(_ value: Int) { appendDecimal(Int64(value)) }

    /// `bytes` as C's "%.*s" prints them: up to the first NUL, at most `limit` bytes.
    mutating func appendCString(_ bytes: ArraySlice<UInt8>, limit: Int) {
        var written = 0
        for byte in bytes {
            if byte == 0 || written >= limit { return }
            append(byte)
            written += 1
        }
    }
}
