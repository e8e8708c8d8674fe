// Telnet: just enough of RFC 854 for a shell on a TCP port to work with a `telnet` client.
//
// The server offers to echo (WILL ECHO, RFC 857) and to suppress go-ahead (WILL SGA, RFC 858): a
// client that agrees switches to character-at-a-time input and stops echoing locally, which is what
// the line editor needs. Everything else is refused: a client's WILL x is answered DONT x and a DO x
// (other than ECHO and SGA) WONT x, once per request; answers to our own offers (DO ECHO, DO SGA) and
// refusals are taken silently, so negotiation cannot loop. Subnegotiations (IAC SB ... IAC SE) are
// dropped whole, IAC IAC is a data byte 0xFF, other commands (NOP, AYT, ...) are dropped. A client
// that speaks no telnet (netcat) never sends IAC, so its bytes pass unchanged; it sees the offer as
// six bytes of noise at the start.
// Output: "\n" becomes CR LF (the network virtual terminal's line end) and a data byte 0xFF is doubled.

public struct TelnetFilter {
    public static let iac: UInt8 = 255
    static let dont: UInt8 = 254, doOption: UInt8 = 253, wont: UInt8 = 252, will: UInt8 = 251
    static let subnegotiationBegin: UInt8 = 250, subnegotiationEnd: UInt8 = 240
    static let echo: UInt8 = 1, suppressGoAhead: UInt8 = 3

    /// What the server sends first: IAC WILL ECHO, IAC WILL SGA.
    public static let offer: [UInt8] = [iac, will, echo, iac, will, suppressGoAhead]

    enum State: Equatable {
        case data
        case command                  // after IAC
        case option(UInt8)            // after IAC WILL/WONT/DO/DONT: the verb
        case subnegotiation           // inside IAC SB ...
        case subnegotiationCommand    // IAC inside a subnegotiation
    }

    var state = State.data

    public init() {}

    /// The data byte `byte` stands for, or nil when it is part of a telnet command; appends to
    /// `reply` what must be answered.
    public mutating func filter(_ byte: UInt8, reply: inout [UInt8]) -> UInt8? {
        switch state {
        case .data:
            if byte == Self.iac { state = .command; return nil }
            return byte
        case .command:
            switch byte {
            case Self.iac: state = .data; return Self.iac
            case Self.will, Self.wont, Self.doOption, Self.dont: state = .option(byte)
            case Self.subnegotiationBegin: state = .subnegotiation
            default: state = .data
            }
            return nil
        case .option(let verb):
            state = .data
            if verb == Self.will {
                reply += [Self.iac, Self.dont, byte]
            } else if verb == Self.doOption && byte != Self.echo && byte != Self.suppressGoAhead {
                reply += [Self.iac, Self.wont, byte]
            }
            return nil
        case .subnegotiation:
            if byte == Self.iac { state = .subnegotiationCommand }
            return nil
        case .subnegotiationCommand:
            state = byte == Self.subnegotiationEnd ? .data : .subnegotiation
            return nil
        }
    }

    /// Shell output as the network virtual terminal wants it: CR LF line ends, 0xFF doubled.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out = Terminal.crlf(bytes)
        if out.contains(iac) {
            var doubled: [UInt8] = []
            for byte in out {
                doubled.append(byte)
                if byte == iac { doubled.append(iac) }
            }
            out = doubled
        }
        return out
    }
}

/// A shell session with a telnet client: the filter in front of the session, NVT encoding behind it.
public struct TelnetSession {
    public var shell: ShellSession
    var filter = TelnetFilter()

    public init(prompt: String = "> ") {
        shell = ShellSession(prompt: prompt)
    }

    /// What to send first: the option offer, `greeting` (a line) and the prompt.
    public func start(greeting: String) -> [UInt8] {
        var text = Array(greeting.utf8)
        text.append(UInt8(ascii: "\n"))
        shell.start(into: &text)
        return TelnetFilter.offer + TelnetFilter.encode(text)
    }

    /// Handles bytes from the client: returns what to send back (option answers, echo, command
    /// output, the prompt) and the request of a command, if one asked to end something (the bytes
    /// after it are dropped).
    @inline(never)
    public mutating func receive(_ bytes: ArraySlice<UInt8>,
                                 run: (String) -> CommandInvocation) -> (send: [UInt8], request: SessionRequest?) {
        var reply: [UInt8] = []
        var text: [UInt8] = []
        for byte in bytes {
            guard let data = filter.filter(byte, reply: &reply) else { continue }
            if let request = shell.feed(data, into: &text, run: run) {
                return (reply + TelnetFilter.encode(text), request)
            }
        }
        return (reply + TelnetFilter.encode(text), nil)
    }
}
