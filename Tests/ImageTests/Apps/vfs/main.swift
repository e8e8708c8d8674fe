import Files
import Threads
import Kernel
import RamFS
import Shell
import ShellCore
import VFS

struct VFSCheck: Application {
    static let workers = 4
    static let rounds = 150
    static let record = 16

    nonisolated(unsafe) static var failures = 0

    static func fail(_ text: String) {
        print("vfs: FAIL " + text)
        failures += 1
    }

    /// One worker: its own directory, files created, appended, checked, renamed, removed; and one
    /// 16-byte record per round appended to the shared log with O_APPEND.
    static func work(_ worker: Int) {
        let vfs = Files.root
        let directory = "/tmp/w\(worker)"
        do { try vfs.makeDirectory(directory) } catch { fail("mkdir \(directory): " + error.messageString); return }
        for round in 0..<rounds {
            let path = directory + "/f\(round)"
            let body = Array("worker \(worker) round \(round)\n".utf8)
            do {
                try vfs.write(body, to: path)
                let file = try File(path, [.writeOnly, .append], in: vfs)
                try file.write(body)
                try file.close()
                let back = try vfs.contents(of: path)
                if back != body + body { fail("\(path) read back \(back.count) bytes") }
                if round % 3 == 0 { try vfs.rename(path, to: path + ".old") }
                if round % 5 == 0 { try vfs.unlink(round % 3 == 0 ? path + ".old" : path) }
                var line = Array("w\(worker) r\(round)".utf8)
                while line.count < record - 1 { line.append(UInt8(ascii: ".")) }
                line.append(10)
                let log = try File("/tmp/shared.log", [.writeOnly, .append, .create], in: vfs)
                try log.write(line)
                try log.close()
            } catch {
                fail(path + ": " + error.messageString)
                return
            }
            // Spin a little so the timer preempts threads in the middle of operations.
            var spin = 0
            for index in 0..<(200 * (worker + 1)) { spin &+= index }
            if spin == -1 { print("") }
        }
    }

    static func main(arguments: [String]) -> Int32 {
        let vfs = Files.root
        // 1. Concurrent workers.
        var handles: [ThreadHandle] = []
        for worker in 0..<workers {
            guard let handle = Thread.spawn(name: "vfs\(worker)", { work(worker) }) else { print("vfs: cannot spawn"); return 1 }
            handles.append(handle)
        }
        for handle in handles { Thread.join(handle) }
        var expectedNames = 0
        for round in 0..<rounds where round % 5 != 0 { expectedNames += 1 }
        for worker in 0..<workers {
            let names = (try? vfs.list("/tmp/w\(worker)").count) ?? -1
            if names != expectedNames { fail("/tmp/w\(worker) holds \(names) names, expected \(expectedNames)") }
        }
        do {
            let log = try vfs.contents(of: "/tmp/shared.log")
            if log.count != workers * rounds * record { fail("shared.log is \(log.count) bytes") }
            var seen = 0
            var index = 0
            while index + record <= log.count {
                if log[index + record - 1] != 10 || log[index] != UInt8(ascii: "w") { fail("record \(seen) torn") ; break }
                seen += 1
                index += record
            }
            print("vfs: \(workers) threads, \(seen) appended records intact, \(expectedNames) names each")
        } catch {
            fail("shared.log: " + error.messageString)
        }

        // 2. Fill the ramfs to its limit, then free it.
        let before = Files.ramfs.usage
        var written = 0
        do {
            let file = try File("/tmp/big", [.writeOnly, .create], in: vfs)
            let chunk = [UInt8](repeating: 0x5A, count: 4096)
            while true {
                do { try file.write(chunk) } catch {
                    print("vfs: full after \(written) bytes: " + error.messageString)
                    break
                }
                written += chunk.count
                if written > 64 * 1024 * 1024 { fail("no limit"); break }
            }
            try file.close()
            let full = Files.ramfs.usage
            if full.usedBytes > full.totalBytes { fail("used \(full.usedBytes) above the limit \(full.totalBytes)") }
            let status = try vfs.status("/tmp/big")
            if status.size != Int64(written) { fail("size \(status.size) after writing \(written)") }
            try vfs.unlink("/tmp/big")
            let after = Files.ramfs.usage
            if after.usedBytes != before.usedBytes { fail("used \(after.usedBytes) after unlink, \(before.usedBytes) before") }
            print("vfs: limit \(full.totalBytes), used at full \(full.usedBytes), back to \(after.usedBytes)")
        } catch {
            fail("/tmp/big: " + error.messageString)
        }

        // 3. The shell's file commands and the published gauges.
        // /dev and /proc as a Linux program would use them.
        do {
            let null = try File("/dev/null", [.writeOnly], in: vfs)
            print("vfs: /dev/null took \(try null.write([1, 2, 3]) == () ? 3 : 0) bytes, fd \(null.descriptor)")
            print("vfs: fd link " + (try vfs.readLink("/proc/self/fd/\(null.descriptor)")))
            try null.close()
            let zero = try vfs.contents(of: "/proc/uptime")
            print("vfs: uptime " + String(decoding: zero, as: UTF8.self), terminator: "")
            let random = try File("/dev/urandom", [], in: vfs)
            let bytes = try random.read(upTo: 32)
            try random.close()
            print("vfs: urandom gave \(bytes.count) bytes, \(Set(bytes).count) distinct")
            let console = try File("/dev/console", [.writeOnly], in: vfs)
            try console.write("vfs: written to /dev/console\n")
            try console.close()
        } catch {
            fail("/dev or /proc: " + error.messageString)
        }
        for line in ["ls -l /dev", "cat /proc/meminfo /proc/cpuinfo /proc/self/cmdline", "ls -l /proc/self/",
                     "ls -l / /bin /srv", "cat /etc/hostname /srv/name /srv/www/index.html", "write /tmp/hello Hello, files", "cat /tmp/hello", "mkdir -p /a/b/c", "ls -l /", "ls /a/b", "rm /a/b/c",
                     "ls /missing", "df", "stat /tmp"] {
            let result = ShellCommands.run(line)
            print("$ " + line)
            print(String(decoding: result.output, as: UTF8.self), terminator: "")
        }
        for gauge in ImageGauges.all {
            print("gauge " + gauge.name + "{" + gauge.labelName + "=" + gauge.labelValue + "} \(gauge.read())")
        }
        print(failures == 0 ? "vfs: ok" : "vfs: \(failures) failures")
        return failures == 0 ? 0 : 1
    }
}
