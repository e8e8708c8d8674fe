// The command-line writer (lib/core/boot-arguments, CommandLineWriter.swift): what `tessera run` passes to
// QEMU's -append and what the KVM monitor puts in the boot-info block — words the guest's parser splits
// back exactly, quoting decided on UTF-8 bytes as the guest reads them.

import BootArguments
import Testing

@Suite struct CommandLineWriterTests {
    @Test(arguments: ["hello", "ip=10.0.0.2/24", "tessera.bootstats", "-v", "héllo", "a=b,c", "---", "-"])
    func plainWordsAreUnchanged(word: String) {
        #expect(BootArguments.quote(word) == word)
    }

    static let quotedWords: [(String, String)] = [("a b", #""a b""#),
                      ("tab\there", "\"tab\there\""),
                      ("line\nbreak", "\"line\nbreak\""),
                      ("cr\r", "\"cr\r\""),
                      (#"say "hi""#, #""say \"hi\"""#),
                      (#"C:\dir"#, #""C:\\dir""#),
                      (#"\"#, #""\\""#),
                      (#"""#, #""\"""#),
                      ("", #""""#),
                      ("--", #""--""#),
                      (" ", #"" ""#)]

    @Test(arguments: quotedWords)
    func specialWordsAreQuotedAndEscaped(word: String, quoted: String) {
        #expect(BootArguments.quote(word) == quoted)
    }

    @Test func makeJoinsKernelParametersAndArguments() {
        #expect(BootArguments.commandLine(kernel: ["ip=10.0.0.2/24", "tessera.bootstats"], application: ["3", "a b", "--", ""])
                == #"ip=10.0.0.2/24 tessera.bootstats -- 3 "a b" "--" """#)
        #expect(BootArguments.commandLine(kernel: [], application: []) == "--")
        #expect(BootArguments.commandLine(kernel: [], application: ["x"]) == "-- x")
        #expect(BootArguments.commandLine(kernel: ["--"], application: []) == #""--" --"#)
    }
}

extension CommandLineWriterTests {
    @Test func plainWordsStayAsTheyAre() {
        #expect(BootArguments.quote("plain") == "plain")
        #expect(BootArguments.quote("é-ok") == "é-ok")
    }

    @Test func spacesEmptyWordsAndTheSeparatorAreQuoted() {
        #expect(BootArguments.quote("two words") == "\"two words\"")
        #expect(BootArguments.quote("") == "\"\"")
        #expect(BootArguments.quote("--") == "\"--\"")
        #expect(BootArguments.quote("tab\there") == "\"tab\there\"")
    }

    @Test func quotesAndBackslashesAreEscapedEvenWithACombiningMarkAfterThem() {
        #expect(BootArguments.quote("a\"b\\c") == "\"a\\\"b\\\\c\"")
        // `"` + U+0301 is one Character; the guest still sees the byte 0x22.
        let word = "a\"\u{301}b"
        #expect(Array(BootArguments.quote(word).utf8) == [0x22, 0x61, 0x5C, 0x22, 0xCC, 0x81, 0x62, 0x22])
    }
}
