// Builder: from a manifest to a bootable image.
//
// Steps (`build`):
//   1. load the manifest and the library catalog, resolve the library graph (errors stop here, before
//      anything is compiled);
//   2. compile each library, dependencies first, as one Embedded Swift module for
//      x86_64-unknown-none-elf (whole-module, -Osize, one section per function) and assemble its .S
//      files; a library is rebuilt only when its sources, the flags or a dependency changed (the app
//      only when the app, the wiring or a library changed, and the link only when the app, the linker
//      script or the embedded files changed); a library compiled for any app is kept in a per-user
//      cache by fingerprint and reused by others;
//   3. when the image contains `embedded-files`, generate `embedded_files.S` (the table of the files
//      under the manifest's `files:`, each `.incbin`ed; empty without `files:`) and assemble it; it is
//      regenerated when a file's contents, name or the set of files changed (content hash);
//   4. generate the wiring file from the kernel's template (one typealias per API slot) and compile it
//      with the app's sources as the module `App` (only when they or a library changed);
//   5. link with ld.lld, the kernel's linker script and --gc-sections (so unused functions of selected
//      libraries vanish too) and a 16-byte file alignment (segments stay page-aligned in memory, but
//      the file carries no page padding), writing a map file for `tessera size`; keep the unstripped ELF for
//      symbolizing crash reports, and strip the image that boots.
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
    /// What this build compiled: library names, "app", and "embedded-files (table)" when the embedded
    /// files' table was reassembled (libraries restored from the cache are not listed).
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

    public func build(manifestPath: String, platform: String? = nil) throws -> BuildProduct {
        let resolved = try resolve(manifestPath: manifestPath, platform: platform)
        let manifest = resolved.manifest
        var output = URL(fileURLWithPath: manifest.directory).appendingPathComponent(".tessera")
        // Images for another platform library (kvm) build in their own folder, beside the default's.
        let platformLibrary = resolved.libraries.first { $0.implements?.value == LibraryDescriptor.platformSlot }
        if let platformLibrary, !platformLibrary.machines.contains(Manifest.defaultPlatform) {
            output = output.appendingPathComponent(platformLibrary.name)
        }
        let entryFlags = platformLibrary?.entry.map { ["--entry", $0] } ?? []
        if linkTimeOptimization { output = output.appendingPathComponent("lto") }
        let modules = output.appendingPathComponent("modules")
        let objects = output.appendingPathComponent("objects")
        for directory in [modules, objects] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        var products: [(library: String, url: URL)] = []
        var fingerprints: [String: String] = [:]
        var compiled: [String] = []
        var linkerScript: URL?
        for library in resolved.libraries {
            let sources = library.sources.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: library.directory + "/")).standardizedFileURL }
            let swiftSources = sources.filter { $0.pathExtension == "swift" }
            let assembly = sources.filter { $0.pathExtension == "S" }
            if let script = try FileManager.default.contentsOfDirectory(atPath: library.directory)
                .first(where: { $0.hasSuffix(".ld") }) {
                linkerScript = URL(fileURLWithPath: library.directory).appendingPathComponent(script)
            }
            let fingerprint = try Fingerprint.of(files: sources,
                                                 extra: swiftFlags + [toolchain.identity]
                                                    + library.dependencies.map { fingerprints[$0] ?? "" })
            fingerprints[library.name] = fingerprint
            let stamp = objects.appendingPathComponent("\(library.name).stamp")
            var libraryObjects: [URL] = []
            if !swiftSources.isEmpty { libraryObjects.append(objects.appendingPathComponent("\(library.name).o")) }
            for file in assembly {
                libraryObjects.append(objects.appendingPathComponent("\(library.name)-\(file.deletingPathExtension().lastPathComponent).S.o"))
            }
            let upToDate = (try? String(contentsOf: stamp, encoding: .utf8)) == fingerprint
                && libraryObjects.allSatisfy { FileManager.default.fileExists(atPath: $0.path) }
            let moduleFiles = swiftSources.isEmpty ? [] : [modules.appendingPathComponent("\(library.module).swiftmodule")]
            let cached = cacheDirectory?.appendingPathComponent("\(library.name)-\(fingerprint)")
            if !upToDate, let cached, restore(libraryObjects + moduleFiles, from: cached) {
                log?("reusing \(library.name) from the cache")
                try fingerprint.write(to: stamp, atomically: true, encoding: .utf8)
            } else if !upToDate {
                log?("compiling \(library.name) (\(library.module))")
                if !swiftSources.isEmpty {
                    try compileSwift(module: library.module, sources: swiftSources, modules: modules,
                                     object: libraryObjects[0], emitModule: true)
                }
                for (file, object) in zip(assembly, libraryObjects.suffix(assembly.count)) {
                    try invoke(toolchain.clang, ["--target=x86_64-unknown-none-elf", "-c", file.path, "-o", object.path],
                               what: "assembling \(file.lastPathComponent)")
                }
                try fingerprint.write(to: stamp, atomically: true, encoding: .utf8)
                if let cached { store(libraryObjects + moduleFiles, in: cached) }
                compiled.append(library.name)
            }
            products += libraryObjects.map { (library.name, $0) }
        }

        // The embedded files' table: in the link (and the size report) as part of `embedded-files`.
        var filesFingerprint = ""
        if resolved.libraries.contains(where: { $0.name == EmbeddedFileSet.libraryName }) {
            let table = try embeddedFiles(manifest.files ?? .empty, output: output, objects: objects)
            filesFingerprint = table.fingerprint
            products.append((EmbeddedFileSet.libraryName, table.object))
            if table.assembled { compiled.append("\(EmbeddedFileSet.libraryName) (table)") }
        }

        // The wiring file and the app.
        let wiring = output.appendingPathComponent("Wiring.swift")
        let template = try kernelTemplate(resolved)
        let wiringText = WiringGenerator.generate(template: template, resolved: resolved)
        if (try? String(contentsOf: wiring, encoding: .utf8)) != wiringText {
            try wiringText.write(to: wiring, atomically: true, encoding: .utf8)
        }
        let appObject = objects.appendingPathComponent("app.o")
        let appSources = manifest.app.sourcePaths.map { URL(fileURLWithPath: $0) } + [wiring]
        let appFingerprint = try Fingerprint.of(files: appSources, extra: swiftFlags + resolved.libraries.map {
            fingerprints[$0.name] ?? ""
        })
        let appStamp = objects.appendingPathComponent("app.stamp")
        let appUpToDate = (try? String(contentsOf: appStamp, encoding: .utf8)) == appFingerprint
            && FileManager.default.fileExists(atPath: appObject.path)
        products.append(("app", appObject))
        if !appUpToDate {
            // Modules of libraries this image no longer selects must not stay importable: an app that
            // checks `#if canImport(Module)` would see them and fail to link.
            let selected = Set(resolved.libraries.map { "\($0.module).swiftmodule" })
            for file in (try? FileManager.default.contentsOfDirectory(atPath: modules.path)) ?? []
            where file.hasSuffix(".swiftmodule") && !selected.contains(file) {
                try? FileManager.default.removeItem(at: modules.appendingPathComponent(file))
            }
            log?("compiling app \(manifest.name)")
            try compileSwift(module: "App", sources: appSources, modules: modules, object: appObject, emitModule: false)
            try appFingerprint.write(to: appStamp, atomically: true, encoding: .utf8)
            compiled.append("app")
        }

        guard let linkerScript else { throw ToolError("no selected library provides a linker script (*.ld)") }
        let debugImage = output.appendingPathComponent("\(manifest.name).dbg.elf")
        let image = output.appendingPathComponent("\(manifest.name).elf")
        let map = output.appendingPathComponent("\(manifest.name).map")
        let linkStamp = objects.appendingPathComponent("link.stamp")
        let linkFingerprint = try Fingerprint.of(files: [linkerScript], extra: [appFingerprint, filesFingerprint] + entryFlags)
        let imageUpToDate = (try? String(contentsOf: linkStamp, encoding: .utf8)) == linkFingerprint
            && [debugImage, image, map].allSatisfy { FileManager.default.fileExists(atPath: $0.path) }
        if !imageUpToDate {
            log?("linking \(image.lastPathComponent)")
            try invoke(toolchain.linker, ["-T", linkerScript.path, "--gc-sections", "-nostdlib", "-static",
                                          "-z", "max-page-size=16", "-z", "noexecstack", "--build-id=none",
                                          "-Map", map.path, "-o", debugImage.path] + entryFlags
                       + products.map(\.url.path) + [toolchain.unicodeDataTables.path],
                       what: "linking")
            try invoke(toolchain.objcopy, ["--strip-all", debugImage.path, image.path], what: "stripping")
            try linkFingerprint.write(to: linkStamp, atomically: true, encoding: .utf8)
        }
        return BuildProduct(resolved: resolved, image: image, debugImage: debugImage, map: map, wiring: wiring,
                            objects: products, compiledLibraries: compiled)
    }

    /// Writes and assembles the embedded files' table unless its stamp matches: the fingerprint covers
    /// the generated text (paths in the image and on the host) and every file's contents. Never cached
    /// across apps: it is this app's data.
    func embeddedFiles(_ set: EmbeddedFileSet, output: URL, objects: URL) throws
        -> (object: URL, fingerprint: String, assembled: Bool) {
        let source = output.appendingPathComponent("embedded_files.S")
        let object = objects.appendingPathComponent("embedded_files.S.o")
        let stamp = objects.appendingPathComponent("embedded_files.stamp")
        let text = EmbeddedFilesAssembly.generate(set)
        let fingerprint = try Fingerprint.of(files: set.files.map { URL(fileURLWithPath: $0.source) },
                                             extra: [text, toolchain.identity])
        if (try? String(contentsOf: stamp, encoding: .utf8)) == fingerprint
            && FileManager.default.fileExists(atPath: object.path) {
            return (object, fingerprint, false)
        }
        log?("assembling the embedded files (\(set.files.count) files, \(set.totalBytes) bytes)")
        try text.write(to: source, atomically: true, encoding: .utf8)
        try invoke(toolchain.clang, ["--target=x86_64-unknown-none-elf", "-c", source.path, "-o", object.path],
                   what: "assembling \(source.lastPathComponent)")
        try fingerprint.write(to: stamp, atomically: true, encoding: .utf8)
        return (object, fingerprint, true)
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
/// which matters for megabytes of embedded files.
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
