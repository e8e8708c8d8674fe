// ShellServer: the shell over TCP, for images that have the network stack.
//
// The shell library does not depend on the network: this library joins the two. Selecting it
// (`use: [shell-net]`) selects `shell` and `net-stack`; when the app starts the network, net-stack
// calls the image's `networkStarted` hook (this library's wiring fragment binds it), and
// `networkStarted` replaces the shell's "no network" `net` command with the real one and listens
// on the port that the kernel parameter `shell.port` names: 23 (telnet's) when it is absent, none
// for `shell.port=off`. An app may also call `ShellServer.listen(port:)` itself.
//
// One thread ("shell-listen") accepts; each connection gets a thread of its own ("shell-tcp") that
// blocks in `read` — nothing polls. At most `maximumSessions` sessions run at once; one more is
// told so and closed. A session speaks just enough telnet for a `telnet` client to switch to
// character mode with remote echo (TelnetFilter), and ends on `exit`, Ctrl-D on an empty line, the
// peer closing, or `idleTimeout` without input. `halt` ends the image from a session: its output
// is sent and acknowledged first (for up to a second), so the client sees "halting".
//
// There is no authentication: anyone who reaches the port can halt the image. Forward the port only
// where that is acceptable (`tessera run -p 2323:23` listens on the host's loopback only).

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

public enum ShellServer<I: NetworkedImage> {
    public static var defaultPort: UInt16 { 23 }
    public static var maximumSessions: Int { 4 }
    /// A session without input for this long (ns) is closed: 30 minutes.
    public static var idleTimeout: UInt64 { 30 * 60 * 1_000_000_000 }

    /// Called by the image's `networkStarted` hook once the network is configured.
    public static func networkStarted() {
        ShellCommands.register("net", summary: "network interface, device and TCP statistics, connections by state") {
            NetCommand<I>.run(&$0)
        }
        guard let port = configuredPort() else { return }
        do throws(SocketError) {
            try listen(port: port)
        } catch {
            print("tessera: shell: cannot listen on TCP port \(port): \(error)")
        }
    }

    /// The port from `shell.port`: nil for `off` (or a bad value, which is reported).
    static func configuredPort() -> UInt16? {
        guard let text = kernelParameters.kernelValue("shell.port") else { return defaultPort }
        if let port = ShellFormat.decimal(text), port > 0 && port <= 65535 { return UInt16(port) }
        if !text.utf8.elementsEqual("off".utf8) {
            print("tessera: shell: bad kernel parameter shell.port=\(text): use a port 1-65535 or off")
        }
        return nil
    }

    /// Listens for shell sessions on `port` (in addition to any port already served).
    public static func listen(port: UInt16) throws(SocketError) {
        let listener = try TCPListener<I>.listen(port: port, backlog: 8)
        guard Thread<I>.spawn(name: "shell-listen", { accept(listener) }) != nil else {
            listener.close()
            throw .noResources
        }
        print("tessera: shell on TCP port \(port) (telnet)")
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
