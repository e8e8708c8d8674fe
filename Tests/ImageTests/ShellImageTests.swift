// Shell image tests: the test app `shell` (shell-net selected) driven over TCP with a raw client and
// over the serial console through `tessera run`'s standard input, and an image without the shell
// checked for the absence of its code.

import Foundation
import Testing
import TesseraKit

/// A shell session over TCP: sends a line, returns what came back up to the next prompt, CRs removed.
private struct ShellClient {
    static let prompt = "tessera> "
    let client: RawClient
    /// Everything before the first prompt (telnet offer and greeting).
    let greeting: [UInt8]

    static let token = "correct-horse-battery"

    init(port: UInt16, token: String = ShellClient.token) throws {
        client = try RawClient(port: port, timeoutSeconds: 20)
        let ask = Array("token: ".utf8)
        _ = client.receive { $0.count >= ask.count && Array($0.suffix(ask.count)) == ask }
        client.send(Array((token + "\r\n").utf8))
        let prompt = Array(Self.prompt.utf8)
        greeting = client.receive { $0.count >= prompt.count && Array($0.suffix(prompt.count)) == prompt }
    }

    /// Sends `bytes` and returns the reply up to the next prompt (or until the peer closes).
    func send(_ bytes: [UInt8]) -> String {
        client.send(bytes)
        let prompt = Array(Self.prompt.utf8)
        let reply = client.receive { $0.count >= prompt.count && Array($0.suffix(prompt.count)) == prompt }
        return String(decoding: reply, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
    }

    func run(_ line: String) -> String { send(Array((line + "\r\n").utf8)) }
}

/// `tessera run` of the shell app as a process whose standard input (QEMU's serial input) is a pipe.
private final class SerialConsole {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var collected = Data()

    init(arguments: [String]) throws {
        process.executableURL = tesseraExecutable
        process.arguments = arguments
        process.currentDirectoryURL = ImageHarness.repository
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    var text: String { String(decoding: collected, as: UTF8.self) }

    /// Reads the console until `marker` appears after `offset` characters (or the VM ends).
    @discardableResult
    func read(until marker: String, after offset: Int = 0) -> Bool {
        while !String(text.dropFirst(offset)).contains(marker) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return false }
            collected.append(chunk)
        }
        return true
    }

    func type(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    func finish() -> Int32 {
        collected.append(output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension ImageSuite {
    @Suite struct ShellImageTests {
        /// The TCP shell is off unless turned on with a port and a token; a wrong token ends the connection.
        @Test func theTCPShellNeedsATokenAndRefusesAWrongOne() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("shell"))
            let withoutToken = try RunningImage(product, guestPort: 2323, ready: "shellapp: ready", kernelParameters: ["shell.port=2323"])
            #expect(withoutToken.lines.contains { $0.contains("shell.port=2323 needs shell.token=SECRET") }, "\(withoutToken.lines)")
            #expect(!withoutToken.lines.contains { $0.contains("shell on TCP port") })
            withoutToken.stop()
            let image = try RunningImage(product, guestPort: 2323, ready: "shellapp: ready",
                                         kernelParameters: ["shell.port=2323", "shell.token=\(ShellClient.token)"])
            defer { image.stop() }
            let client = try RawClient(port: image.hostPort, timeoutSeconds: 20)
            let ask = Array("token: ".utf8)
            #expect(client.receive { $0.count >= ask.count && Array($0.suffix(ask.count)) == ask } == ask)
            client.send(Array("correct-horse-batterx\r\n".utf8))
            let answer = String(decoding: client.receive(), as: UTF8.self)
            #expect(answer == "wrong token\r\n", "the connection closes after the refusal, with no prompt: \(answer.debugDescription)")
            client.close()
            let shell = try ShellClient(port: image.hostPort)             // the right token still works
            #expect(shell.run("greet tcp").contains("\nhello, tcp\n"))
        }

        @Test func theShellAnswersEveryCommandOverTCPAndHaltEndsTheImage() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("shell"))
            let image = try RunningImage(product, guestPort: 2323, ready: "shellapp: ready",
                                         kernelParameters: ["shell.port=2323", "shell.token=\(ShellClient.token)"])
            defer { image.stop() }
            let shell = try ShellClient(port: image.hostPort)
            #expect(Array(shell.greeting.prefix(6)) == [255, 251, 1, 255, 251, 3])       // WILL ECHO, WILL SGA
            #expect(String(decoding: shell.greeting, as: UTF8.self).contains("tessera shell: 'help' lists the commands"))

            let help = shell.run("help")
            #expect(help.hasPrefix("help\ncommands:\n"))
            for name in ["exit", "greet", "halt", "help", "irq", "log", "mem", "metrics", "net", "threads", "uptime"] {
                #expect(help.contains("\n  \(name) "), "help lists \(name)")
            }

            let uptime = shell.run("uptime")
            #expect(uptime.contains(/\nup \d\d:\d\d:\d\d\.\d{3}; \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/))

            let threads = shell.run("threads")
            #expect(threads.contains("threads, cooperative scheduler,"))
            #expect(threads.contains("ID  NAME"))
            #expect(threads.contains(/\n 0  main +sleeping +normal/))
            #expect(threads.contains(/\n \d  shell +(sleeping|ready) +high/))
            #expect(threads.contains(/\n \d  net +\w+ +high/))
            #expect(threads.contains(/\n \d  shell-listen +(blocked|ready) +normal/))
            #expect(threads.contains(/\n \d  shell-tcp +running +high/))

            let memory = shell.run("mem")
            #expect(memory.contains("heap (tlsf):\n  in use   "))
            #expect(memory.contains("  managed  "))
            #expect(memory.contains(/pages: \d+ free of \d+ \(4 KiB each\)/))

            let interrupts = shell.run("irq")
            #expect(interrupts.contains("VECTOR  COUNT       SOURCE"))
            #expect(interrupts.contains(/0xec +\d+  local APIC timer/))
            #expect(interrupts.contains(/0x3\w +\d+  I\/O APIC line \d+/))                 // virtio-net
            #expect(interrupts.contains("spurious: "))

            let network = shell.run("net")
            #expect(network.contains("interface 10.0.2.15/24, gateway 10.0.2.2, MAC 52:54:00:12:34:56, static"))
            #expect(network.contains("device virtio-net (interrupts on): frames in "))
            #expect(network.contains(/tcp: segments in \d+, out \d+; active opens 0, passive opens 1,/))
            #expect(network.contains(/connections: .*established 1/))

            let log = shell.run("log")
            #expect(log.contains("tessera: shell on TCP port 2323 (telnet, token required, cleartext)\nshellapp: ready\n"))
            #expect(shell.run("log 1") == "log 1\nshellapp: ready\n\(ShellClient.prompt)")

            #expect(shell.run("metrics").contains("\nmetrics library not selected\n"))
            #expect(shell.run("greet 'from TCP'").contains("\nhello, from TCP\n"))
            #expect(shell.run("uptmie").contains("\nunknown command 'uptmie'; type 'help' for the list\n"))

            // Editing and history over the wire: a backspace, arrows, Up to recall; telnet commands
            // from the client (DO ECHO, WILL NAWS) are filtered out and NAWS is refused.
            let edited = shell.send(Array("greex\u{7F}t wXrld\u{1B}[D\u{1B}[D\u{1B}[D\u{1B}[D\u{1B}[3~o\r\n".utf8))
            #expect(edited.contains("\nhello, world\n"))
            #expect(shell.send([255, 253, 1, 255, 251, 31] + Array("\u{1B}[A\r".utf8)).contains("\nhello, world\n"))

            // A second session ends with `exit`; the first is unaffected.
            let second = try ShellClient(port: image.hostPort)
            second.client.send(Array("exit\r\n".utf8))
            #expect(String(decoding: second.client.receive(), as: UTF8.self).contains("exit"))   // then closed
            second.client.close()

            // At most four sessions at once: with three more open, a fifth is turned away.
            usleep(200_000)                                 // the ended session's thread has finished
            let others = try (0..<3).map { _ in try ShellClient(port: image.hostPort) }
            let fifth = try RawClient(port: image.hostPort)
            #expect(String(decoding: fifth.receive(), as: UTF8.self) == "too many shell sessions; try again later\r\n")
            fifth.close()
            for other in others { other.client.close() }

            let halt = shell.send(Array("halt\r\n".utf8))
            #expect(halt.contains("halt\nhalting\n"))
            let result = image.waitForExit(timeout: 30)
            #expect(result?.guestExitCode == 0)
            #expect(image.lines.contains { $0.hasPrefix("tessera: shell: halt from a TCP session (10.0.2.2:") })
        }

        @Test func theSerialConsoleTakesTypedLines() throws {
            _ = try ImageHarness.build(ImageHarness.testApp("shell"))
            let console = try SerialConsole(arguments: ["run", "Tests/ImageTests/Apps/shell", "-e", "shell.port=off", "--", "metrics"])
            #expect(console.read(until: "shellapp: ready\n"))
            #expect(!console.text.contains("tessera> "))                                // silent until a key
            var mark = console.text.count
            console.type("uptime\r")
            #expect(console.read(until: "UTC\n", after: mark))
            #expect(console.text.dropFirst(mark).contains(/tessera> uptime\nup \d\d:\d\d:\d\d\.\d{3};/))
            mark = console.text.count
            console.type("greet serial\r\n")
            #expect(console.read(until: "hello, serial\n", after: mark))
            mark = console.text.count
            console.type("metrics\r")
            #expect(console.read(until: "shellapp_up 1\n", after: mark))
            mark = console.text.count
            console.type("net\r")
            #expect(console.read(until: "connections: ", after: mark))
            console.type("halt\r")
            #expect(console.finish() == 0)
            #expect(console.text.contains("tessera> halt\nhalting\n"))
            #expect(!console.text.contains("shell on TCP port"))                        // shell.port=off
        }

        @Test func anImageWithoutTheShellContainsNoneOfIt() throws {
            let product = try ImageHarness.build(ImageHarness.example("threads"))
            #expect(!product.objects.contains { $0.library.hasPrefix("shell") })
            let symbols = try ELFFile(contentsOf: product.debugImage).symbols.map(\.name)
            #expect(!symbols.contains { $0.contains("Shell") })
            #expect(!(try SizeReport(product: product)).rows.contains { $0.library.hasPrefix("shell") })
            let wiring = try String(contentsOf: product.wiring, encoding: .utf8)
            #expect(!wiring.contains("ShellService"))

            let shell = try ImageHarness.build(ImageHarness.testApp("shell"))
            let shellSymbols = try ELFFile(contentsOf: shell.debugImage).symbols.map(\.name)
            #expect(shellSymbols.contains { $0.contains("5Shell") })
        }
    }
}
