// A root file system's files in real images (what `files:` used to embed): the guest lists and reads
// back exactly the host's bytes, gets every non-empty file in place (lent from the image, not copied),
// a written file is read rather than lent afterwards, and an edited file repacks and relinks without
// recompiling the app.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct RootFileSystemFilesTests {
        /// FNV-1a, 32-bit, as Apps/files computes it in the guest.
        static func fnv1a(_ bytes: some Sequence<UInt8>) -> String {
            var hash: UInt32 = 0x811C_9DC5
            for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
            let digits = String(hash, radix: 16)
            return String(repeating: "0", count: 8 - digits.count) + digits
        }

        /// The lines Apps/files prints for the regular files under `folder`, computed on the host.
        static func expectedLines(_ folder: URL) throws -> [String] {
            var paths: [String] = []
            let enumerator = try #require(FileManager.default.enumerator(atPath: folder.path))
            while let relative = enumerator.nextObject() as? String {
                if enumerator.fileAttributes?[.type] as? FileAttributeType == .typeRegular { paths.append("/" + relative) }
            }
            paths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let lines = try paths.map { path in
                let bytes = try Data(contentsOf: folder.appendingPathComponent(String(path.dropFirst())))
                return "file \(path) \(bytes.count) \(fnv1a(bytes))"
            }
            return ["files: \(paths.count)"] + lines + ["files: ok"]
        }

        /// A copy of the whole app folder (sources, manifest, root/), without build outputs.
        static func copyApp(_ app: URL) throws -> URL {
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("tessera-image-test-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: app, to: folder)
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(".tessera"))
            return folder
        }

        @Test func guestReadsEveryFileWithTheHostsLengthAndChecksum() throws {
            let app = ImageHarness.testApp("files")
            let expected = try Self.expectedLines(app.appendingPathComponent("root/www"))
            #expect(expected.count == 6)        // four files: text, every byte value, a subfolder, empty
            #expect(expected.contains("file /bytes.bin 256 \(Self.fnv1a(UInt8(0)...UInt8(255)))"))
            let boot = try ImageHarness.boot(try ImageHarness.build(app))
            #expect(boot.result.exitCode == 0, "\(boot.output)")
            #expect(boot.lines.filter { $0.hasPrefix("file") } == expected, "\(boot.output)")
        }

        @Test func editingAFileRepacksAndRelinksWithoutRecompilingTheApp() throws {
            let app = try Self.copyApp(ImageHarness.testApp("files"))
            defer { try? FileManager.default.removeItem(at: app) }
            let www = app.appendingPathComponent("root/www")
            #expect(try ImageHarness.build(app).compiledLibraries.contains("app"))

            try Data("<p>edited</p>\n".utf8).write(to: www.appendingPathComponent("index.html"))
            let edited = try ImageHarness.build(app)
            #expect(edited.compiledLibraries == ["files (root file system)"])
            let image = try Data(contentsOf: edited.image)
            #expect(image.range(of: Data("<p>edited</p>\n".utf8)) != nil)
            #expect(try ImageHarness.build(app).compiledLibraries.isEmpty)

            try Data("new".utf8).write(to: www.appendingPathComponent("css/new.css"))
            let added = try ImageHarness.build(app)
            #expect(added.compiledLibraries == ["files (root file system)"])
            let boot = try ImageHarness.boot(added)
            #expect(boot.result.exitCode == 0, "\(boot.output)")
            #expect(boot.lines.filter { $0.hasPrefix("file") } == (try Self.expectedLines(www)), "\(boot.output)")
        }
    }
}
