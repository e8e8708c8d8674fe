// disk: exercises the image's block device (see tessera.yaml; Apps/vdisk runs the same file on QEMU's virtio-blk).

import BlockCache
import BlockDeviceAPI
import Kernel

struct DiskCheck: Application {
    static func main(arguments: [String]) -> Int32 {
        guard var disk = TesseraImage.BlockDevice() else { return 1 }
        print("disk: \(disk.sectorCount) sectors of \(disk.sectorSize) bytes")
        let size = disk.sectorSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 300 * size, alignment: 16)
        defer { buffer.deallocate() }
        guard disk.read(sector: 0, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size])) else { return 2 }
        let text = buffer[0..<size].prefix { $0 != 0 && $0 != 0x0A }
        print("sector 0: \(String(decoding: text, as: UTF8.self))")

        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for index in 0..<300 {
            let line = Array("sector \(index + 1) written by tessera\n".utf8)
            UnsafeMutableRawBufferPointer(rebasing: buffer[(index * size)...]).copyBytes(from: line)
        }
        guard disk.write(sector: 1, from: UnsafeRawBufferPointer(buffer)) else { return 3 }
        buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)
        guard disk.read(sector: 1, into: buffer) else { return 4 }
        for index in 0..<300 {
            let expected = Array("sector \(index + 1) written by tessera\n".utf8)
            guard Array(buffer[(index * size)..<(index * size + expected.count)]) == expected else {
                print("disk: sector \(index + 1) reads back wrong")
                return 5
            }
        }
        print("disk: 300 sectors written and read back")
        let past = disk.read(sector: disk.sectorCount, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
        print("disk: read past the end \(past ? "accepted" : "refused"); errors \(disk.statistics.errors)")
        print("disk: flush \(disk.flush() ? "ok" : "failed"), device \(disk.statistics.sectorsWritten) sectors written")
        // The write-back cache: 4 KiB blocks 40-79 (past the 300 sectors above) written through a 16-block cache, then flushed.
        guard var cache = BlockCache(device: disk, blockSize: 4096, capacity: 16) else { return 6 }
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { block.deallocate() }
        for number in 40 ..< 80 {
            block.initializeMemory(as: UInt8.self, repeating: UInt8(number))
            guard cache.write(UInt64(number), from: UnsafeRawBufferPointer(block)) else { return 7 }
        }
        guard cache.read(40, into: block), block[0] == 40 else { return 8 }
        let dirty = cache.dirtyCount
        let flushed = cache.flush()
        print("cache: \(dirty) dirty before flush, flush \(flushed ? "ok" : "failed"), write-backs \(cache.statistics.writeBacks)")
        return 0
    }
}
