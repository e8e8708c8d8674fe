// tessera-kvm: Tessera's minimal KVM monitor as a standalone program (what `tessera run --platform kvm`
// runs in-process). No Foundation and no argument-parsing library: it starts in a millisecond.
//
//   tessera-kvm [-m SIZE] [--net [DEVICE=]tap:NAME] [--disk FILE | --block DEVICE=FILE] [-e NAME=VALUE]...
//               IMAGE [-- ARG...]
// DEVICE names the image's device (the manifest's `devices:`), for messages.
//
// Exit status: the guest's exit code (0-255); 139 when the guest crashed or broke the hypercall ABI;
// 125 when the monitor could not start the guest; 2 for a usage error.

#if canImport(Glibc)
import Glibc
#endif
import BootArguments
import KVMMonitor

/// Reports on standard error and ends the process with `_exit`: after confinement only write(2) and
/// exit_group(2) are sure to be allowed (no stdio, no atexit handlers, no closing of descriptors).
func fail(_ message: String, status: Int32) -> Never {
    writeAll(2, "tessera-kvm: " + message + "\n")
    _exit(status)
}

let usage = """
    usage: tessera-kvm [-m SIZE] [--net [DEVICE=]tap:NAME] [--disk FILE | --block DEVICE=FILE] [-e NAME=VALUE]... [--timing] [--no-seccomp] IMAGE [-- ARG...]
      -m SIZE          guest memory, e.g. 2M, 512K, 1G (default 2M)
      --net [DEVICE=]tap:NAME   attach the host tap device NAME as the guest's network device
      --disk FILE, --block DEVICE=FILE
                       attach FILE (whole 512-byte sectors) as the guest's block device
      -e NAME=VALUE    a kernel parameter (repeatable)
      --timing         print how long each setup phase took
      --no-seccomp     do not confine the run loop (debugging only)
    """

var arguments = Array(CommandLine.arguments.dropFirst())
var memory: UInt64 = 2 << 20
var parameters: [String] = []
var imagePath: String?
var appArguments: [String] = []
var tap: String?
var disk: String?
var netName = "net"
var blockName = "disk"
var seccomp = true
var attemptForbiddenCall = false
var timing = false

@MainActor func value(after option: String) -> String {
    guard !arguments.isEmpty else { fail("\(option) needs a value\n\(usage)", status: 2) }
    return arguments.removeFirst()
}

while !arguments.isEmpty {
    let argument = arguments.removeFirst()
    switch argument {
    case "-m", "--memory":
        let text = value(after: argument)
        guard let size = MemorySize.parse(text) else { fail("invalid memory size '\(text)'", status: 2) }
        memory = size
    case "--net":
        let text = value(after: argument)
        var rest = Substring(text)
        if let equals = text.firstIndex(of: "="), text[text.index(after: equals)...].hasPrefix("tap:") {
            netName = String(text[..<equals])
            rest = text[text.index(after: equals)...]
        }
        guard rest.hasPrefix("tap:"), rest.count > 4 else { fail("--net takes [DEVICE=]tap:NAME, not '\(text)'", status: 2) }
        tap = String(rest.dropFirst(4))
    case "--disk": disk = value(after: argument)
    case "--block":
        let text = value(after: argument)
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex,
              text.index(after: equals) != text.endIndex else { fail("--block takes DEVICE=FILE, not '\(text)'", status: 2) }
        blockName = String(text[..<equals])
        disk = String(text[text.index(after: equals)...])
    case "-e": parameters.append(value(after: argument))
    case "--no-seccomp": seccomp = false
    case "--timing": timing = true
    case "--attempt-forbidden-call": attemptForbiddenCall = true      // confinement self-test
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--":
        appArguments = arguments
        arguments = []
    default:
        guard !argument.hasPrefix("-"), imagePath == nil else { fail("unexpected '\(argument)'\n\(usage)", status: 2) }
        imagePath = argument
    }
}
guard let imagePath else { fail("no image given\n\(usage)", status: 2) }

var configuration = MonitorConfiguration(
    imagePath: imagePath, memorySize: memory,
    commandLine: BootArguments.commandLine(kernel: parameters, application: appArguments))
configuration.tapName = tap
configuration.diskPath = disk
configuration.netDeviceName = netName
configuration.blockDeviceName = blockName
configuration.seccomp = seccomp
configuration.attemptForbiddenCall = attemptForbiddenCall
configuration.reportTiming = timing
do {
    try Monitor.run(configuration) { result in
        if case let .ended(report, _) = result { fail(report, status: result.exitStatus) }
        if case let .failed(message) = result { fail(message, status: result.exitStatus) }
        _exit(result.exitStatus)
    }
} catch {
    fail("\(error)", status: 125)
}
