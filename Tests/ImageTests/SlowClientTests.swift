// Slow and idle clients against the servers, on the monitor's tap — httpd at the smallest memory it
// boots with (2 MiB), kv at 4 MiB (at 2 MiB its baseline leaves it permanently short of memory): a
// thousand connections that trickle a partial request (a slowloris) and a thousand that say nothing must neither crash the guest nor keep a real client from being answered within a
// second (issue "Hardening", item 0). Before on-demand buffers, timeouts and eviction, httpd
// panicked ("out of memory") after 160 such connections and kv after 292.

import Foundation
import Glibc
import Testing

/// Opens many TCP connections to one server without blocking, and keeps them.
final class ConnectionFlood {
    private(set) var sockets: [Int32] = []
    let address: sockaddr_in

    init(host: String, port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        self.address = address
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Starts `count` connections and waits up to `seconds` for them; returns the ones established
    /// (each sent `greeting` if not empty). The rest are closed: the server was refusing them.
    @discardableResult
    func open(_ count: Int, greeting: [UInt8], seconds: Double) -> Int {
        var pending: [Int32] = []
        for _ in 0..<count {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { break }
            _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
            var target = address
            _ = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            pending.append(socket)
        }
        var opened = 0
        let end = Date().addingTimeInterval(seconds)
        while !pending.isEmpty && Date() < end {
            var polls = pending.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
            _ = poll(&polls, nfds_t(polls.count), 100)
            var still: [Int32] = []
            for entry in polls {
                guard entry.revents != 0 else { still.append(entry.fd); continue }
                var error: Int32 = 0
                var length = socklen_t(4)
                getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 {
                    if !greeting.isEmpty { _ = greeting.withUnsafeBytes { Glibc.send(entry.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
                    sockets.append(entry.fd)
                    opened += 1
                } else {
                    Glibc.close(entry.fd)
                }
            }
            pending = still
        }
        pending.forEach { Glibc.close($0) }
        return opened
    }

    /// Sends one byte on every connection still open; returns how many took it.
    func trickle() -> Int {
        var byte: UInt8 = 0x58
        return sockets.filter { Glibc.send($0, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 }.count
    }

    func closeAll() {
        sockets.forEach { Glibc.close($0) }
        sockets = []
    }
}

/// Seconds from connect to the first bytes of the answer to `request`, or nil (no answer in 5 s).
func timedExchange(host: String, port: UInt16, request: String, expect prefix: String) -> Double? {
    let start = Date()
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { Glibc.close(socket) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr(host)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let bytes = Array(request.utf8)
    guard bytes.withUnsafeBytes({ Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = recv(socket, &buffer, buffer.count, 0)
    guard count > 0, String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix(prefix) else { return nil }
    return Date().timeIntervalSince(start)
}

extension ImageSuite.MonitorTests {
    /// Floods `port` with `slow` connections that sent `partial` (then a byte every 5 s) and `idle`
    /// ones, probes with `request` twice a second for `seconds`, and returns the probe latencies.
    static func flood(host: String, port: UInt16, partial: String, request: String, expect: String,
                      slow: Int = 1000, idle: Int = 1000, seconds: Double = 25) -> (latencies: [Double?], opened: Int) {
        let flood = ConnectionFlood(host: host, port: port)
        defer { flood.closeAll() }
        var opened = 0
        // In waves of 100, as a client on the same network would open them (a burst of 1000 SYNs at
        // once is the SYN-flood case, a separate item).
        for _ in 0..<(slow / 100) { opened += flood.open(100, greeting: Array(partial.utf8), seconds: 2) }
        for _ in 0..<(idle / 100) { opened += flood.open(100, greeting: [], seconds: 2) }
        // The probes measure a server holding the flood, not one absorbing a burst: a wave of 100 SYNs
        // can take the TCP table's last free slots for the second it takes to evict idle connections
        // (a burst of SYNs is the SYN-flood item, which needs SYN cookies).
        Thread.sleep(forTimeInterval: 1.5)
        var latencies: [Double?] = []
        let end = Date().addingTimeInterval(seconds)
        var nextTrickle = Date()
        while Date() < end {
            if Date() >= nextTrickle {
                _ = flood.trickle()
                nextTrickle = Date().addingTimeInterval(5)
            }
            latencies.append(timedExchange(host: host, port: port, request: request, expect: expect))
            Thread.sleep(forTimeInterval: 0.5)
        }
        return (latencies, opened)
    }

    @Test(.enabled(if: MonitorHarness.tapAvailable, "needs root, /dev/net/tun and ip"))
    func httpdAt2MiBKeepsServingThroughAThousandSlowAndAThousandIdleClients() throws {
        let tap = try HostTap(tag: "s", octet: 120)
        defer { tap.remove() }
        let server = try MonitorHarness.Server(["run", "examples/httpd", "--platform", "kvm", "-m", "2M", "--net", "tap:\(tap.name)",
                                                "-e", "ip=\(tap.guestAddress)/24", "--", "--quiet", "--report", "5"],
                                               ready: "httpd: serving")
        let result = Self.flood(host: tap.guestAddress, port: 80, partial: "GET / HTTP/1.1\r\nHost: flood\r\n",
                                request: "GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n", expect: "HTTP/1.1 200")
        let (status, errors) = server.stop()
        let console = server.console
        #expect(!console.contains("panic"), "\(console.suffix(2000))")
        // 626 before httpd carried the file tree and the 9p client for --root volumes (about 180 KB of a
        // 2 MiB VM); 433 after (docs/network.md).
        #expect(result.opened >= 380, "the flood opened only \(result.opened) connections")
        #expect(result.latencies.count >= 20)
        let worst = result.latencies.map { $0 ?? 99 }.max() ?? 99
        let sorted = result.latencies.map { $0 ?? 99 }.sorted()
        let median = sorted.isEmpty ? 99 : sorted[sorted.count / 2]
        // With the file tree in the image, 2 MiB leaves httpd less headroom: a probe's SYN can be refused
        // for memory once (syn-refused-memory) and wait one SYN retransmission (1 s), as kv at 4 MiB can.
        #expect(worst < 2.0, "a real client waited \(worst) s: \(result.latencies)\n\(console.suffix(1500))")
        #expect(median < 0.2, "median \(median) s: \(result.latencies)")
        // Slowloris connections end with 408 after the 20 s header timeout; evictions made room.
        let reports = console.split(separator: "\n").filter { $0.hasPrefix("httpd: report:") }
        let last = reports.last.map(String.init) ?? ""
        #expect(last.contains("request-timeouts") && !last.contains("request-timeouts 0 "), "\(last)")
        #expect(!last.contains(" evicted 0 "), "\(last)")
        // The heap's peak stays under the bound docs/network.md states for 2 MiB: 1.5 MiB.
        let words = last.split(separator: " ").map(String.init)
        let peak = words.firstIndex(of: "heap-peak").flatMap { $0 + 1 < words.count ? Int(words[$0 + 1]) : nil }
        #expect(peak != nil && peak! < 1_536 * 1024, "\(last)")
        print("slow-client figures: httpd 2M: opened \(result.opened), probes \(result.latencies.count), worst \(worst) s; \(last)")
        #expect(status == 128 + SIGTERM, "\(status) \(errors)")
    }

    @Test(.enabled(if: MonitorHarness.tapAvailable, "needs root, /dev/net/tun and ip"))
    func kvAt4MiBKeepsAnsweringPingThroughAThousandHalfSentAndAThousandIdleClients() throws {
        let tap = try HostTap(tag: "q", octet: 140)
        defer { tap.remove() }
        let server = try MonitorHarness.Server(["run", "examples/kv", "--platform", "kvm", "-m", "4M", "--net", "tap:\(tap.name)",
                                                "-e", "ip=\(tap.guestAddress)/24", "-e", "kv.report=5"],
                                               ready: "kv: ready")
        let result = Self.flood(host: tap.guestAddress, port: 6379, partial: "*3\r\n$3\r\nSET\r\n",
                                request: "PING\r\n", expect: "+PONG", seconds: 15)
        let after = timedExchange(host: tap.guestAddress, port: 6379, request: "PING\r\n", expect: "+PONG")
        let (status, errors) = server.stop()
        let console = server.console
        #expect(!console.contains("panic"), "\(console.suffix(2000))")
        #expect(result.opened >= 100, "the flood opened only \(result.opened) connections")
        let worst = result.latencies.map { $0 ?? 99 }.max() ?? 99
        let sorted = result.latencies.map { $0 ?? 99 }.sorted()
        let median = sorted.isEmpty ? 99 : sorted[sorted.count / 2]
        // At 4 MiB a probe's SYN that lands in the same instant as the thousand trickled bytes can be
        // refused for memory (counted as syn-refused-memory) until the server's eviction makes room:
        // the client then waits one SYN retransmission (1 s). Never longer, and typically milliseconds.
        #expect(worst < 2.0, "a real client waited \(worst) s: \(result.latencies)")
        #expect(median < 0.2, "median \(median) s: \(result.latencies)")
        #expect(after != nil)
        #expect(status == 128 + SIGTERM, "\(status) \(errors)")
        let last = console.split(separator: "\n").last { $0.hasPrefix("kv: report:") }.map(String.init) ?? "(no report)"
        print("slow-client figures: kv 4M: opened \(result.opened), probes \(result.latencies.count), worst \(worst) s; \(last)")
    }

    /// A SYN flood from addresses that never answer (spoofed, unused on the subnet): 3000 SYNs in well
    /// under a second fill the backlog with half-open entries that retry for a minute. SYN cookies keep
    /// the port open: real clients connect at once, during and after the flood (issue: before cookies
    /// 2000 such SYNs made curl fail for 10 s).
    @Test(.enabled(if: MonitorHarness.tapAvailable && hostToolExists("python3"), "needs root, /dev/net/tun, ip and python3"))
    func httpdAnswersAtOnceThroughASpoofedSynFlood() throws {
        let tap = try HostTap(tag: "y", octet: 121)
        defer { tap.remove() }
        let server = try MonitorHarness.Server(["run", "examples/httpd", "--platform", "kvm", "--net", "tap:\(tap.name)",
                                                "-e", "ip=\(tap.guestAddress)/24", "--", "--quiet", "--report", "2"],
                                               ready: "httpd: serving")
        let flood = """
            import random, socket, struct, sys
            guest, subnet, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
            def checksum(data):
                if len(data) % 2: data += b"\\0"
                total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
                while total >> 16: total = (total & 0xFFFF) + (total >> 16)
                return ~total & 0xFFFF
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            for index in range(count):
                source = "%s.%d" % (subnet, random.randint(150, 250))
                sport, seq = random.randint(1024, 65535), random.getrandbits(32)
                tcp = struct.pack("!HHIIBBHHH", sport, 80, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
                pseudo = socket.inet_aton(source) + socket.inet_aton(guest) + struct.pack("!BBH", 0, 6, len(tcp))
                tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), index & 0xFFFF, 0, 64, 6, 0,
                                 socket.inet_aton(source), socket.inet_aton(guest))
                raw.sendto(ip + tcp, (guest, 0))
            """
        let start = Date()
        let sent = try runHostTool(["python3", "-c", flood, tap.guestAddress, tap.subnet, "3000"])
        let floodSeconds = Date().timeIntervalSince(start)
        #expect(sent.status == 0, "\(sent.output)")
        var latencies: [Double?] = []
        for _ in 0 ..< 10 {
            latencies.append(timedExchange(host: tap.guestAddress, port: 80, request: "GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n",
                                           expect: "HTTP/1.1 200"))
            Thread.sleep(forTimeInterval: 0.5)
        }
        // Afterwards the flood's half-open entries wait for ARP that never answers and retry on their
        // timers: the guest must sleep, not spin (the monitor's CPU time over 3 s, from /proc).
        let monitorPID = (try? runHostTool(["pgrep", "-P", String(server.process.processIdentifier)]).output)
            .flatMap { Int32($0.split(separator: "\n").first ?? "") }
        func cpuTicks() -> Int? {
            guard let pid = monitorPID, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
            return user + system
        }
        let before = cpuTicks()
        Thread.sleep(forTimeInterval: 3)
        let after = cpuTicks()
        if let before, let after {
            let share = Double(after - before) / 100 / 3                // clock ticks are 1/100 s
            #expect(share < 0.25, "the guest used \(share * 100) % of a CPU while idle after the flood")
            print("syn-flood figures: guest CPU after the flood \(Int(share * 100)) %")
        }
        let (status, errors) = server.stop()
        let console = server.console
        #expect(!console.contains("panic"), "\(console.suffix(2000))")
        let worst = latencies.map { $0 ?? 99 }.max() ?? 99
        #expect(worst < 0.5, "a real client waited \(worst) s during the flood: \(latencies)")
        let last = console.split(separator: "\n").last { $0.hasPrefix("httpd: report:") }.map(String.init) ?? "(no report)"
        #expect(last.contains("syn-cookies ") && !last.contains("syn-cookies 0/"), "\(last)")
        #expect(status == 128 + SIGTERM, "\(status) \(errors)")
        print("syn-flood figures: httpd: 3000 spoofed SYNs in \(floodSeconds) s, probes \(latencies.count), worst \(worst) s; \(last)")
    }
}
