// BootArguments (lib/boot-arguments/BootArguments.swift). Input: a kernel command line.
//
// Checks: the words parsed from any line, written back as a command line (each word bare when it
// needs no quoting, else in double quotes with `"` and `\` escaped, kernel words, a bare `--`, the
// app's words: what `tessera run` does) parse to the same kernel and app words, byte for byte; and
// `hasKernelFlag` agrees with the kernel words.

import BootArguments

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let arguments = BootArguments(parsing: UnsafeBufferPointer(start: data, count: size))
    var line: [UInt8] = []
    for word in arguments.kernel { append(word, to: &line) }
    line += Array("-- ".utf8)
    for word in arguments.application { append(word, to: &line) }
    let again = line.withUnsafeBufferPointer { BootArguments(parsing: $0) }
    precondition(again.kernel.map { Array($0.utf8) } == arguments.kernel.map { Array($0.utf8) },
                 "BootArguments: kernel words change when written back")
    precondition(again.application.map { Array($0.utf8) } == arguments.application.map { Array($0.utf8) },
                 "BootArguments: app words change when written back")
    precondition(arguments.hasKernelFlag("tessera.bootstats") == arguments.kernel.contains("tessera.bootstats"),
                 "BootArguments: hasKernelFlag")
    return 0
}

/// Appends `word` and a space, quoting it when it is empty, is `--`, or holds a separator, a quote
/// or a backslash (the bytes BootArguments treats specially).
func append(_ word: String, to line: inout [UInt8]) {
    let bytes = Array(word.utf8)
    let special: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\""),
                               UInt8(ascii: "\\")]
    if !bytes.isEmpty && word != "--" && !bytes.contains(where: special.contains) {
        line += bytes
    } else {
        line.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { line.append(UInt8(ascii: "\\")) }
            line.append(byte)
        }
        line.append(UInt8(ascii: "\""))
    }
    line.append(UInt8(ascii: " "))
}
