// Composition: the manifest alone decides what is in an image, and what is not selected costs nothing.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct CompositionTests {
        static func manifest(allocator: String) -> String {
            """
            name: hello
            app:
              sources: [main.swift]
              type: Hello
            memory: 2M
            libraries:
              allocator: \(allocator)
            """
        }

        @Test func swappingTheAllocatorLeavesNoSymbolOfTheUnselectedOne() throws {
            let hello = ImageHarness.example("hello")
            let regionApp = try ImageHarness.copy(hello, manifest: Self.manifest(allocator: "alloc-region"))
            let tlsfApp = try ImageHarness.copy(hello, manifest: Self.manifest(allocator: "alloc-tlsf"))
            defer {
                try? FileManager.default.removeItem(at: regionApp)
                try? FileManager.default.removeItem(at: tlsfApp)
            }
            // Same sources, different manifests.
            for file in ["main.swift"] {
                #expect(FileManager.default.contentsEqual(atPath: regionApp.appendingPathComponent(file).path,
                                                          andPath: tlsfApp.appendingPathComponent(file).path))
            }
            let region = try ImageHarness.build(regionApp)
            let tlsf = try ImageHarness.build(tlsfApp)

            let regionSymbols = try ELFFile(contentsOf: region.debugImage).symbols.map(\.name)
            let tlsfSymbols = try ELFFile(contentsOf: tlsf.debugImage).symbols.map(\.name)
            #expect(regionSymbols.contains { $0.contains("11AllocRegion") })
            #expect(!regionSymbols.contains { $0.contains("AllocTLSF") })
            #expect(tlsfSymbols.contains { $0.contains("9AllocTLSF") })
            #expect(!tlsfSymbols.contains { $0.contains("AllocRegion") })

            // The unselected library was not even compiled into the image's objects.
            #expect(!region.objects.contains { $0.library == "alloc-tlsf" })
            #expect(!tlsf.objects.contains { $0.library == "alloc-region" })

            // Per-library sizes: the selected allocator has bytes, the other none.
            let regionSize = try SizeReport(product: region), tlsfSize = try SizeReport(product: tlsf)
            #expect(regionSize.rows.contains { $0.library == "alloc-region" && $0.text > 0 })
            #expect(!regionSize.rows.contains { $0.library == "alloc-tlsf" })
            #expect(tlsfSize.rows.contains { $0.library == "alloc-tlsf" && $0.text > 0 })
            #expect(regionSize.total.text < tlsfSize.total.text)

            // Both still boot and behave the same.
            #expect(try ImageHarness.boot(region, arguments: ["7"]).result.exitCode == 7)
            #expect(try ImageHarness.boot(tlsf, arguments: ["7"]).result.exitCode == 7)
        }

        @Test func wiringFileBindsEachSlotThroughATypealias() throws {
            let product = try ImageHarness.build(ImageHarness.example("hello"))
            let wiring = try String(contentsOf: product.wiring, encoding: .utf8)
            #expect(wiring.contains("typealias Allocator = AllocRegion.RegionAllocator"))
            #expect(wiring.contains("typealias Console = ConsoleSerial.Serial16550"))
            #expect(wiring.contains("typealias Platform = PlatformQEMU.QEMUPlatform"))
            #expect(wiring.contains("typealias App = Hello"))
            #expect(!wiring.contains("any "))
        }

        @Test func noLoadedSegmentIsBothWritableAndExecutable() throws {
            let elf = try ELFFile(contentsOf: try ImageHarness.build(ImageHarness.example("hello")).image)
            let loads = elf.segments.filter(\.isLoad)
            #expect(loads.count == 3)
            #expect(!loads.contains { $0.isWritable && $0.isExecutable })
            #expect(elf.segments.contains { $0.type == 4 })   // PT_NOTE with the PVH entry
        }

        @Test func helloImageStaysUnder100KB() throws {
            let product = try ImageHarness.build(ImageHarness.example("hello"))
            let size = try SizeReport(product: product)
            #expect(size.imageFileBytes < 100_000)
        }

        @Test func linkTimeOptimizedImageIsSmallerAndBehavesTheSame() throws {
            let plain = try ImageHarness.build(ImageHarness.example("hello"))
            let optimized = try ImageHarness.build(ImageHarness.example("hello"), lto: true)
            let plainBytes = try SizeReport(product: plain).imageFileBytes
            let optimizedBytes = try FileManager.default.attributesOfItem(atPath: optimized.image.path)[.size] as! Int
            #expect(optimizedBytes < plainBytes)
            let boot = try ImageHarness.boot(optimized, arguments: ["7", "lto"])
            #expect(boot.result.exitCode == 7)
            #expect(boot.lines.contains("  [1] lto"))
        }

        @Test func brokenManifestNamesItsLineAndNothingIsBuilt() throws {
            let app = try ImageHarness.copy(ImageHarness.example("hello"), manifest: """
                name: hello
                app:
                  sources: [main.swift]
                  type: Hello
                libraries:
                  allocator: alloc-fast
                """)
            defer { try? FileManager.default.removeItem(at: app) }
            do {
                _ = try ImageHarness.build(app)
                Issue.record("a broken manifest built")
            } catch let error as Diagnostics {
                let text = "\(error)"
                #expect(text.contains("tessera.yaml:6:"))
                #expect(text.contains("alloc-fast"))
                #expect(text.contains("alloc-region"))
                #expect(text.contains("alloc-tlsf"))
            }
            #expect(!FileManager.default.fileExists(atPath: app.appendingPathComponent(".tessera").path))
        }
    }
}
