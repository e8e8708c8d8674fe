// ImageHarness: builds an app with the real toolchain and boots it under QEMU, collecting its console.
//
// Image tests are slow (a build and a VM each), so they share one serialized suite; a library that did
// not change is not recompiled between tests (the builder's fingerprints).

import Foundation
import Testing
import TesseraKit

enum ImageHarness {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let libraryRoot = repository.appendingPathComponent("lib").path

    static func example(_ name: String) -> URL { repository.appendingPathComponent("examples/\(name)") }
    static func testApp(_ name: String) -> URL {
        repository.appendingPathComponent("Tests/ImageTests/Apps/\(name)")
    }

    static func build(_ app: URL, lto: Bool = false) throws -> BuildProduct {
        var builder = try Builder(toolchain: Toolchain.locate(), libraryRoot: libraryRoot)
        builder.linkTimeOptimization = lto
        return try builder.build(manifestPath: app.appendingPathComponent("tessera.yaml").path)
    }

    struct Boot {
        var lines: [String]
        var result: RunResult
        var output: String { lines.joined(separator: "\n") }
    }

    static func boot(_ product: BuildProduct, arguments: [String] = [], machine: Machine = .microvm,
                     memory: UInt64? = nil, kernelParameters: [String] = [], network: Bool = false) throws -> Boot {
        final class Lines: @unchecked Sendable { var items: [String] = [] }
        let lines = Lines()
        var options = RunOptions(image: product.image, debugImage: product.debugImage, machine: machine,
                                 memoryBytes: memory ?? product.resolved.manifest.memory, arguments: arguments)
        options.kernelParameters = product.resolved.manifest.parameters + kernelParameters
        options.userNetwork = network
        options.consoleSink = { lines.items.append($0) }
        let result = try QEMURunner.run(options) { _ in }
        return Boot(lines: lines.items, result: result)
    }

    /// A copy of an example in a temporary folder with its manifest replaced.
    static func copy(_ app: URL, manifest: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-image-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: app.path) where file.hasSuffix(".swift") {
            try FileManager.default.copyItem(at: app.appendingPathComponent(file),
                                             to: folder.appendingPathComponent(file))
        }
        try manifest.write(to: folder.appendingPathComponent("tessera.yaml"), atomically: true, encoding: .utf8)
        return folder
    }
}

/// Every image test lives in this suite, one test at a time: the machine has two cores, and timing
/// tests (sleep accuracy, preemption, idle CPU) would measure each other's VMs if run in parallel.
@Suite(.serialized) enum ImageSuite {}
