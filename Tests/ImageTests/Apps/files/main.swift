import EmbeddedFiles
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

/// Prints "files: N", then "file PATH LENGTH FNV1A" per file in table order, then checks that every
/// file is found by its path (as a String and as bytes) and that absent paths are not; exits 0 if so.
struct Files: Application {
    static func main(arguments: [String]) -> Int32 {
        print("files: \(EmbeddedFiles.count)")
        var failures = 0
        for file in EmbeddedFiles.all {
            print("file \(file.path) \(file.bytes.count) \(hex(fnv1a(file.bytes)))")
            guard let byString = EmbeddedFiles.file(path: file.path),
                  byString.bytes.baseAddress == file.bytes.baseAddress,
                  let byBytes = EmbeddedFiles.file(path: file.pathBytes),
                  byBytes.bytes.count == file.bytes.count else {
                print("lookup failed: \(file.path)")
                failures += 1
                continue
            }
        }
        for missing in ["", "/", "/css", "/index.htm", "/index.html/", "index.html", "/zzz"] {
            if EmbeddedFiles.file(path: missing) != nil {
                print("found a file that does not exist: '\(missing)'")
                failures += 1
            }
        }
        if EmbeddedFiles.file(at: EmbeddedFiles.count) != nil || EmbeddedFiles.file(at: -1) != nil {
            print("file(at:) out of range returned a file")
            failures += 1
        }
        print("files: \(failures == 0 ? "ok" : "\(failures) failures")")
        return failures == 0 ? 0 : 1
    }
}
