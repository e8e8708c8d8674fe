// 9P2000.L against diod (Debian's `diod`), with Linux as the oracle: a host tree reads back the same
// through `NinePFileSystem`; what the VFS writes, renames and removes is what the host sees; errno is the
// host's (a seeded random sequence runs on a host folder and on the 9P mount side by side, as
// VFSDifferentialTests does for ramfs); a read-only mount is EROFS; a walk over thousands of files holds
// few fids; random bytes to every decoder, and a server whose replies are damaged, are errors, not crashes.
// diod runs in the foreground, unauthenticated, without a config file, for one client: on a socket pair
// as its stdin (`diod -f -n -c /dev/null -L stderr -e DIR -r 0 -w 0`, it exits when the client hangs up)
// or on TCP (`... -e DIR -l 127.0.0.1:PORT`). diod 1.0.24 lacks Tunlinkat and Trenameat, so the client's
// Tremove/Trename fallback is what runs here; QEMU's virtio-9p has both.

import Foundation
import Glibc
import NineP
import Testing
import VFS

/// 9P messages over a stream socket: one request written, one reply read (its size first).
final class SocketTransport: NinePTransport {
    let descriptor: Int32
    let maximumMessageSize = 65536 + 24

    init(descriptor: Int32) {
        self.descriptor = descriptor
        var timeout = timeval(tv_sec: 20, tv_usec: 0)          // a stuck server fails the test, not hangs it
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(descriptor) }
    /// Ends the conversation (diod on a socket pair exits); the descriptor is closed with the transport.
    func hangUp() { Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    func transact(_ request: [UInt8]) -> [UInt8]? {
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            sent += count
        }
        guard let header = receive(4) else { return nil }
        let size = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard size >= 4, size <= maximumMessageSize, let rest = receive(size - 4) else { return nil }
        return header + rest
    }

    func receive(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.recv(descriptor, $0.baseAddress! + done, count - done, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            done += got
        }
        return bytes
    }
}

/// A diod serving one folder to one client.
final class Diod {
    let process = Process()
    let transport: SocketTransport
    let folder: String
    let overTCP: Bool

    init(exporting folder: String, overTCP: Bool = false) throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/diod"), "diod is not installed (apt-get install diod)")
        (self.folder, self.overTCP) = (folder, overTCP)
        // No core files: diod 1.0.24 sometimes dumps core as its client hangs up, and a 280 MB core
        // would land in the working directory (the repository). Children inherit the soft limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        limit.rlim_cur = 0
        setrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/diod")
        (process.standardOutput, process.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice)
        let common = ["-f", "-n", "-c", "/dev/null", "-L", "stderr", "-e", folder]
        if overTCP {
            let port = Self.freePort()
            process.arguments = common + ["-l", "127.0.0.1:\(port)"]
            try process.run()
            transport = SocketTransport(descriptor: try Self.connect(port: port))
        } else {
            var pair: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
            process.arguments = common + ["-r", "0", "-w", "0"]
            process.standardInput = FileHandle(fileDescriptor: pair[1], closeOnDealloc: false)
            defer { Glibc.close(pair[1]) }
            do { try process.run() } catch { Glibc.close(pair[0]); throw error }
            transport = SocketTransport(descriptor: pair[0])
        }
    }

    func mount(readOnly: Bool = false) throws -> NinePFileSystem {
        try NinePFileSystem(transport: transport, attachName: Array(folder.utf8), readOnly: readOnly)
    }

    func stop() {
        transport.hangUp()
        if overTCP { process.terminate() }
        for _ in 0 ..< 100 where process.isRunning { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        (address.sin_family, address.sin_port, address.sin_addr.s_addr) = (sa_family_t(AF_INET), port.bigEndian, inet_addr("127.0.0.1"))
        return address
    }

    /// A TCP port nobody uses now (the kernel picks it; diod takes it next).
    static func freePort() -> UInt16 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(socket) }
        var address = loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length); return getsockname(socket, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Connects to diod's port, waiting up to 5 s for it to listen.
    static func connect(port: UInt16) throws -> Int32 {
        var address = loopback(port)
        for _ in 0 ..< 100 {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if status == 0 { return socket }
            Glibc.close(socket)
            usleep(50_000)
        }
        throw FileError.io
    }
}

/// A transport that, once armed, damages one reply in `every` at random: a flipped byte, a cut, extra
/// bytes, or noise.
final class CorruptingTransport: NinePTransport {
    let inner: any NinePTransport
    var random: SeededGenerator
    var armed = false
    let every: UInt64
    var maximumMessageSize: Int { inner.maximumMessageSize }
    init(_ inner: any NinePTransport, seed: UInt64, every: UInt64) {
        (self.inner, random, self.every) = (inner, SeededGenerator(state: seed), every)
    }

    func transact(_ request: [UInt8]) -> [UInt8]? {
        guard var reply = inner.transact(request) else { return nil }
        guard armed, random.next() % every == 0, !reply.isEmpty else { return reply }
        switch random.next() % 4 {
        case 0: reply[Int(random.next() % UInt64(reply.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
        case 1: reply.removeLast(Int(random.next() % UInt64(reply.count)))
        case 2: reply += (0 ..< random.next() % 40).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        default: reply = (0 ..< random.next() % 64).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
        if reply.count >= 7, random.next() % 2 == 0 {                // keep the size field right, so decoders run
            for index in 0 ..< 4 { reply[index] = UInt8(truncatingIfNeeded: reply.count >> (8 * index)) }
        }
        return reply
    }
}

/// A fresh host folder's path (the attach name diod matches against its export).
func freshFolder() throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-9p-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}

@Suite struct NinePTests {
    @Test func messagesAreTheBytesDiodTakesAndGives() throws {
        // Requests diod 1.0.24 took, and its replies, captured once from a session.
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        func bytes(_ hex: String) -> [UInt8] {
            let digits = Array(hex.utf8)
            return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0 ..< $0 + 2], as: UTF8.self), radix: 16)! }
        }
        #expect(hex(NinePRequest.version(messageSize: 65560)) == "1500000064ffff18000100" + "0800" + "3950323030302e4c")
        #expect(hex(try NinePRequest.attach(fid: 0, userName: Array("root".utf8), attachName: Array("/tmp/np/ex6".utf8), userID: 0))
                == "2600000068010000000000ffffffff0400726f6f740b002f746d702f6e702f65783600000000")
        #expect(hex(try NinePRequest.walk(fid: 0, newFid: 1, names: [Array("hostname".utf8)]))
                == "1b0000006e0100000000000100000001000800686f73746e616d65")
        #expect(hex(NinePRequest.getattr(fid: 1)) == "1300000018010001000000ff07000000000000")
        var version = try NinePReply(bytes("150000006501000000010008003950323030302e4c"))
        #expect(try version.version() == (65536, Array("9P2000.L".utf8)))
        var walked = try NinePReply(bytes("160000006f010001000000000000b801f80000000000"))
        #expect(try walked.walk() == [NinePQid(type: 0, version: 0, path: 16_253_368)])
        // Rgetattr of a file "tessera\n" with mode 0644 and mtime 1600000000.
        var attributes = try NinePReply(bytes(
            "a0000000190100ff070000000000000000000000b801f80000000000a4810000000000000000000001000000000000000000000000000000"
            + "08000000000000000010000000000000080000000000000000105e5f00000000000000000000000000105e5f000000000000000000000000"
            + "65fe126b00000000c5e2ef1f000000000000000000000000000000000000000000000000000000000000000000000000"))
        let decoded = try attributes.attributes()
        #expect(decoded.qid.path == 16_253_368 && decoded.mode == 0o100644 && decoded.size == 8 && decoded.blocks == 8 && decoded.linkCount == 1)
        #expect(decoded.modificationTime == TimeSpec(seconds: 1_600_000_000) && decoded.changeTime.nanoseconds == 0x1FEF_E2C5)
        var error = try NinePReply(bytes("0b00000007010002000000"))
        #expect(try error.type == NinePMessageType.errorReply && error.errorCode() == 2)
        #expect(throws: FileError.io) { try NinePReply(bytes("0c00000007010002000000")) }     // size says 12, 11 came
    }

    @Test func aTreeMadeOnTheHostReadsTheSame() throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let diod = try Diod(exporting: folder.path)
        defer { diod.stop() }
        let vfs = VirtualFileSystem(root: try diod.mount())
        #expect(try describeVFSTree(vfs) == describeHostTree(folder))
        #expect(try vfs.status("/bin/tool").inode == vfs.status("/bin/hardlink").inode)
        #expect(try vfs.status("/bin/tool").linkCount == 2)
        #expect(try vfs.status("/etc/hostname").modificationTime.seconds == 1_600_000_000)
        #expect(try vfs.readLink("/bin/alias") == "tool" && vfs.contents(of: "/bin/alias").count == 70_000)
        try vfs.changeDirectory("/etc/ssl")
        #expect(try vfs.currentDirectory() == Array("/etc/ssl".utf8), "getcwd walks .. and lists each parent")
        #expect(try vfs.status("../../bin/tool").size == 70_000)
        #expect(vfs.mountTable.first?.usage.totalBytes ?? 0 > 0, "Tstatfs")
    }

    @Test func changesThroughTheVFSAreWhatTheHostSees() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let diod = try Diod(exporting: folder)
        defer { diod.stop() }
        let vfs = VirtualFileSystem(root: try diod.mount())
        let big = (0 ..< 200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }   // several msize chunks
        try vfs.makeDirectory("/d")
        try vfs.write(big, to: "/d/big")
        #expect(FileManager.default.contents(atPath: folder + "/d/big").map(Array.init) == big)
        try vfs.rename("/d/big", to: "/moved")
        try vfs.symbolicLink("moved", at: "/link")
        try vfs.link("/moved", to: "/d/hard")
        try vfs.truncate("/moved", to: 1000)
        try vfs.setAttributes(Array("/moved".utf8), permissions: 0o600, modificationTime: TimeSpec(seconds: 1_234_567_890, nanoseconds: 5))
        try vfs.makeDirectory("/d/e")
        try vfs.rename("/d", to: "/renamed")                        // a directory: the cached fids below it go
        try vfs.write(Array("after".utf8), to: "/renamed/e/new")
        #expect(throws: FileError.notEmpty) { try vfs.removeDirectory("/renamed/e") }
        try vfs.unlink("/renamed/e/new")
        try vfs.removeDirectory("/renamed/e")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == ["moved", "link", "renamed"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/renamed") == ["hard"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/link") == "moved")
        #expect(FileManager.default.contents(atPath: folder + "/moved").map(Array.init) == Array(big[0 ..< 1000]))
        var info = stat()
        #expect(lstat(folder + "/moved", &info) == 0 && info.st_mode & 0o7777 == 0o600 && info.st_nlink == 2 && info.st_mtim.tv_sec == 1_234_567_890 && info.st_mtim.tv_nsec == 5)
        // The client caches nothing: what the host does is seen at once.
        try Data("host".utf8).write(to: URL(fileURLWithPath: folder + "/moved"))
        #expect(try vfs.contents(of: "/moved") == Array("host".utf8))
        try FileManager.default.removeItem(atPath: folder + "/link")
        #expect(throws: FileError.noEntry) { try vfs.status("/link", follow: false) }
        // An open file outlives its name, as on Linux.
        let file = try File("/moved", .readWrite, in: vfs)
        try vfs.unlink("/moved")
        try file.write("!")
        _ = try file.seek(to: 0)
        #expect(try file.readAll() == Array("!ost".utf8))
        try file.close()
    }

    @Test func errnoIsTheServersForTheSameCase() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/full/inner", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/file"))
        let diod = try Diod(exporting: folder)
        defer { diod.stop() }
        let fs = try diod.mount()
        let root = fs.rootNode
        // Straight to the file system, so the server, not the VFS, decides.
        #expect(throws: FileError.noEntry) { try fs.lookup(root, Array("missing".utf8)) }
        #expect(throws: FileError.exists) { try fs.create(root, Array("file".utf8), type: .regular, permissions: 0o644, userID: 0, groupID: 0) }
        #expect(throws: FileError.exists) { try fs.create(root, Array("full".utf8), type: .directory, permissions: 0o755, userID: 0, groupID: 0) }
        #expect(throws: FileError.notEmpty) { try fs.removeDirectory(root, Array("full".utf8)) }
        #expect(throws: FileError.notDirectory) { try fs.removeDirectory(root, Array("file".utf8)) }
        #expect(throws: FileError.isDirectory) { try fs.unlink(root, Array("full".utf8)) }
        #expect(throws: FileError.isDirectory) { try fs.rename(root, Array("file".utf8), to: root, Array("full".utf8)) }
        #expect(throws: FileError.notDirectory) { try fs.lookup(try fs.lookup(root, Array("file".utf8)), Array("x".utf8)) }
        #expect(throws: FileError.isDirectory) { _ = try fs.read(root, at: 0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        // And through the VFS, the errno Linux gives.
        let vfs = VirtualFileSystem(root: fs)
        #expect(throws: FileError.noEntry) { try vfs.status("/missing/x") }
        #expect(throws: FileError.notDirectory) { try vfs.status("/file/x") }
        #expect(throws: FileError.exists) { try vfs.makeDirectory("/full") }
        #expect(throws: FileError.notEmpty) { try vfs.removeDirectory("/full") }
        #expect(throws: FileError.invalid) { try vfs.rename("/full", to: "/full/inner/deeper") }
    }

    @Test func aReadOnlyMountOverTCPRefusesChangesWithEROFS() throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let diod = try Diod(exporting: folder.path, overTCP: true)
        defer { diod.stop() }
        let fs = try diod.mount(readOnly: true)
        let vfs = VirtualFileSystem(root: fs)
        #expect(try vfs.contents(of: "/etc/hostname") == Array("tessera\n".utf8))
        #expect(throws: FileError.readOnly) { try vfs.write([1], to: "/new") }
        #expect(throws: FileError.readOnly) { try vfs.unlink("/etc/hostname") }
        #expect(throws: FileError.readOnly) { try vfs.makeDirectory("/dir") }
        #expect(throws: FileError.readOnly) { try fs.create(fs.rootNode, Array("x".utf8), type: .regular, permissions: 0o644, userID: 0, groupID: 0) }
        #expect(throws: FileError.readOnly) { try fs.truncate(try fs.lookup(fs.rootNode, Array("bin".utf8)), to: 0) }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomSequencesGiveTheHostsResultsAndErrno(seed: UInt64) throws {
        let host = HostSandbox()
        let shared = HostSandbox()                                  // its folder holds sandbox/, served by diod
        let diod = try Diod(exporting: shared.root)
        defer { diod.stop() }
        let vfs = VFSSandbox(try diod.mount(), existing: true)
        guard VFSDifferentialTests.runSideBySide(host, vfs, seed: seed, steps: 1500, label: "9p") else { return }
        #expect(host.tree() == vfs.tree() && shared.tree() == vfs.tree(), "seed \(seed)")
    }

    @Test func aWalkOverThousandsOfFilesHoldsFewFids() throws {
        let folder = try freshFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for directory in 0 ..< 20 {
            try FileManager.default.createDirectory(atPath: folder + "/d\(directory)", withIntermediateDirectories: true)
            for file in 0 ..< 150 { _ = FileManager.default.createFile(atPath: folder + "/d\(directory)/file-\(file)", contents: Data([UInt8(file)])) }
        }
        let diod = try Diod(exporting: folder)
        defer { diod.stop() }
        let fs = try diod.mount()
        let vfs = VirtualFileSystem(root: fs)
        let tree = try describeVFSTree(vfs)                          // lists, stats and reads every file
        #expect(tree.count == 20 + 20 * 150)
        #expect(tree == describeHostTree(URL(fileURLWithPath: folder)))
        #expect(fs.fidsInUse <= 40, "\(fs.fidsInUse) fids after a walk over 3000 files")
        // Reading a listing a few names at a time, while the host removes and adds names, neither
        // repeats nor skips a name that stays.
        let fd = try vfs.open(Array("/d0".utf8), [.directory])
        var seen = try vfs.readDirectory(fd, limit: 10).map(\.nameString)
        for file in 100 ..< 150 { try FileManager.default.removeItem(atPath: folder + "/d0/file-\(file)") }
        _ = FileManager.default.createFile(atPath: folder + "/d0/late", contents: nil)
        var page = try vfs.readDirectory(fd, limit: 7)
        while !page.isEmpty { seen += page.map(\.nameString); page = try vfs.readDirectory(fd, limit: 7) }
        try vfs.close(fd)
        let survivors = Set((0 ..< 100).map { "file-\($0)" })
        #expect(seen.filter { survivors.contains($0) }.count == 100 && Set(seen).isSuperset(of: survivors))
        #expect(fs.fidsInUse <= 40)
    }

    @Test func repliesOfAnyShapeAreCheckedNotTrusted() {
        var random = SeededGenerator(state: 9)
        var decoded = 0
        for round in 0 ..< 20_000 {
            let length = Int(random.next() % 200)
            var bytes = (0 ..< length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0 && bytes.count >= 7 {                   // a right size field, so the decoders run
                for index in 0 ..< 4 { bytes[index] = UInt8(truncatingIfNeeded: UInt32(bytes.count) >> (8 * UInt32(index))) }
            }
            guard let reply = try? NinePReply(bytes) else { continue }
            var copy = reply
            if (try? copy.errorCode()) != nil { decoded += 1 }
            copy = reply; _ = try? copy.version(); copy = reply; _ = try? copy.walk(); copy = reply; _ = try? copy.opened()
            copy = reply; _ = try? copy.attributes(); copy = reply; _ = try? copy.directoryEntries()
            copy = reply; _ = try? copy.statistics(); copy = reply; _ = try? copy.target(); copy = reply
            var buffer = [UInt8](repeating: 0, count: 16)
            if let count = try? copy.count() { buffer.withUnsafeMutableBytes { _ = try? copy.copy(Int(count), to: $0) } }
        }
        #expect(decoded > 1000)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func aServerWhoseRepliesAreDamagedIsAnErrorNotACrash(seed: UInt64) throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let diod = try Diod(exporting: folder.path)
        defer { diod.stop() }
        let damaging = CorruptingTransport(diod.transport, seed: seed, every: 6)
        let vfs = VirtualFileSystem(root: try NinePFileSystem(transport: damaging, attachName: Array(folder.path.utf8)))
        damaging.armed = true
        var failures = 0
        var budget = 3000                                           // calls, however the damage reshapes the tree
        func walk(_ path: String, depth: Int) {
            budget -= 1
            guard budget > 0, depth < 6, let entries = try? vfs.list(path) else { failures += 1; return }
            for entry in entries.prefix(50) where budget > 0 {
                budget -= 1
                let child = (path == "/" ? "" : path) + "/" + entry.nameString
                guard let status = try? vfs.status(child, follow: false) else { failures += 1; continue }
                if status.isDirectory { walk(child, depth: depth + 1) }
                if status.type == .regular { _ = try? vfs.contents(of: child) }
                if status.type == .symbolicLink { _ = try? vfs.readLink(child) }
            }
            _ = try? vfs.write([1, 2, 3], to: path == "/" ? "/scratch" : path + "/scratch")
        }
        for _ in 0 ..< 5 { walk("/", depth: 0) }
        #expect(failures > 0, "one reply in six was damaged: some calls failed")
    }
}
