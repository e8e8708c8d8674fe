import Clock
import Files
import Kernel

struct FilesBench: Application {
    static func main(arguments: [String]) -> Int32 {
        let count = arguments.first.flatMap { Int($0) } ?? 10_000
        let megabytes = arguments.dropFirst().first.flatMap { Int($0) } ?? 16
        // A third argument puts the work on another file system (an ext2 disk mounted at /disk: /disk/bench).
        let base = arguments.dropFirst(2).first ?? "/bench"
        let vfs = Files.root
        do {
            try vfs.makeDirectory(base)
            var start = Clock.now()
            for index in 0 ..< count {
                let path = base + "/f\(index)"
                let fd = try vfs.open(path, [.writeOnly, .create, .exclusive])
                try vfs.close(fd)
                _ = try vfs.status(path)
                try vfs.unlink(path)
            }
            var elapsed = Clock.now() - start
            print("filesbench: create+stat+unlink \(count) in \(elapsed / 1000) us: \(UInt64(count) * 1_000_000_000 / max(elapsed, 1)) per s")
            let chunk = [UInt8](repeating: 0x5A, count: 65536)
            let total = megabytes << 20
            start = Clock.now()
            let file = try File(base + "/big", [.writeOnly, .create], in: vfs)
            var written = 0
            while written < total { try file.write(chunk); written += chunk.count }
            try file.sync()                                 // durable, as dd conv=fsync on the host
            try file.close()
            elapsed = Clock.now() - start
            print("filesbench: write \(megabytes) MiB in \(elapsed / 1000) us: \((UInt64(total) * 1_000_000_000 / max(elapsed, 1)) >> 20) MiB/s")
            start = Clock.now()
            let reader = try File(base + "/big", [], in: vfs)
            var read = 0
            while true {
                let bytes = try reader.read(upTo: 65536)
                if bytes.isEmpty { break }
                read += bytes.count
            }
            try reader.close()
            elapsed = Clock.now() - start
            print("filesbench: read \(read >> 20) MiB in \(elapsed / 1000) us: \((UInt64(read) * 1_000_000_000 / max(elapsed, 1)) >> 20) MiB/s")
        } catch {
            print("filesbench: " + error.messageString)
            return 1
        }
        return 0
    }
}
