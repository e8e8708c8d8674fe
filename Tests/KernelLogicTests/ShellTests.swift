// Tests of the shell's pure logic: the line editor's exact echo for each key, history, line endings
// and escape sequences; word splitting; the command table (dispatch, help, unknown commands,
// replacement); a whole session; the console-output ring; telnet option filtering; formatting.

import Testing
import ShellCore

/// Feeds `input` to `editor`; returns the echo and the events, in order.
private func type(_ input: [UInt8], into editor: inout LineEditor) -> (echo: [UInt8], events: [LineEditor.Event]) {
    var echo: [UInt8] = []
    var events: [LineEditor.Event] = []
    for byte in input {
        if let event = editor.feed(byte, echo: &echo) { events.append(event) }
    }
    return (echo, events)
}

private func type(_ input: String, into editor: inout LineEditor) -> (echo: [UInt8], events: [LineEditor.Event]) {
    type(Array(input.utf8), into: &editor)
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private let esc = "\u{1B}"
private let left = "\u{1B}[D", right = "\u{1B}[C", up = "\u{1B}[A", down = "\u{1B}[B"

@Suite struct LineEditorTests {
    @Test func printableCharactersAreInsertedAndEchoed() {
        var editor = LineEditor()
        let (echo, events) = type("ls -l", into: &editor)
        #expect(echo == bytes("ls -l"))
        #expect(events.isEmpty)
        #expect(editor.text == "ls -l")
        #expect(editor.cursor == 5)
    }

    @Test func enterByCarriageReturnLineFeedOrBothIsOneLine() {
        for ending in ["\r", "\n", "\r\n", "\r\u{0}"] {
            var editor = LineEditor()
            let (echo, events) = type("a" + ending + "b" + ending, into: &editor)
            #expect(echo == bytes("a\nb\n"), "ending \(Array(ending.utf8))")
            #expect(events == [.line("a"), .line("b")])
        }
        var editor = LineEditor()
        // CR CR is two Enters; LF LF too; only the LF right after a CR is swallowed.
        #expect(type("\r\r\n\n", into: &editor).events == [.line(""), .line(""), .line("")])
    }

    @Test func backspaceAtTheEndErasesTheLastCharacter() {
        var editor = LineEditor()
        _ = type("abc", into: &editor)
        #expect(type([0x7F], into: &editor).echo == [0x08, 0x20, 0x08])
        #expect(type([0x08], into: &editor).echo == [0x08, 0x20, 0x08])
        #expect(editor.text == "a")
    }

    @Test func backspaceAtTheStartRingsTheBell() {
        var editor = LineEditor()
        #expect(type([0x7F], into: &editor).echo == [0x07])
        _ = type("ab\u{1}", into: &editor)                       // Ctrl-A: start
        #expect(type([0x7F], into: &editor).echo == [0x07])
        #expect(editor.text == "ab")
    }

    @Test func insertingInTheMiddleRewritesTheTail() {
        var editor = LineEditor()
        _ = type("acd" + left + left, into: &editor)
        #expect(editor.cursor == 1)
        #expect(type("b", into: &editor).echo == bytes("bcd" + esc + "[2D"))
        #expect(editor.text == "abcd")
        #expect(editor.cursor == 2)
    }

    @Test func backspaceInTheMiddleShiftsTheTailLeft() {
        var editor = LineEditor()
        _ = type("abXcd" + left + left, into: &editor)
        #expect(type([0x7F], into: &editor).echo == bytes("\u{8}cd " + esc + "[3D"))
        #expect(editor.text == "abcd")
        #expect(editor.cursor == 2)
    }

    @Test func deleteRemovesTheCharacterAtTheCursor() {
        var editor = LineEditor()
        _ = type("abXcd" + left + left + left, into: &editor)
        #expect(type(esc + "[3~", into: &editor).echo == bytes("cd " + esc + "[3D"))
        #expect(editor.text == "abcd")
        // At the end of the line, Delete does nothing.
        _ = type("\u{5}", into: &editor)
        #expect(type(esc + "[3~", into: &editor).echo.isEmpty)
        #expect(editor.text == "abcd")
    }

    @Test func ctrlDDeletesOrEndsInputOnAnEmptyLine() {
        var editor = LineEditor()
        _ = type("ab" + left, into: &editor)
        #expect(type("\u{4}", into: &editor) == (bytes(" \u{8}"), []))
        #expect(editor.text == "a")
        var empty = LineEditor()
        #expect(type("\u{4}", into: &empty).events == [.endOfInput])
    }

    @Test func homeAndEndKeysMoveToTheEnds() {
        for (home, end) in [("\u{1}", "\u{5}"), (esc + "[H", esc + "[F"), (esc + "[1~", esc + "[4~"),
                            (esc + "[7~", esc + "[8~"), (esc + "OH", esc + "OF")] {
            var editor = LineEditor()
            _ = type("hello", into: &editor)
            #expect(type(home, into: &editor).echo == bytes(esc + "[5D"))
            #expect(editor.cursor == 0)
            #expect(type(home, into: &editor).echo.isEmpty)      // already there
            #expect(type(end, into: &editor).echo == bytes(esc + "[5C"))
            #expect(editor.cursor == 5)
        }
    }

    @Test func arrowsMoveOneColumnAndStopAtTheEnds() {
        var editor = LineEditor()
        _ = type("ab", into: &editor)
        #expect(type(right, into: &editor).echo.isEmpty)
        #expect(type(left, into: &editor).echo == [0x08])
        #expect(type(esc + "OD", into: &editor).echo == [0x08])
        #expect(type("\u{2}", into: &editor).echo.isEmpty)        // Ctrl-B at the start: nothing
        #expect(editor.cursor == 0)
        #expect(type("\u{6}", into: &editor).echo == bytes(esc + "[1C"))
        #expect(type(esc + "[1;5C", into: &editor).echo == bytes(esc + "[1C"))   // Ctrl-Right: a plain Right
        #expect(editor.cursor == 2)
    }

    @Test func ctrlUKillsTheLineAndCtrlKTheTail() {
        var editor = LineEditor()
        _ = type("hello world" + left + left, into: &editor)
        #expect(type("\u{15}", into: &editor).echo == bytes(esc + "[9D" + esc + "[K"))
        #expect(editor.text == "")
        #expect(editor.cursor == 0)
        _ = type("hello world\u{1}" + right + right, into: &editor)
        #expect(type("\u{B}", into: &editor).echo == bytes(esc + "[K"))
        #expect(editor.text == "he")
    }

    @Test func ctrlCCancelsTheLine() {
        var editor = LineEditor()
        let (echo, events) = type("rm -rf\u{3}", into: &editor)
        #expect(echo == bytes("rm -rf^C\n"))
        #expect(events == [.cancelled])
        #expect(editor.text == "")
        #expect(editor.history.count == 0)
        #expect(type("ok\r", into: &editor).events == [.line("ok")])
    }

    @Test func ctrlLClearsTheScreenAndRedrawsPromptLineAndCursor() {
        var editor = LineEditor(prompt: "tessera> ")
        _ = type("uptime" + left + left, into: &editor)
        #expect(type("\u{C}", into: &editor).echo == bytes(esc + "[H" + esc + "[2Jtessera> uptime" + esc + "[2D"))
    }

    @Test func aFullLineRingsTheBellAndKeepsItsText() {
        var editor = LineEditor(maximumLength: 4)
        let (echo, _) = type("abcdef", into: &editor)
        #expect(echo == bytes("abcd") + [0x07, 0x07])
        #expect(editor.text == "abcd")
        #expect(type("\r", into: &editor).events == [.line("abcd")])
    }

    @Test func unknownEscapeSequencesAndControlBytesAreIgnoredWhole() {
        var editor = LineEditor()
        // F5 (CSI 15 ~), a mouse report-like CSI with intermediates, F1 (SS3 P), Alt-x, Tab, Ctrl-G,
        // a UTF-8 "é", and a CSI cut short by a control byte.
        let input = "a" + esc + "[15~" + esc + "[?25h" + esc + "OP" + esc + "x" + "\t\u{7}" + "é" + esc + "[1\u{1}b"
        let (echo, events) = type(input, into: &editor)
        #expect(events.isEmpty)
        #expect(editor.text == "ab")
        #expect(echo == bytes("ab"))
    }

    @Test func historyRecallsOlderAndNewerLines() {
        var editor = LineEditor(prompt: "> ")
        _ = type("one\rtwo\rthree\r", into: &editor)
        _ = type("dra", into: &editor)
        // Up: the cursor goes to the start of the line, the recalled line is written, the rest cleared.
        #expect(type(up, into: &editor).echo == bytes(esc + "[3D" + "three" + esc + "[K"))
        #expect(type(up, into: &editor).echo == bytes(esc + "[5D" + "two" + esc + "[K"))
        #expect(type(esc + "OA", into: &editor).echo == bytes(esc + "[3D" + "one" + esc + "[K"))
        #expect(type(up, into: &editor).echo == [0x07])              // no older line
        #expect(type(down, into: &editor).echo == bytes(esc + "[3D" + "two" + esc + "[K"))
        #expect(type("\u{E}", into: &editor).echo == bytes(esc + "[3D" + "three" + esc + "[K"))
        #expect(type(down, into: &editor).echo == bytes(esc + "[5D" + "dra" + esc + "[K"))   // the draft again
        #expect(type(down, into: &editor).echo == [0x07])
        #expect(editor.text == "dra")
    }

    @Test func aRecalledLineCanBeEditedAndEntered() {
        var editor = LineEditor()
        _ = type("uptime\r", into: &editor)
        let (_, events) = type(up + "\u{7F}\u{7F}me\r", into: &editor)
        #expect(events == [.line("uptime")])
        #expect(editor.history.entries == [bytes("uptime")])       // the same line is not added twice
    }

    @Test func historyKeepsTheNewestSixteenLinesWithoutEmptyOrRepeatedOnes() {
        var history = History(capacity: 16)
        for number in 0..<20 { history.add(bytes("cmd \(number)")) }
        history.add([])
        history.add(bytes("cmd 19"))
        #expect(history.count == 16)
        #expect(history.line(back: 0) == bytes("cmd 19"))
        #expect(history.line(back: 15) == bytes("cmd 4"))
        #expect(history.line(back: 16) == nil)
        var editor = LineEditor()
        for number in 0..<20 { _ = type("c\(number)\r", into: &editor) }
        #expect(editor.history.count == 16)
    }

    @Test func upWithNoHistoryRingsTheBell() {
        var editor = LineEditor()
        #expect(type(up, into: &editor).echo == [0x07])
        #expect(type(down, into: &editor).echo == [0x07])
    }
}

@Suite struct CommandTableTests {
    @Test func wordsSplitAtBlanksWithOptionalQuotes() throws {
        #expect(try splitWords("  threads   -v\tall ") == ["threads", "-v", "all"])
        #expect(try splitWords("echo 'a b' \"c \\\" d\" e\\ f g''h") == ["echo", "a b", "c \" d", "e f", "gh"])
        #expect(try splitWords("say ''") == ["say", ""])
        #expect(try splitWords("") == [])
        #expect(throws: WordSplitError.self) { try splitWords("echo 'open") }
        #expect(throws: WordSplitError.self) { try splitWords("echo \\") }
    }

    @Test func aLineRunsTheCommandItNames() {
        var table = CommandTable()
        var seen: [String] = []
        table.register("echo", summary: "print the arguments") { invocation in
            seen = Array(invocation.arguments)
            invocation.line(invocation.arguments.joined(separator: " "))
        }
        let result = table.run("echo  hello 'big world'")
        #expect(seen == ["hello", "big world"])
        #expect(result.output == bytes("hello big world\n"))
        #expect(result.request == nil)
        #expect(table.run("   ").output.isEmpty)
    }

    @Test func unknownCommandsAreNamedWithAPointerToHelp() {
        let table = CommandTable()
        #expect(String(decoding: table.run("uptmie now").output, as: UTF8.self)
                == "unknown command 'uptmie'; type 'help' for the list\n")
        #expect(String(decoding: table.run("echo 'x").output, as: UTF8.self) == "unterminated quote\n")
    }

    @Test func helpListsTheCommandsInNameOrderWithTheirSummaries() {
        var table = CommandTable()
        table.register("uptime", summary: "time since boot") { _ in }
        table.register("halt", summary: "end the image") { _ in }
        table.register("mem", summary: "heap and pages") { _ in }
        let help = String(decoding: table.run("help").output, as: UTF8.self)
        #expect(help == """
            commands:
              halt    end the image
              help    list the commands, or describe one: help [NAME]
              mem     heap and pages
              uptime  time since boot

            """)
        #expect(String(decoding: table.run("help mem").output, as: UTF8.self) == "mem: heap and pages\n")
        #expect(String(decoding: table.run("help nope").output, as: UTF8.self)
                == "unknown command 'nope'; type 'help' for the list\n")
    }

    @Test func registeringANameAgainReplacesTheCommand() {
        var table = CommandTable()
        table.register("net", summary: "no network here") { $0.line("no network") }
        table.register("net", summary: "interface and TCP statistics") { $0.line("10.0.2.15") }
        #expect(table.commands.map(\.name) == ["help", "net"])
        #expect(table.run("net").output == bytes("10.0.2.15\n"))
        let removed = table.remove("net"), removedAgain = table.remove("net")
        #expect(removed && !removedAgain)
        #expect(!table.contains("net"))
    }

    @Test func commandsAskTheSessionToHaltOrEnd() {
        var table = CommandTable()
        table.register("halt", summary: "end the image") { invocation in
            invocation.line("halting")
            invocation.request = .halt(Int32(invocation.arguments.first.flatMap { Int($0) } ?? 0))
        }
        #expect(table.run("halt").request == .halt(0))
        #expect(table.run("halt 3").request == .halt(3))
    }

    @Test func invocationsWriteColumnsAndNumbers() {
        var invocation = CommandInvocation(words: ["x"])
        invocation.column("ab", width: 4)
        invocation.column("cd", width: 4, right: true)
        invocation.column(42, width: 5)
        invocation.write(-7)
        invocation.column("toolong", width: 3)
        #expect(invocation.output == bytes("ab    cd   42-7toolong"))
    }
}

@Suite struct ShellSessionTests {
    private func table() -> CommandTable {
        var table = CommandTable()
        table.register("uptime", summary: "time since boot") { $0.line("up 00:00:01.000") }
        table.register("exit", summary: "end this session") { $0.request = .endSession }
        table.register("halt", summary: "end the image") { invocation in
            invocation.write("halting")                            // no line end: the session adds one
            invocation.request = .halt(0)
        }
        return table
    }

    @Test func aSessionEchoesRunsAndPromptsAgain() {
        let commands = table()
        var session = ShellSession(prompt: "> ")
        var out: [UInt8] = []
        session.start(into: &out)
        for byte in bytes("uptime\r\n") { #expect(session.feed(byte, into: &out, run: commands.run) == nil) }
        for byte in bytes("typo\r") { _ = session.feed(byte, into: &out, run: commands.run) }
        for byte in bytes("x\u{3}") { _ = session.feed(byte, into: &out, run: commands.run) }
        #expect(String(decoding: out, as: UTF8.self)
                == "> uptime\nup 00:00:01.000\n> typo\nunknown command 'typo'; type 'help' for the list\n> x^C\n> ")
    }

    @Test func haltAndExitReturnTheirRequestAfterTheOutputWithoutAPrompt() {
        let commands = table()
        var session = ShellSession(prompt: "> ")
        var out: [UInt8] = []
        var requests: [SessionRequest] = []
        for byte in bytes("exit\rhalt\r") {
            if let request = session.feed(byte, into: &out, run: commands.run) { requests.append(request) }
        }
        #expect(requests == [.endSession, .halt(0)])
        #expect(String(decoding: out, as: UTF8.self) == "exit\nhalt\nhalting\n")
        #expect(session.feed(0x04, into: &out, run: commands.run) == .endSession)
    }
}

@Suite struct LogRingTests {
    private func ring(_ capacity: Int, _ text: String) -> (LogRing, UnsafeMutablePointer<UInt8>) {
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        var ring = LogRing(storage: storage, capacity: capacity)
        for byte in text.utf8 { ring.append(byte) }
        return (ring, storage)
    }

    @Test func theLastLinesComeBackOldestFirst() {
        let (ring, storage) = ring(64, "boot\nnet up\nready\n")
        defer { storage.deallocate() }
        #expect(ring.lastLines(2) == bytes("net up\nready\n"))
        #expect(ring.lastLines(1) == bytes("ready\n"))
        #expect(ring.lastLines(10) == bytes("boot\nnet up\nready\n"))
        #expect(ring.lastLines(0) == [])
    }

    @Test func aLineStillBeingWrittenCountsAsTheLast() {
        let (ring, storage) = ring(64, "one\ntwo\nthr")
        defer { storage.deallocate() }
        #expect(ring.lastLines(2) == bytes("two\nthr"))
    }

    @Test func aLineCutByTheRingIsLeftOut() {
        let (ring, storage) = ring(16, "first line\nsecond\nthird\n")   // 24 bytes through 16: "ne\n" is left
        defer { storage.deallocate() }
        #expect(ring.capacity == 16)
        #expect(ring.written == 24)
        #expect(ring.lastLines(10) == bytes("second\nthird\n"))
        #expect(ring.lastLines(1) == bytes("third\n"))
    }

    @Test func aRingWithoutMemoryRecordsNothing() {
        var ring = LogRing()
        ring.append(65)
        #expect(ring.written == 0)
        #expect(ring.lastLines(5) == [])
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: 100)
        defer { storage.deallocate() }
        #expect(LogRing(storage: storage, capacity: 100).capacity == 64)   // rounded down to a power of two
    }
}

@Suite struct TelnetTests {
    @Test func optionNegotiationIsFilteredOutAndRefused() {
        var filter = TelnetFilter()
        var reply: [UInt8] = []
        // DO ECHO, DO SGA (answers to our offer), WILL NAWS, DO TIMING-MARK, a terminal-type
        // subnegotiation, NOP, IAC IAC (a data 0xFF), then "a".
        let input: [UInt8] = [255, 253, 1, 255, 253, 3, 255, 251, 31, 255, 253, 6,
                              255, 250, 24, 0, 65, 66, 255, 240, 255, 241, 255, 255, 97]
        let data = input.compactMap { filter.filter($0, reply: &reply) }
        #expect(data == [255, 97])
        #expect(reply == [255, 254, 31, 255, 252, 6])
        #expect(TelnetFilter.offer == [255, 251, 1, 255, 251, 3])
    }

    @Test func aTelnetSessionAnswersOptionsEchoesAndRuns() {
        var table = CommandTable()
        table.register("uptime", summary: "time since boot") { $0.line("up 00:00:01.000") }
        table.register("halt", summary: "end the image") { $0.line("halting"); $0.request = .halt(0) }
        var session = TelnetSession(prompt: "> ")
        #expect(session.start(greeting: "hi") == [255, 251, 1, 255, 251, 3] + bytes("hi\r\n> "))
        // The client agrees (DO ECHO), offers NAWS (refused), types "uptime" with CR NUL.
        let (first, request) = session.receive(ArraySlice([255, 253, 1, 255, 251, 31] + bytes("uptime\r\u{0}")), run: table.run)
        #expect(first == [255, 254, 31] + bytes("uptime\r\nup 00:00:01.000\r\n> "))
        #expect(request == nil)
        let (last, halt) = session.receive(ArraySlice(bytes("halt\r\nuptime\r\n")), run: table.run)
        #expect(last == bytes("halt\r\nhalting\r\n"))               // what follows halt is dropped
        #expect(halt == .halt(0))
    }

    @Test func outputGetsCarriageReturnsAndDoubledIAC() {
        #expect(TelnetFilter.encode(bytes("a\nb\r\nc")) == bytes("a\r\nb\r\nc"))
        #expect(TelnetFilter.encode([1, 255, 2]) == [1, 255, 255, 2])
    }
}

@Suite struct ShellFormatTests {
    @Test func durationsAndSizes() {
        #expect(ShellFormat.duration(nanoseconds: 0) == "00:00:00.000")
        #expect(ShellFormat.duration(nanoseconds: 62_345_678_901) == "00:01:02.345")
        #expect(ShellFormat.duration(nanoseconds: (3 * 86_400 + 4 * 3600 + 5 * 60 + 6) * 1_000_000_000 + 7_000_000)
                == "3d 04:05:06.007")
        #expect(ShellFormat.bytes(512) == "512 bytes")
        #expect(ShellFormat.bytes(2048) == "2048 bytes (2 KiB)")
        #expect(ShellFormat.bytes(3 << 20) == "3145728 bytes (3 MiB)")
        #expect(ShellFormat.hex(0xEC) == "0xec")
        #expect(ShellFormat.hex(5) == "0x05")
        #expect(ShellFormat.decimal("042") == 42)
        #expect(ShellFormat.decimal("") == nil)
        #expect(ShellFormat.decimal("-1") == nil)
        #expect(ShellFormat.decimal("1x") == nil)
        #expect(ShellFormat.decimal("9999999999999999999") == nil)
        #expect(ShellFormat.utc(unixSeconds: 0) == "1970-01-01 00:00:00 UTC")
        #expect(ShellFormat.utc(unixSeconds: 951_782_400) == "2000-02-29 00:00:00 UTC")
        #expect(ShellFormat.utc(unixSeconds: 1_764_180_000) == "2025-11-26 18:00:00 UTC")
        #expect(ShellFormat.utc(unixSeconds: -1) == "1969-12-31 23:59:59 UTC")
    }
}
