// BootArguments: the kernel command-line syntax that `tessera run` writes and the kernel reads.

import BootArguments
import Testing

func parse(_ line: String) -> BootArguments {
    var copy = line
    return copy.withUTF8 { BootArguments(parsing: $0) }
}

@Suite struct BootArgumentsTests {
    @Test func wordsWithoutSeparatorAreAllAppArguments() {
        let arguments = parse("7 hello  world")
        #expect(arguments.kernel.isEmpty)
        #expect(arguments.application == ["7", "hello", "world"])
    }

    @Test func doubleDashSplitsKernelParametersFromAppArguments() {
        let arguments = parse("tessera.bootstats -- 3 x")
        #expect(arguments.kernel == ["tessera.bootstats"])
        #expect(arguments.application == ["3", "x"])
        #expect(arguments.hasKernelFlag("tessera.bootstats"))
        #expect(!arguments.hasKernelFlag("tessera.boot"))
    }

    @Test func kernelValuesAreNameEqualsValueWordsAndTheLastOneWins() {
        let arguments = parse("ip=10.0.0.2/24 ipx=1 gateway=10.0.0.1 ip=10.0.0.3/24 empty= -- ip=app")
        #expect(arguments.kernelValue("ip") == "10.0.0.3/24")
        #expect(arguments.kernelValue("gateway") == "10.0.0.1")
        #expect(arguments.kernelValue("empty") == nil, "a name with nothing after '=' has no value")
        #expect(arguments.kernelValue("dns") == nil)
        #expect(arguments.kernelValue("i") == nil, "names match whole")
    }

    @Test func onlyTheFirstDoubleDashSplits() {
        let arguments = parse("-- a -- b")
        #expect(arguments.kernel.isEmpty)
        #expect(arguments.application == ["a", "--", "b"])
    }

    @Test func quotedDoubleDashIsAnOrdinaryWord() {
        let arguments = parse("\"--\" x")
        #expect(arguments.application == ["--", "x"])
    }

    @Test func quotesGroupSpacesAndBackslashEscapes() {
        let arguments = parse(#"-- "two words" quote\"d back\\slash spaced\ word """#)
        #expect(arguments.application == ["two words", "quote\"d", "back\\slash", "spaced word", ""])
    }

    @Test func emptyLineGivesNothing() {
        let arguments = parse("   ")
        #expect(arguments.kernel.isEmpty && arguments.application.isEmpty)
    }

    @Test func unterminatedQuoteKeepsTheRestAsOneWord() {
        #expect(parse("-- \"a b").application == ["a b"])
    }

    @Test func nonASCIIBytesSurvive() {
        #expect(parse("-- grüße 日本").application == ["grüße", "日本"])
    }
}
