// CommandTable: a shell's commands by name, and running one line against them.
//
// A line is split into words at spaces and tabs. Quotes are optional: '...' keeps everything
// inside as it is, "..." too except that a backslash escapes the next character, and a backslash
// outside quotes escapes the next character (so `echo "a b"`, `echo 'a b'` and `echo a\ b` all pass
// one word "a b"). An unterminated quote is an error, reported like any other output.
//
// The first word names the command. Commands are registered with a one-line summary, which `help`
// lists in name order (`help NAME` shows one); registering a name again replaces the command, so a
// library can override a default (the shell's own `net` says "no network" until the network
// library registers the real one). `help` is built in. An unknown name is answered
// "unknown command 'x'; type 'help' for the list".
//
// A command writes its output into the `CommandInvocation` it is given, as text with "\n" line
// ends; the session sends it (converting line ends for its device) once the command returns, and
// then acts on the invocation's `request` (end the session, halt the image). Names are compared as
// bytes: command names are ASCII.

/// What a command asks of the session that ran it, after its output is sent.
public enum SessionRequest: Equatable {
    /// Close this session (a TCP connection); the serial console stays.
    case endSession
    /// End the image with this exit code.
    case halt(Int32)
}

/// One run of a command: its words, and what it writes and asks for.
public struct CommandInvocation {
    /// The words of the line; `words[0]` is the command's name.
    public let words: [String]
    /// Text to send, "\n" for line ends.
    public var output: [UInt8] = []
    public var request: SessionRequest? = nil

    public init(words: [String]) {
        self.words = words
    }

    public var name: String { words.first ?? "" }
    /// The words after the name.
    public var arguments: ArraySlice<String> { words.dropFirst() }

    public mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { output += $0 }
    }

    public mutating func write(_ bytes: [UInt8]) { output += bytes }

    public mutating func write(_ value: Int) { appendDecimal(value, to: &output) }

    /// `text` and a line end.
    public mutating func line(_ text: String = "") {
        write(text)
        output.append(UInt8(ascii: "\n"))
    }

    /// `text` padded with spaces to `width` columns (ASCII), left-aligned; right-aligned when `right`.
    public mutating func column(_ text: String, width: Int, right: Bool = false) {
        let padding = max(width - text.utf8.count, 0)
        if right { for _ in 0..<padding { output.append(UInt8(ascii: " ")) } }
        write(text)
        if !right { for _ in 0..<padding { output.append(UInt8(ascii: " ")) } }
    }

    public mutating func column(_ value: Int, width: Int) {
        var digits: [UInt8] = []
        appendDecimal(value, to: &digits)
        for _ in 0..<max(width - digits.count, 0) { output.append(UInt8(ascii: " ")) }
        output += digits
    }
}

/// A command's code. It runs in the session's thread and may block briefly (take a mutex); it must
/// not keep the session waiting for long, since the session reads no input meanwhile.
public typealias CommandHandler = (inout CommandInvocation) -> Void

public struct CommandTable {
    public struct Command {
        public let name: String
        public let summary: String
        /// nil for the built-in `help`.
        let handler: CommandHandler?
        /// The name's bytes, for lookups (cheaper than comparing Strings in an embedded image).
        let key: [UInt8]

        init(name: String, summary: String, handler: CommandHandler?) {
            self.name = name
            self.summary = summary
            self.handler = handler
            key = Array(name.utf8)
        }
    }

    /// In name order, `help` included.
    public private(set) var commands: [Command] = [Command(name: "help", summary: "list the commands, or describe one: help [NAME]", handler: nil)]

    public init() {}

    /// Adds a command, or replaces the one of the same name (`help` included).
    public mutating func register(_ name: String, summary: String, _ handler: @escaping CommandHandler) {
        let command = Command(name: name, summary: summary, handler: handler)
        if let index = index(of: name) {
            commands[index] = command
        } else {
            let position = commands.firstIndex { command.key.lexicographicallyPrecedes($0.key) } ?? commands.count
            commands.insert(command, at: position)
        }
    }

    /// Removes a command; false if there was none of that name.
    @discardableResult
    public mutating func remove(_ name: String) -> Bool {
        guard let index = index(of: name) else { return false }
        commands.remove(at: index)
        return true
    }

    public func contains(_ name: String) -> Bool { index(of: name) != nil }

    /// Splits `line` into words and runs the command they name. An empty line runs nothing and
    /// writes nothing.
    public func run(_ line: String) -> CommandInvocation {
        let words: [String]
        do throws(WordSplitError) {
            words = try splitWords(line)
        } catch {
            var invocation = CommandInvocation(words: [])
            invocation.line(error.message)
            return invocation
        }
        var invocation = CommandInvocation(words: words)
        guard let name = words.first else { return invocation }
        guard let index = index(of: name) else {
            unknown(name, &invocation)
            return invocation
        }
        if let handler = commands[index].handler {
            handler(&invocation)
        } else {
            help(&invocation)
        }
        return invocation
    }

    func help(_ invocation: inout CommandInvocation) {
        if let wanted = invocation.arguments.first {
            guard let index = index(of: wanted) else {
                unknown(wanted, &invocation)
                return
            }
            invocation.write(commands[index].name)
            invocation.write(": ")
            invocation.line(commands[index].summary)
            return
        }
        let width = commands.reduce(0) { max($0, $1.name.utf8.count) } + 2
        invocation.line("commands:")
        for command in commands {
            invocation.write("  ")
            invocation.column(command.name, width: width)
            invocation.line(command.summary)
        }
    }

    func unknown(_ name: String, _ invocation: inout CommandInvocation) {
        invocation.write("unknown command '")
        invocation.write(name)
        invocation.line("'; type 'help' for the list")
    }

    func index(of name: String) -> Int? {
        let key = Array(name.utf8)
        return commands.firstIndex { $0.key == key }
    }
}

public struct WordSplitError: Error, Equatable {
    public let message: String
}

/// The words of a shell line (see the file's comment for quoting).
public func splitWords(_ line: String) throws(WordSplitError) -> [String] {
    var words: [String] = []
    var word: [UInt8] = []
    var inWord = false
    var quote: UInt8? = nil
    var escaped = false
    for byte in line.utf8 {
        if escaped {
            word.append(byte)
            escaped = false
            continue
        }
        if let open = quote {
            if byte == open {
                quote = nil
            } else if byte == UInt8(ascii: "\\") && open == UInt8(ascii: "\"") {
                escaped = true
            } else {
                word.append(byte)
            }
            continue
        }
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"):
            if inWord { words.append(String(decoding: word, as: UTF8.self)) }
            word = []
            inWord = false
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            quote = byte
            inWord = true
        case UInt8(ascii: "\\"):
            escaped = true
            inWord = true
        default:
            word.append(byte)
            inWord = true
        }
    }
    if quote != nil { throw WordSplitError(message: "unterminated quote") }
    if escaped { throw WordSplitError(message: "a backslash at the end of the line escapes nothing") }
    if inWord { words.append(String(decoding: word, as: UTF8.self)) }
    return words
}
