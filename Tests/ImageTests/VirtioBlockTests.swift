// virtio-blk on QEMU: `tessera run --disk FILE` attaches virtio-blk-device (microvm) or virtio-blk-pci
// (pc, q35); the guest reads the host's first sector, writes 300 sectors in one call (split into the
// device's largest transfers), reads them back, refuses a read past the end and flushes; then 40 4 KiB
// blocks go through a 16-block write-back cache (re-reading block 40 evicts one more) and a flush;
// the host file then holds exactly what the guest wrote.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct VirtioBlockTests {
        // One platform after the other: both build into the app's one .tessera folder.
        @Test func virtioBlkReadsAndWritesTheDiskFileOnMicrovmAndPC() throws {
            for platform in ["qemu-microvm", "qemu-pc"] { try check(platform: platform) }
        }

        func check(platform: String) throws {
            let disk = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-vdisk-\(UUID().uuidString).img")
            var content = Data("the first sector of a test disk\n".utf8)
            content.append(Data(count: 2048 * 512 - content.count))
            try content.write(to: disk)
            defer { try? FileManager.default.removeItem(at: disk) }
            let unattached = try tessera(["run", "Tests/ImageTests/Apps/vdisk", "--platform", platform])
            #expect(unattached.status == 64 && unattached.stderr.contains("the image's block device 'disk' is not attached: add --disk disk=FILE"),
                    "\(platform): \(unattached.stderr)")
            let result = try tessera(["run", "Tests/ImageTests/Apps/vdisk", "--platform", platform, "--disk", disk.path])
            #expect(result.status == 0, "\(platform): stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("disk: 2048 sectors of 512 bytes"), "\(result.stdout)")
            #expect(result.stdout.contains("sector 0: the first sector of a test disk"))
            #expect(result.stdout.contains("disk: 300 sectors written and read back"))
            #expect(result.stdout.contains("disk: read past the end refused; errors 1"))
            #expect(result.stdout.contains("disk: flush ok, device 300 sectors written"), "\(result.stdout)")
            #expect(result.stdout.contains("cache: 15 dirty before flush, flush ok, write-backs 40"), "\(result.stdout)")
            let after = try Data(contentsOf: disk)
            for number in [40, 63, 79] {
                #expect(after[(number * 4096)..<((number + 1) * 4096)].allSatisfy { $0 == UInt8(number) }, "block \(number)")
            }
            #expect(after.count == 2048 * 512)
            #expect(after[512..<(512 + 32)] == Data("sector 1 written by tessera\n".utf8) + Data(count: 4))
            #expect(after[(300 * 512)..<(300 * 512 + 30)] == Data("sector 300 written by tessera\n".utf8))
            #expect(after[(301 * 512)..<(40 * 4096)].allSatisfy { $0 == 0 })
            #expect(after[(80 * 4096)...].allSatisfy { $0 == 0 })
        }
    }
}
