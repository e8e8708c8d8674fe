import Files
import Kernel

/// FNV-1a, 32-bit, over `bytes`.
func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}

/// Every regular file under `directory`, recursively, as full paths.
func regularFiles(_ directory: String) throws(FileError) -> [String] {
    var found: [String] = []
    for entry in try Files.root.list(directory) {
        let path = directory + "/" + entry.nameString
        if entry.type == .directory {
            found += try regularFiles(path)
        } else if entry.type == .regular {
            found.append(path)
        }
    }
    return found
}

/// Byte order of two strings (the host sorts the same way).
func precedes(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    for index in 0 ..< min(x.count, y.count) where x[index] != y[index] { return x[index] < y[index] }
    return x.count < y.count
}

/// Prints "files: N", then "file PATH LENGTH FNV1A" per file under /www in path order (PATH without
/// "/www"), checking that the root file system lends every non-empty file in place with the same bytes
/// as a read; then writes into one and checks it is read, not lent, afterwards. Exits 0 if all held.
struct FilesCheck: Application {
    static func main(arguments: [String]) -> Int32 {
        var failures = 0
        let paths: [String]
        do {
            paths = try regularFiles("/www").sorted(by: precedes)
        } catch {
            print("files: cannot list /www: " + error.messageString)
            return 1
        }
        print("files: \(paths.count)")
        for path in paths {
            guard let copy = try? Files.root.contents(of: path) else {
                print("files: cannot read " + path)
                failures += 1
                continue
            }
            let hash = copy.withUnsafeBytes { fnv1a($0) }
            print("file \(String(path.dropFirst(4))) \(copy.count) \(hex(hash))")
            let inPlace = (try? Files.root.contentsInPlace(path)) ?? nil
            if copy.isEmpty ? inPlace != nil : inPlace.map({ $0.count != copy.count || fnv1a($0) != hash }) ?? true {
                print("files: " + path + " is not lent in place with its bytes")
                failures += 1
            }
        }
        // A write copies the page it touches: the file is read afterwards, the image's bytes unchanged.
        do {
            let file = try File("/www/index.html", [.writeOnly], in: Files.root)
            _ = try file.seek(to: 0)
            try file.write("<")
            try file.close()
        } catch {
            print("files: cannot write /www/index.html: " + error.messageString)
            failures += 1
        }
        if ((try? Files.root.contentsInPlace("/www/index.html")) ?? nil) != nil {
            print("files: a written file is still lent")
            failures += 1
        }
        print("files: \(failures == 0 ? "ok" : "\(failures) failures")")
        return failures == 0 ? 0 : 1
    }
}
