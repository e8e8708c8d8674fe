// ShellServer: the shell over TCP, for images that have the network stack.
//
// The shell library does not depend on the network: this library joins the two. Selecting it
// (`use: [shell-net]`) selects `shell` and `net-stack`; when the app starts the network, net-stack
// calls the image's `networkStarted` hook (this library's wiring fragment binds it), and
// `networkStarted` replaces the shell's "no network" `net` command with the real one. The TCP shell
// itself is off unless the image turns it on: it listens only when both `shell.port=N` and
// `shell.token=SECRET` (at least 12 characters) are given, and every session must send the token as
// its first line before anything else happens (three seconds' pause and the connection closed on a
// wrong one; the comparison takes the same time whatever the bytes). An app may also call
// `ShellServer.listen(port:token:)` itself.
//
// One thread ("shell-listen") accepts; each connection gets a thread of its own ("shell-tcp") that
// blocks in `read` — nothing polls. At most `maximumSessions` sessions run at once; one more is
// told so and closed. A session speaks just enough telnet for a `telnet` client to switch to
// character mode with remote echo (TelnetFilter), and ends on `exit`, Ctrl-D on an empty line, the
// peer closing, or `idleTimeout` without input. `halt` ends the image from a session: its output
// is sent and acknowledged first (for up to a second), so the client sees "halting".
//
// The token is the only protection and telnet is cleartext: anyone who sees the traffic learns it and
// can then halt the image. Forward the port only over networks you trust (`tessera run -p 2323:2323`
// listens on the host's loopback only); an SSH shell is the real answer and does not exist yet.

import ArchX86
import BootArguments
import Clock
import Kernel
import NetStack
import NetTCP
import SchedulerAPI
import ShellCore
import Shell
import Threads

nonisolated(unsafe) var activeSessions = 0
nonisolated(unsafe) var sessionToken: [UInt8] = []

public enum ShellServer<I: NetworkedImage> {
    public static var maximumSessions: Int { 4 }
    public static var minimumTokenLength: Int { 12 }
    /// A session without input for this long (ns) is closed: 30 minutes.
    public static var idleTimeout: UInt64 { 30 * 60 * 1_000_000_000 }

    /// Called by the image's `networkStarted` hook once the network is configured.
    public static func networkStarted() {
        ShellCommands.register("net", summary: "network interface, device and TCP statistics, connections by state") {
            NetCommand<I>.run(&$0)
        }
        guard let port = configuredPort() else { return }
        guard let token = kernelParameters.kernelValue("shell.token"), token.utf8.count >= minimumTokenLength else {
            print("tessera: shell: shell.port=\(port) needs shell.token=SECRET (at least \(minimumTokenLength) characters); the TCP shell stays off")
            return
        }
        do throws(SocketError) {
            try listen(port: port, token: Array(token.utf8))
        } catch {
            print("tessera: shell: cannot listen on TCP port \(port): \(error)")
        }
    }

    /// The port from `shell.port`: nil when absent, `off`, or a bad value (which is reported).
    static func configuredPort() -> UInt16? {
        guard let text = kernelParameters.kernelValue("shell.port") else { return nil }
        if let port = ShellFormat.decimal(text), port > 0 && port <= 65535 { return UInt16(port) }
        if !text.utf8.elementsEqual("off".utf8) {
            print("tessera: shell: bad kernel parameter shell.port=\(text): use a port 1-65535 or off")
        }
        return nil
    }

    /// Listens for shell sessions on `port` (in addition to any port already served); each must send
    /// `token` as its first line.
    public static func listen(port: UInt16, token: [UInt8]) throws(SocketError) {
        sessionToken = token
        let listener = try TCPListener<I>.listen(port: port, backlog: 8)
        guard Thread<I>.spawn(name: "shell-listen", { accept(listener) }) != nil else {
            listener.close()
            throw .noResources
        }
        print("tessera: shell on TCP port \(port) (telnet, token required, cleartext)")
    }

    static func accept(_ listener: TCPListener<I>) {
        while true {
            guard let stream = try? listener.accept() else { continue }
            let admitted = CPU.withInterruptsDisabled { () -> Bool in
                guard activeSessions < maximumSessions else { return false }
                activeSessions += 1
                return true
            }
            guard admitted else {
                try? stream.write(Array("too many shell sessions; try again later\r\n".utf8), timeout: 1_000_000_000)
                stream.close()
                continue
            }
            let started = Thread<I>.spawn(name: "shell-tcp", priority: .high) {
                serve(stream)
                CPU.withInterruptsDisabled { activeSessions -= 1 }
            }
            if started == nil {
                CPU.withInterruptsDisabled { activeSessions -= 1 }
                stream.close()
            }
        }
    }

    /// One session, until it ends.
    static func serve(_ stream: TCPStream<I>) {
        stream.setNoDelay(true)
        guard authenticate(stream) else {
            _ = send(stream, Array("wrong token\r\n".utf8))
            Thread<I>.sleep(milliseconds: 3000)                  // one guess per connection, slowly
            return stream.close()
        }
        var session = TelnetSession(prompt: ShellService<I>.prompt)
        guard send(stream, session.start(greeting: "tessera shell: 'help' lists the commands, 'exit' ends the session")) else {
            return stream.close()
        }
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            // withUnsafeMutableBytes rethrows `any Error`: carry the typed error out as a value.
            let received = buffer.withUnsafeMutableBytes { bytes -> Result<Int, SocketError> in
                do throws(SocketError) {
                    return .success(try stream.read(into: bytes, timeout: idleTimeout))
                } catch {
                    return .failure(error)
                }
            }
            guard case .success(let count) = received, count > 0 else {
                if case .failure(.timedOut) = received { _ = send(stream, TelnetFilter.encode(Array("\nidle too long: closing\n".utf8))) }
                break
            }
            let (reply, request) = session.receive(buffer[0..<count], run: ShellCommands.run)
            guard send(stream, reply) else { break }
            switch request {
            case .halt(let code)?:
                print("tessera: shell: halt from a TCP session\(stream.remote.map { " (\($0))" } ?? "")")
                waitUntilAcknowledged(stream)
                Kernel<I>.exit(code: code)
            case .endSession?:
                return stream.close()
            case nil:
                continue
            }
        }
        stream.close()
    }

    /// Asks for the token and reads one line (30 s at most, 256 bytes, telnet commands skipped); true
    /// when it is the configured token. Compares every byte whatever the first difference.
    static func authenticate(_ stream: TCPStream<I>) -> Bool {
        guard send(stream, Array("token: ".utf8)) else { return false }
        var line: [UInt8] = []
        var byte = [UInt8](repeating: 0, count: 1)
        var skip = 0
        let end = Clock.now() + 30_000_000_000
        while line.count < 256 {
            let now = Clock.now()
            guard now < end else { return false }
            let count = byte.withUnsafeMutableBytes { bytes -> Int in
                do throws(SocketError) { return try stream.read(into: bytes, timeout: end - now) } catch { return 0 }
            }
            guard count == 1 else { return false }
            let value = byte[0]
            if skip > 0 { skip -= 1; continue }
            if value == 255 { skip = 2; continue }              // IAC and its command and option
            if value == 0x0A || value == 0 { break }
            if value != 0x0D { line.append(value) }
        }
        var difference = UInt8(truncatingIfNeeded: line.count ^ sessionToken.count)
        for index in 0 ..< max(line.count, sessionToken.count) {
            let a = index < line.count ? line[index] : 0, b = index < sessionToken.count ? sessionToken[index] : 0
            difference |= a ^ b
        }
        return difference == 0 && line.count == sessionToken.count
    }

    static func send(_ stream: TCPStream<I>, _ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        do throws(SocketError) {
            try stream.write(bytes, timeout: 10_000_000_000)
            return true
        } catch {
            return false
        }
    }

    /// Waits (up to a second) until the peer has acknowledged everything written.
    static func waitUntilAcknowledged(_ stream: TCPStream<I>) {
        let end = Clock.now() + 1_000_000_000
        while stream.unacknowledgedBytes > 0 && Clock.now() < end { Thread<I>.sleep(milliseconds: 5) }
        Thread<I>.sleep(milliseconds: 20)          // let the host's side of the link pass it on
    }
}
