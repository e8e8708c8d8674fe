// Builder: from a manifest to a bootable image.
//
// `resolve` loads the manifest and the library catalog and resolves the library graph (errors stop
// there, before anything is compiled). `build` then runs the stages of an `ImageBuild`
// (BuildPipeline.swift), each named, each skipping work whose inputs did not change:
//   libraries      compile each library, dependencies first, as one Embedded Swift module for
//                  x86_64-unknown-none-elf (whole-module, -Osize, one section per function) and assemble
//                  its .S files; a library is rebuilt only when its sources, the flags or a dependency
//                  changed, and one compiled for any app is kept in a per-user cache by fingerprint;
//   root-file-system  when the image contains `files`, pack the manifest's `rootfs:` folder as a cpio
//                  newc archive and assemble it into the read-only data (content-hashed);
//   app            generate the wiring from the selected libraries' templates (one typealias per API
//                  slot) and compile it with the app's sources as the module `App`;
//   link           ld.lld with the kernel's linker script, --gc-sections (unused functions of selected
//                  libraries vanish too) and a 16-byte file alignment, writing a map file for `tessera
//                  size`; the unstripped ELF is kept for symbolizing crash reports, the stripped one boots.
// Outputs go to `<app>/.tessera/`. Unselected libraries are never compiled, so they cost zero bytes.

import Foundation

public struct BuildProduct {
    public var resolved: ResolvedImage
    /// The stripped, bootable image.
    public var image: URL
    /// The same image with its symbol table.
    public var debugImage: URL
    public var map: URL
    public var wiring: URL
    /// Each object file and the library (or "app") it came from.
    public var objects: [(library: String, url: URL)]
    /// What this build compiled: library names, "app", and "files (root file system)" when the root
    /// file system's archive was reassembled (libraries restored from the cache are not listed).
    public var compiledLibraries: [String]
}

public struct Builder {
    public var toolchain: Toolchain
    /// The built-in micro-library folder (`lib/` of the Tessera checkout).
    public var libraryRoot: String
    /// Progress lines ("compiling kernel"); nil for silence.
    public var log: ((String) -> Void)?
    /// Link-time optimization across all libraries (LLVM full LTO): smaller and faster images, but the
    /// linker map can no longer attribute bytes to libraries, so `tessera size` reports without it.
    public var linkTimeOptimization = false
    /// Compiled libraries shared by every app on this machine, keyed by fingerprint: an app folder
    /// that has never been built reuses what another one compiled. Nil disables it.
    /// Default: $TESSERA_CACHE, else $XDG_CACHE_HOME/tessera, else ~/.cache/tessera.
    public var cacheDirectory: URL? = Builder.defaultCacheDirectory()

    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let explicit = environment["TESSERA_CACHE"] {
            return explicit.isEmpty ? nil : URL(fileURLWithPath: explicit)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("tessera")
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/tessera")
    }

    public init(toolchain: Toolchain, libraryRoot: String, log: ((String) -> Void)? = nil) {
        self.toolchain = toolchain
        self.libraryRoot = libraryRoot
        self.log = log
    }

    public static let swiftFlags = [
        "-target", "x86_64-unknown-none-elf",
        "-enable-experimental-feature", "Embedded",
        "-enable-experimental-feature", "Extern",
        "-wmo", "-parse-as-library", "-Osize",
        "-Xfrontend", "-function-sections",
        "-enforce-exclusivity=unchecked",
    ]

    /// Loads and resolves without building: what `tessera build` checks first.
    /// `platform` replaces the manifest's `platform:` (what `tessera run --platform kvm` builds for).
    public func resolve(manifestPath: String, platform: String? = nil) throws -> ResolvedImage {
        var manifest = try Manifest.load(path: manifestPath)
        if let platform {
            guard Manifest.platforms.contains(platform) else {
                throw ToolError("unknown platform '\(platform)'; valid platforms: \(Manifest.platforms.joined(separator: ", "))")
            }
            manifest.platform = platform
        }
        let catalog = try LibraryCatalog.load(manifest: manifest, builtinLibraries: libraryRoot)
        return try LibraryGraph.resolve(manifest: manifest, catalog: catalog)
    }

    /// Builds the image: the stages of `ImageBuild` in order (BuildPipeline.swift).
    public func build(manifestPath: String, platform: String? = nil) throws -> BuildProduct {
        var build = try ImageBuild(builder: self, resolved: resolve(manifestPath: manifestPath, platform: platform))
        for stage in ImageBuild.Stage.allCases { try build.run(stage) }
        return try build.product()
    }

    /// Copies cached files into place; false (and nothing changed that matters) if any is missing.
    func restore(_ files: [URL], from entry: URL) -> Bool {
        let fm = FileManager.default
        guard files.allSatisfy({ fm.fileExists(atPath: entry.appendingPathComponent($0.lastPathComponent).path) }) else {
            return false
        }
        for file in files {
            try? fm.removeItem(at: file)
            guard (try? fm.copyItem(at: entry.appendingPathComponent(file.lastPathComponent), to: file)) != nil else {
                return false
            }
        }
        return true
    }

    /// Saves build outputs under `entry`, written to a temporary folder first and renamed, so a
    /// concurrent build never sees half an entry. Failures only cost a future rebuild.
    func store(_ files: [URL], in entry: URL) {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: entry.path) else { return }
        let staging = entry.deletingLastPathComponent()
            .appendingPathComponent(".staging-\(getpid())-\(entry.lastPathComponent)")
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            for file in files { try fm.copyItem(at: file, to: staging.appendingPathComponent(file.lastPathComponent)) }
            try fm.moveItem(at: staging, to: entry)
        } catch {
            try? fm.removeItem(at: staging)
        }
    }

    /// The wiring template: every selected library's `Wiring.swift.in`, in build order. The kernel's
    /// declares `TesseraImage`; a library that plugs into the kernel (interrupts, clock, threads) adds
    /// a fragment that extends it, so the hook exists only in images that select the library.
    func kernelTemplate(_ resolved: ResolvedImage) throws -> String {
        var parts: [String] = []
        for library in resolved.libraries {
            let candidate = URL(fileURLWithPath: library.directory).appendingPathComponent("Wiring.swift.in")
            if let text = try? String(contentsOf: candidate, encoding: .utf8) {
                parts.append(parts.isEmpty ? text : "// From \(library.name):\n" + text)
            }
        }
        guard parts.contains(where: { $0.contains("enum TesseraImage") }) else {
            throw ToolError("no selected library provides the wiring template (Wiring.swift.in with enum TesseraImage)")
        }
        return parts.joined(separator: "\n")
    }

    var swiftFlags: [String] { Self.swiftFlags + (linkTimeOptimization ? ["-lto=llvm-full"] : []) }

    func compileSwift(module: String, sources: [URL], modules: URL, object: URL, emitModule: Bool) throws {
        var arguments = swiftFlags + ["-module-name", module, "-I", modules.path, "-emit-object", "-o", object.path]
        if emitModule {
            arguments += ["-emit-module", "-emit-module-path", modules.appendingPathComponent("\(module).swiftmodule").path]
        }
        try invoke(toolchain.swiftc, arguments + sources.map(\.path), what: "compiling \(module)")
    }

    func invoke(_ tool: URL, _ arguments: [String], what: String) throws {
        let result = try runCommand(tool, arguments)
        guard result.status == 0 else {
            throw ToolError("\(what) failed (\(tool.lastPathComponent) exited \(result.status)):\n\(result.output)")
        }
    }
}

/// A content hash (FNV-1a, 64-bit) of files and strings, to decide what to rebuild. Bytes are hashed
/// through a raw buffer: ten times faster than through a generic sequence in debug builds of tessera,
/// which matters for megabytes of root file system.
enum Fingerprint {
    static func of(files: [URL], extra: [String]) throws -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ bytes: UnsafeRawBufferPointer) {
            var value = hash
            for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
            hash = (value ^ 0xFF) &* 0x100_0000_01B3
        }
        func mix(_ string: String) {
            var string = string
            string.withUTF8 { mix(UnsafeRawBufferPointer($0)) }
        }
        for file in files {
            mix(file.lastPathComponent)
            try Data(contentsOf: file).withUnsafeBytes { mix($0) }
        }
        for string in extra { mix(string) }
        return String(hash, radix: 16)
    }
}
