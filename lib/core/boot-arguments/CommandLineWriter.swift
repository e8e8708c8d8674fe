// The writing direction of the command-line syntax (BootArguments.swift reads it): what `tessera run`
// passes to QEMU's -append and what Tessera's KVM monitor puts in the boot-info block.
//
// A word is written bare unless it is empty, is a literal `--`, or holds a byte the parser treats
// specially (space, tab, line feed, carriage return, double quote, backslash); then it is written in
// double quotes with `"` and `\` escaped. Bytes, not Characters: the parser works on UTF-8 bytes, and a
// quote followed by a combining mark is one Character that `==` would not match. The fuzz target
// `boot-arguments` checks that parsing what this writes gives back the same words.

extension BootArguments {
    /// `word` as the parser will read it back.
    public static func quote(_ word: String) -> String {
        let bytes = Array(word.utf8)
        let needsQuotes = bytes.isEmpty || word == "--" || bytes.contains { byte in
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x22 || byte == 0x5C
        }
        if !needsQuotes { return word }
        var quoted: [UInt8] = [0x22]
        for byte in bytes {
            if byte == 0x22 || byte == 0x5C { quoted.append(0x5C) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return String(decoding: quoted, as: UTF8.self)
    }

    /// A whole command line: kernel parameters, `--`, the app's arguments.
    public static func commandLine(kernel: [String], application: [String]) -> String {
        var words: [String] = []
        for word in kernel { words.append(quote(word)) }
        words.append("--")
        for word in application { words.append(quote(word)) }
        var line = ""
        for (index, word) in words.enumerated() {
            if index > 0 { line += " " }
            line += word
        }
        return line
    }
}
