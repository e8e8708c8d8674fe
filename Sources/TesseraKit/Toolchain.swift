// Toolchain: finding the programs a build and a run need, and running them.
//
// Tessera builds with the Swift toolchain on PATH (swiftc, and the clang, ld.lld and llvm-objcopy that
// ship beside it) and runs images with qemu-system-x86_64. Each lookup fails with a message that says
// how to get the missing program, so a new user is never left with "file not found".

import Foundation

public struct ToolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public struct Toolchain {
    public var swiftc: URL
    public var clang: URL
    public var linker: URL
    public var objcopy: URL
    /// `<toolchain>/usr/lib/swift`, for the embedded runtime pieces (Unicode data tables).
    public var swiftLibraryDirectory: URL

    /// Finds the toolchain through `swiftc` on PATH (or $TESSERA_SWIFTC).
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Toolchain {
        let swiftc: URL
        if let explicit = environment["TESSERA_SWIFTC"] {
            swiftc = URL(fileURLWithPath: explicit)
        } else if let found = findExecutable("swiftc", environment: environment) {
            swiftc = found
        } else {
            throw ToolError("swiftc not found on PATH: install a Swift 6.x toolchain (swift.org) and put its usr/bin on PATH")
        }
        let bin = swiftc.resolvingSymlinksInPath().deletingLastPathComponent()
        func sibling(_ name: String) throws -> URL {
            let candidate = bin.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            if let found = findExecutable(name, environment: environment) { return found }
            throw ToolError("\(name) not found next to \(swiftc.path) or on PATH: it ships with the Swift toolchain")
        }
        return Toolchain(swiftc: swiftc, clang: try sibling("clang"), linker: try sibling("ld.lld"),
                         objcopy: try sibling("llvm-objcopy"),
                         swiftLibraryDirectory: bin.deletingLastPathComponent().appendingPathComponent("lib/swift"))
    }

    /// Names this exact toolchain (path, size and modification time of swiftc), so that cached objects
    /// from another toolchain are never reused.
    public var identity: String {
        let resolved = swiftc.resolvingSymlinksInPath()
        let attributes = try? FileManager.default.attributesOfItem(atPath: resolved.path)
        let size = (attributes?[.size] as? Int) ?? 0
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(resolved.path):\(size):\(Int(modified))"
    }

    /// The Unicode data tables for Embedded Swift on the kernel's target (linked; unused parts are
    /// dropped by --gc-sections).
    public var unicodeDataTables: URL {
        swiftLibraryDirectory.appendingPathComponent("embedded/x86_64-unknown-none-elf/libswiftUnicodeDataTables.a")
    }
}

/// Searches PATH for an executable.
public func findExecutable(_ name: String,
                           environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
    for directory in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

/// The result of running a program to completion.
public struct CommandResult {
    public var status: Int32
    public var output: String
}

/// Runs a program, capturing stdout and stderr together.
@discardableResult
public func runCommand(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}
