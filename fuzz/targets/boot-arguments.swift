// BootArguments (lib/core/boot-arguments/BootArguments.swift). Input: a kernel command line.
//
// Checks: the words parsed from any line, written back by the library's own writer
// (`BootArguments.commandLine`, what `tessera run` and the KVM monitor pass to the guest) parse to the
// same kernel and app words, byte for byte; and `hasKernelFlag` agrees with the kernel words.

import BootArguments

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let arguments = BootArguments(parsing: UnsafeBufferPointer(start: data, count: size))
    let line = Array(BootArguments.commandLine(kernel: arguments.kernel, application: arguments.application).utf8)
    let again = line.withUnsafeBufferPointer { BootArguments(parsing: $0) }
    precondition(again.kernel.map { Array($0.utf8) } == arguments.kernel.map { Array($0.utf8) },
                 "BootArguments: kernel words change when written back")
    precondition(again.application.map { Array($0.utf8) } == arguments.application.map { Array($0.utf8) },
                 "BootArguments: app words change when written back")
    precondition(arguments.hasKernelFlag("tessera.bootstats") == arguments.kernel.contains("tessera.bootstats"),
                 "BootArguments: hasKernelFlag")
    return 0
}
