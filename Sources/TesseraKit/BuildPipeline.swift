// ImageBuild: one build of one image as a pipeline of named stages (Builder.build runs them in order).
//
// The state that flows between stages is explicit: the objects to link (with the library each came
// from, for `tessera size`), the fingerprints later stages fold into theirs (a library's into the app's,
// the app's and the root file system's into the link's), and what was compiled (for tests and logs). Each
// stage decides from a stamp file whether its inputs changed and otherwise leaves its outputs alone, so
// an unchanged image rebuilds nothing. A new stage is one more case and one more method.

import Foundation

struct ImageBuild {
    enum Stage: String, CaseIterable {
        case libraries, rootFileSystem = "root-file-system", app, link
    }

    let builder: Builder
    let resolved: ResolvedImage
    /// `<app>/.tessera[/<platform library>][/lto]`.
    let output: URL
    let modules: URL
    let objects: URL
    /// `--entry SYMBOL` when the platform library names its own entry point.
    let entryFlags: [String]

    var products: [(library: String, url: URL)] = []
    var fingerprints: [String: String] = [:]
    var compiled: [String] = []
    var linkerScript: URL?
    var rootfsFingerprint = ""
    var appFingerprint = ""
    var wiring: URL
    var image: URL
    var debugImage: URL
    var map: URL

    init(builder: Builder, resolved: ResolvedImage) throws {
        self.builder = builder
        self.resolved = resolved
        let manifest = resolved.manifest
        var output = URL(fileURLWithPath: manifest.directory).appendingPathComponent(".tessera")
        // Images for another platform library (kvm) build in their own folder, beside the default's.
        let platformLibrary = resolved.libraries.first { $0.implements?.value == LibraryDescriptor.platformSlot }
        if let platformLibrary, !platformLibrary.machines.contains(Manifest.defaultPlatform) {
            output = output.appendingPathComponent(platformLibrary.name)
        }
        entryFlags = platformLibrary?.entry.map { ["--entry", $0] } ?? []
        if builder.linkTimeOptimization { output = output.appendingPathComponent("lto") }
        self.output = output
        modules = output.appendingPathComponent("modules")
        objects = output.appendingPathComponent("objects")
        for directory in [modules, objects] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        wiring = output.appendingPathComponent("Wiring.swift")
        image = output.appendingPathComponent("\(manifest.name).elf")
        debugImage = output.appendingPathComponent("\(manifest.name).dbg.elf")
        map = output.appendingPathComponent("\(manifest.name).map")
    }

    mutating func run(_ stage: Stage) throws {
        switch stage {
        case .libraries: try compileLibraries()
        case .rootFileSystem: try packRootFileSystem()
        case .app: try compileApp()
        case .link: try link()
        }
    }

    func product() throws -> BuildProduct {
        BuildProduct(resolved: resolved, image: image, debugImage: debugImage, map: map, wiring: wiring,
                     objects: products, compiledLibraries: compiled)
    }

    /// Whether `stamp` records `fingerprint` and every output exists.
    func upToDate(_ stamp: URL, _ fingerprint: String, outputs: [URL]) -> Bool {
        (try? String(contentsOf: stamp, encoding: .utf8)) == fingerprint
            && outputs.allSatisfy { FileManager.default.fileExists(atPath: $0.path) }
    }

    // MARK: Stages

    mutating func compileLibraries() throws {
        for library in resolved.libraries {
            let sources = library.sources.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: library.directory + "/")).standardizedFileURL }
            let swiftSources = sources.filter { $0.pathExtension == "swift" }
            let assembly = sources.filter { $0.pathExtension == "S" }
            if let script = try FileManager.default.contentsOfDirectory(atPath: library.directory)
                .first(where: { $0.hasSuffix(".ld") }) {
                linkerScript = URL(fileURLWithPath: library.directory).appendingPathComponent(script)
            }
            let fingerprint = try Fingerprint.of(files: sources,
                                                 extra: builder.swiftFlags + [builder.toolchain.identity]
                                                    + library.dependencies.map { fingerprints[$0] ?? "" })
            fingerprints[library.name] = fingerprint
            let stamp = objects.appendingPathComponent("\(library.name).stamp")
            var libraryObjects: [URL] = []
            if !swiftSources.isEmpty { libraryObjects.append(objects.appendingPathComponent("\(library.name).o")) }
            for file in assembly {
                libraryObjects.append(objects.appendingPathComponent("\(library.name)-\(file.deletingPathExtension().lastPathComponent).S.o"))
            }
            let moduleFiles = swiftSources.isEmpty ? [] : [modules.appendingPathComponent("\(library.module).swiftmodule")]
            let cached = builder.cacheDirectory?.appendingPathComponent("\(library.name)-\(fingerprint)")
            // The module counts too: building the same app for another machine (microvm, then pc) removes
            // the modules of libraries that machine does not select, and the way back must bring them back.
            if upToDate(stamp, fingerprint, outputs: libraryObjects + moduleFiles) {
                // nothing to do
            } else if let cached, builder.restore(libraryObjects + moduleFiles, from: cached) {
                builder.log?("reusing \(library.name) from the cache")
                try fingerprint.write(to: stamp, atomically: true, encoding: .utf8)
            } else {
                builder.log?("compiling \(library.name) (\(library.module))")
                if !swiftSources.isEmpty {
                    try builder.compileSwift(module: library.module, sources: swiftSources, modules: modules,
                                             object: libraryObjects[0], emitModule: true)
                }
                for (file, object) in zip(assembly, libraryObjects.suffix(assembly.count)) {
                    try builder.invoke(builder.toolchain.clang, ["--target=x86_64-unknown-none-elf", "-c", file.path, "-o", object.path],
                                       what: "assembling \(file.lastPathComponent)")
                }
                try fingerprint.write(to: stamp, atomically: true, encoding: .utf8)
                if let cached { builder.store(libraryObjects + moduleFiles, in: cached) }
                compiled.append(library.name)
            }
            products += libraryObjects.map { (library.name, $0) }
        }
    }

    /// The root file system: the `rootfs:` folder as a cpio newc archive (`.tessera/rootfs.cpio`, which
    /// `cpio -t` lists), built into the image's read-only data by `.tessera/rootfs.S` and unpacked into
    /// `/` by `files` at boot. Every image with `files` gets one (empty without `rootfs:`). In the link
    /// and the size report as part of `files`.
    mutating func packRootFileSystem() throws {
        guard resolved.libraries.contains(where: { $0.name == "files" }) else { return }
        let tree = resolved.manifest.rootfs ?? .empty
        let bytes = try tree.archive()
        let archive = output.appendingPathComponent("rootfs.cpio")
        if (try? Data(contentsOf: archive)) != Data(bytes) { try Data(bytes).write(to: archive) }
        let source = output.appendingPathComponent("rootfs.S")
        let object = objects.appendingPathComponent("rootfs.S.o")
        let text = RootFileSystemArchive.assembly(archive: archive.path)
        rootfsFingerprint = try Fingerprint.of(files: [archive], extra: [text, builder.toolchain.identity])
        products.append(("files", object))
        let stamp = objects.appendingPathComponent("rootfs.stamp")
        guard !upToDate(stamp, rootfsFingerprint, outputs: [object]) else { return }
        builder.log?("packing the root file system (\(tree.entries.count) entries, \(bytes.count) bytes of cpio)")
        try text.write(to: source, atomically: true, encoding: .utf8)
        try builder.invoke(builder.toolchain.clang, ["--target=x86_64-unknown-none-elf", "-c", source.path, "-o", object.path],
                           what: "assembling rootfs.S")
        try rootfsFingerprint.write(to: stamp, atomically: true, encoding: .utf8)
        compiled.append("files (root file system)")
    }

    /// The wiring file and the app.
    mutating func compileApp() throws {
        let manifest = resolved.manifest
        let template = try builder.kernelTemplate(resolved)
        let wiringText = WiringGenerator.generate(template: template, resolved: resolved)
        if (try? String(contentsOf: wiring, encoding: .utf8)) != wiringText {
            try wiringText.write(to: wiring, atomically: true, encoding: .utf8)
        }
        let appObject = objects.appendingPathComponent("app.o")
        let appSources = manifest.app.sourcePaths.map { URL(fileURLWithPath: $0) } + [wiring]
        appFingerprint = try Fingerprint.of(files: appSources, extra: builder.swiftFlags + resolved.libraries.map {
            fingerprints[$0.name] ?? ""
        })
        let appStamp = objects.appendingPathComponent("app.stamp")
        products.append(("app", appObject))
        guard !upToDate(appStamp, appFingerprint, outputs: [appObject]) else { return }
        // Modules of libraries this image no longer selects must not stay importable: an app that
        // checks `#if canImport(Module)` would see them and fail to link.
        let selected = Set(resolved.libraries.map { "\($0.module).swiftmodule" })
        for file in (try? FileManager.default.contentsOfDirectory(atPath: modules.path)) ?? []
        where file.hasSuffix(".swiftmodule") && !selected.contains(file) {
            try? FileManager.default.removeItem(at: modules.appendingPathComponent(file))
        }
        builder.log?("compiling app \(manifest.name)")
        try builder.compileSwift(module: "App", sources: appSources, modules: modules, object: appObject, emitModule: false)
        try appFingerprint.write(to: appStamp, atomically: true, encoding: .utf8)
        compiled.append("app")
    }

    mutating func link() throws {
        guard let linkerScript else { throw ToolError("no selected library provides a linker script (*.ld)") }
        let linkStamp = objects.appendingPathComponent("link.stamp")
        let linkFingerprint = try Fingerprint.of(files: [linkerScript], extra: [appFingerprint, rootfsFingerprint] + entryFlags)
        guard !upToDate(linkStamp, linkFingerprint, outputs: [debugImage, image, map]) else { return }
        builder.log?("linking \(image.lastPathComponent)")
        let toolchain = builder.toolchain
        try builder.invoke(toolchain.linker, ["-T", linkerScript.path, "--gc-sections", "-nostdlib", "-static",
                                              "-z", "max-page-size=16", "-z", "noexecstack", "--build-id=none",
                                              "-Map", map.path, "-o", debugImage.path] + entryFlags
                           + products.map(\.url.path) + [toolchain.unicodeDataTables.path],
                           what: "linking")
        try builder.invoke(toolchain.objcopy, ["--strip-all", debugImage.path, image.path], what: "stripping")
        try linkFingerprint.write(to: linkStamp, atomically: true, encoding: .utf8)
    }
}
