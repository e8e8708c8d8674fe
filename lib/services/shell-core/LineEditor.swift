// LineEditor: one input line at a terminal, edited key by key, with the bytes to echo back.
//
// The editor is fed the bytes a terminal sends, one at a time, and appends to `echo` what the
// terminal must be sent so that its screen shows the line being edited (the terminal does not echo
// by itself: a serial console never does, and a telnet client is told not to). It knows nothing of
// devices, so the same code serves the serial console and TCP sessions, and host tests check the
// exact bytes.
//
// Keys (VT100/xterm sequences; ESC is 0x1B, CSI is ESC [, SS3 is ESC O):
//   printable ASCII 0x20-0x7E   inserted at the cursor (bell, 0x07, when the line is full)
//   Backspace 0x7F or 0x08      deletes before the cursor (bell at the start of the line)
//   Delete CSI 3 ~              deletes at the cursor; Ctrl-D (0x04) too, or ends input on an empty line
//   Ctrl-A, Home (CSI H, CSI 1 ~, CSI 7 ~, SS3 H)   cursor to the start
//   Ctrl-E, End (CSI F, CSI 4 ~, CSI 8 ~, SS3 F)    cursor to the end
//   Left CSI D / SS3 D / Ctrl-B, Right CSI C / SS3 C / Ctrl-F   one character (nothing at the ends)
//   Up CSI A / SS3 A / Ctrl-P, Down CSI B / SS3 B / Ctrl-N      history (bell past either end)
//   Ctrl-U kills the whole line, Ctrl-K from the cursor to the end
//   Ctrl-C cancels the line (echoes ^C), Ctrl-L clears the screen and redraws prompt and line
//   CR, LF or CR LF             Enter, once (the LF after a CR is dropped; so is the NUL of telnet's CR NUL)
// Anything else is ignored: other control bytes, bytes >= 0x80 (the editor is ASCII-only, so that a
// byte is a column), and every other escape sequence, consumed whole (CSI up to its final byte
// 0x40-0x7E, whatever its parameters; SS3 and one byte; ESC and one byte for Alt-key combinations).
//
// Echo uses BS (0x08) and CSI n D to move the cursor left, CSI n C to move it right, CSI K to clear to the end of the line,
// CSI H CSI 2J to clear the screen, and "\n" for a new line: the transport turns "\n" into its
// device's line ending (the serial console and the TCP session both send CR LF).

public struct LineEditor {
    public enum Event: Equatable {
        /// Enter: the line (without its line ending; possibly empty).
        case line(String)
        /// Ctrl-C: the line was dropped.
        case cancelled
        /// Ctrl-D on an empty line: the user is done (a TCP session ends).
        case endOfInput
    }

    /// Written before the line by `redraw` (Ctrl-L); the session writes it after each Enter.
    public var prompt: [UInt8]
    /// Characters a line holds at most.
    public let maximumLength: Int
    public private(set) var line: [UInt8] = []
    /// 0 ... line.count: the column in the line before which the next character is inserted.
    public private(set) var cursor = 0
    public private(set) var history: History

    var escape = EscapeState.none
    var afterCarriageReturn = false
    /// nil while editing a new line; else how far back in the history the shown line is.
    var recalled: Int? = nil
    /// The new line, kept while the user browses the history.
    var draft: [UInt8] = []

    public init(prompt: String = "> ", maximumLength: Int = 200, historyCapacity: Int = 16) {
        self.prompt = Array(prompt.utf8)
        self.maximumLength = max(maximumLength, 1)
        self.history = History(capacity: historyCapacity)
    }

    /// The line as text.
    public var text: String { String(decoding: line, as: UTF8.self) }

    /// Handles one byte from the terminal: appends the bytes to echo to `echo`, and returns an event
    /// when the line ended (Enter, Ctrl-C, Ctrl-D on an empty line).
    public mutating func feed(_ byte: UInt8, echo: inout [UInt8]) -> Event? {
        let wasAfterCarriageReturn = afterCarriageReturn
        afterCarriageReturn = false
        guard let key = decode(byte, afterCarriageReturn: wasAfterCarriageReturn) else { return nil }
        switch key {
        case .character(let character): insert(character, echo: &echo)
        case .enter: return enter(echo: &echo)
        case .backspace: backspace(echo: &echo)
        case .delete: delete(echo: &echo)
        case .endOfInputOrDelete:
            if line.isEmpty { return .endOfInput }
            delete(echo: &echo)
        case .home: moveTo(0, echo: &echo)
        case .end: moveTo(line.count, echo: &echo)
        case .left: if cursor > 0 { moveTo(cursor - 1, echo: &echo) }
        case .right: if cursor < line.count { moveTo(cursor + 1, echo: &echo) }
        case .up: recall(older: true, echo: &echo)
        case .down: recall(older: false, echo: &echo)
        case .killLine: replaceLine(with: [], echo: &echo)
        case .killToEnd:
            line.removeSubrange(cursor...)
            Terminal.clearToEnd(&echo)
        case .cancel:
            echo += [UInt8(ascii: "^"), UInt8(ascii: "C"), UInt8(ascii: "\n")]
            reset()
            return .cancelled
        case .redraw:
            Terminal.clearScreen(&echo)
            redraw(into: &echo)
        }
        return nil
    }

    /// Writes the prompt and the line, and puts the cursor back where it is in the line: after a
    /// screen clear, or to show the line again below output that interrupted it.
    public func redraw(into echo: inout [UInt8]) {
        echo += prompt
        echo += line
        Terminal.left(line.count - cursor, &echo)
    }

    /// Forgets the line being edited (not the history).
    public mutating func reset() {
        line = []
        cursor = 0
        recalled = nil
        draft = []
        escape = .none
    }

    // MARK: Editing

    mutating func insert(_ character: UInt8, echo: inout [UInt8]) {
        guard line.count < maximumLength else {
            echo.append(Terminal.bell)
            return
        }
        line.insert(character, at: cursor)
        cursor += 1
        echo.append(character)
        let tail = line.count - cursor
        if tail > 0 {
            echo += line[cursor...]
            Terminal.left(tail, &echo)
        }
    }

    mutating func backspace(echo: inout [UInt8]) {
        guard cursor > 0 else {
            echo.append(Terminal.bell)
            return
        }
        cursor -= 1
        line.remove(at: cursor)
        echo.append(Terminal.backspace)
        redrawTail(erasing: 1, echo: &echo)
    }

    mutating func delete(echo: inout [UInt8]) {
        guard cursor < line.count else { return }
        line.remove(at: cursor)
        redrawTail(erasing: 1, echo: &echo)
    }

    /// After removing `erased` characters at the cursor: rewrites the rest of the line, blanks the
    /// columns it no longer covers and moves back to the cursor.
    func redrawTail(erasing erased: Int, echo: inout [UInt8]) {
        echo += line[cursor...]
        for _ in 0..<erased { echo.append(UInt8(ascii: " ")) }
        Terminal.left(line.count - cursor + erased, &echo)
    }

    mutating func moveTo(_ column: Int, echo: inout [UInt8]) {
        if column < cursor { Terminal.left(cursor - column, &echo) }
        if column > cursor { Terminal.right(column - cursor, &echo) }
        cursor = column
    }

    /// Shows `text` instead of the line, with the cursor at its end.
    mutating func replaceLine(with text: [UInt8], echo: inout [UInt8]) {
        Terminal.left(cursor, &echo)
        echo += text
        Terminal.clearToEnd(&echo)
        line = text
        cursor = text.count
    }

    mutating func recall(older: Bool, echo: inout [UInt8]) {
        let target: Int?
        if older {
            target = (recalled ?? -1) + 1
            guard target! < history.count else {
                echo.append(Terminal.bell)
                return
            }
        } else {
            guard let current = recalled else {
                echo.append(Terminal.bell)
                return
            }
            target = current == 0 ? nil : current - 1
        }
        if recalled == nil { draft = line }
        recalled = target
        replaceLine(with: target.flatMap { history.line(back: $0) } ?? draft, echo: &echo)
    }

    mutating func enter(echo: inout [UInt8]) -> Event {
        echo.append(UInt8(ascii: "\n"))
        let entered = line
        history.add(entered)
        reset()
        return .line(String(decoding: entered, as: UTF8.self))
    }

    // MARK: Decoding bytes into keys

    enum Key: Equatable {
        case character(UInt8)
        case enter, backspace, delete, endOfInputOrDelete
        case home, end, left, right, up, down
        case killLine, killToEnd, cancel, redraw
    }

    enum EscapeState: Equatable {
        case none
        /// ESC seen.
        case escape
        /// CSI seen; its first numeric parameter so far (saturating), for the `~` keys, and whether
        /// anything followed that parameter (modifiers such as the ";5" of Ctrl-arrows are ignored).
        case csi(parameter: Int, more: Bool)
        /// SS3 seen.
        case ss3
    }

    mutating func decode(_ byte: UInt8, afterCarriageReturn: Bool) -> Key? {
        switch escape {
        case .none:
            break
        case .escape:
            switch byte {
            case UInt8(ascii: "["): escape = .csi(parameter: 0, more: false)
            case UInt8(ascii: "O"): escape = .ss3
            case 0x1B: escape = .escape
            default: escape = .none                 // ESC x (Alt-x): ignored
            }
            return nil
        case .csi(let parameter, let more):
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if !more { escape = .csi(parameter: min(parameter * 10 + Int(byte - UInt8(ascii: "0")), 9999), more: false) }
                return nil
            case 0x20...0x3F:                       // other parameters (";5" of Ctrl-arrows), intermediates
                escape = .csi(parameter: parameter, more: true)
                return nil
            case 0x40...0x7E:                       // the final byte
                escape = .none
                return csiKey(final: byte, parameter: parameter)
            default:                                // not part of a sequence: drop the sequence
                escape = .none
                return nil
            }
        case .ss3:
            escape = .none
            return ss3Key(byte)
        }
        switch byte {
        case 0x1B: escape = .escape; return nil
        case 0x0D: self.afterCarriageReturn = true; return .enter
        case 0x0A: return afterCarriageReturn ? nil : .enter
        case 0x00:                                  // telnet sends CR NUL for a bare CR
            self.afterCarriageReturn = afterCarriageReturn
            return nil
        case 0x7F, 0x08: return .backspace
        case 0x01: return .home
        case 0x05: return .end
        case 0x02: return .left
        case 0x06: return .right
        case 0x10: return .up
        case 0x0E: return .down
        case 0x15: return .killLine
        case 0x0B: return .killToEnd
        case 0x03: return .cancel
        case 0x0C: return .redraw
        case 0x04: return .endOfInputOrDelete
        case 0x20...0x7E: return .character(byte)
        default: return nil
        }
    }

    /// ESC [ final: the letters mean what they mean after ESC O (`ss3Key`); `~` takes a parameter.
    func csiKey(final: UInt8, parameter: Int) -> Key? {
        switch final {
        case UInt8(ascii: "~"):
            switch parameter {
            case 1, 7: return .home
            case 4, 8: return .end
            case 3: return .delete
            default: return nil
            }
        default: return ss3Key(final)
        }
    }

    func ss3Key(_ byte: UInt8) -> Key? {
        switch byte {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return .right
        case UInt8(ascii: "D"): return .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        default: return nil
        }
    }
}

/// The terminal control bytes the editor writes.
public enum Terminal {
    public static let bell: UInt8 = 0x07
    public static let backspace: UInt8 = 0x08

    /// The cursor `count` columns left: BS for one, CSI n D for more, nothing for 0.
    static func left(_ count: Int, _ out: inout [UInt8]) {
        if count == 1 { out.append(backspace) } else { move(count, UInt8(ascii: "D"), &out) }
    }
    /// CSI n C: the cursor `count` columns right (nothing for 0).
    static func right(_ count: Int, _ out: inout [UInt8]) { move(count, UInt8(ascii: "C"), &out) }

    static func move(_ count: Int, _ final: UInt8, _ out: inout [UInt8]) {
        guard count > 0 else { return }
        out += [0x1B, UInt8(ascii: "[")]
        appendDecimal(count, to: &out)
        out.append(final)
    }

    /// CSI K: clears from the cursor to the end of the line.
    static func clearToEnd(_ out: inout [UInt8]) { out += [0x1B, UInt8(ascii: "["), UInt8(ascii: "K")] }

    /// CSI H CSI 2 J: cursor home, screen cleared.
    static func clearScreen(_ out: inout [UInt8]) {
        out += [0x1B, UInt8(ascii: "["), UInt8(ascii: "H"), 0x1B, UInt8(ascii: "["), UInt8(ascii: "2"), UInt8(ascii: "J")]
    }

    /// Copies `bytes` with each "\n" turned into CR LF (and a CR LF left as it is), for devices and
    /// protocols that want CR LF (telnet's network virtual terminal).
    public static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16 + 2)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "\n") && previous != UInt8(ascii: "\r") { out.append(UInt8(ascii: "\r")) }
            out.append(byte)
            previous = byte
        }
        return out
    }
}

/// Appends `value` in decimal (a leading "-" when negative), without building a String.
public func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDecimal(UInt64(value.magnitude), to: &out)
}

public func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    let start = out.count
    var rest = value
    repeat {
        out.append(UInt8(ascii: "0") + UInt8(rest % 10))
        rest /= 10
    } while rest != 0
    out[start...].reverse()
}
