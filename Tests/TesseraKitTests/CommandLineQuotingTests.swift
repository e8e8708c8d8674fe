// How `tessera run` writes app arguments into the kernel command line: words the guest's parser
// (lib/boot-arguments) splits back exactly — quoting decided on UTF-8 bytes, as the guest reads them.

import Testing
import TesseraKit

@Suite struct CommandLineQuotingTests {
    @Test func plainWordsStayAsTheyAre() {
        #expect(QEMURunner.quote("plain") == "plain")
        #expect(QEMURunner.quote("é-ok") == "é-ok")
    }

    @Test func spacesEmptyWordsAndTheSeparatorAreQuoted() {
        #expect(QEMURunner.quote("two words") == "\"two words\"")
        #expect(QEMURunner.quote("") == "\"\"")
        #expect(QEMURunner.quote("--") == "\"--\"")
        #expect(QEMURunner.quote("tab\there") == "\"tab\there\"")
    }

    @Test func quotesAndBackslashesAreEscapedEvenWithACombiningMarkAfterThem() {
        #expect(QEMURunner.quote("a\"b\\c") == "\"a\\\"b\\\\c\"")
        // `"` + U+0301 is one Character; the guest still sees the byte 0x22.
        let word = "a\"\u{301}b"
        #expect(Array(QEMURunner.quote(word).utf8) == [0x22, 0x61, 0x5C, 0x22, 0xCC, 0x81, 0x62, 0x22])
    }
}
