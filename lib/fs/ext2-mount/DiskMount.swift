// DiskMount: the image's block device, as ext2, mounted into the file tree before the app starts.
//
// The kernel calls the image's `mountVolumes` hook after `initializeFiles` (this library's wiring
// fragment binds it); `mount` finds the device (`TesseraImage.BlockDevice()`; without `--disk` there is
// none and it says so), puts a `BlockCache` of 4 KiB blocks in front of it, checks the superblock and
// mounts the file system at `-e disk.mount=PATH` (default /mnt, created in the ramfs if missing) —
// read-write, unless `-e disk.readonly=1` (what `--disk FILE:ro` sets) or the disk cannot be written
// (a read-only device, a disk not cleanly unmounted, features this writer cannot keep: then read-only,
// with the reason). A disk that is not ext2, or uses ext3/ext4 features, is reported in one line and
// not mounted; the image goes on. ext2 reads and writes through `CachedDisk`, byte ranges over whole
// cached blocks; the VFS holds its lock around every call, so the cache needs none of its own. When
// the guest exits normally the files library's `finishFiles` unmounts it: the cache is written back,
// the device flushed and the superblock marked clean; `fsync` does the same but leaves it in use.

import BlockCache
import BlockDeviceAPI
import Clock
import Ext2
import Files
import Kernel
import VFS

/// Byte-addressed reads over a block cache, for ext2.
public final class CachedDisk<Device: BlockDevice>: Ext2Disk {
    var cache: BlockCache<Device>
    let scratch: UnsafeMutableRawBufferPointer

    public init(cache: BlockCache<Device>) {
        self.cache = cache
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: cache.blockSize, alignment: 16)
    }

    public var byteCount: UInt64 { cache.blockCount * UInt64(cache.blockSize) }

    /// Walks `count` bytes from `offset` block by block: `body(block, within, done, chunk)` for each
    /// piece (the block's number, the piece's offset in it and in the caller's buffer, its length).
    func forEachPiece(at offset: UInt64, count: Int, _ body: (UInt64, Int, Int, Int) -> Bool) -> Bool {
        guard offset <= byteCount, UInt64(count) <= byteCount - offset else { return false }
        let size = UInt64(cache.blockSize)
        var done = 0
        while done < count {
            let position = offset + UInt64(done)
            let within = Int(position % size)
            let chunk = min(cache.blockSize - within, count - done)
            guard body(position / size, within, done, chunk) else { return false }
            done += chunk
        }
        return true
    }

    public func write(at offset: UInt64, from bytes: UnsafeRawBufferPointer) -> Bool {
        forEachPiece(at: offset, count: bytes.count) { block, within, done, chunk in
            // A partial block is read first, so the bytes around the piece are kept.
            if chunk < cache.blockSize { guard cache.read(block, into: scratch) else { return false } }
            (scratch.baseAddress! + within).copyMemory(from: bytes.baseAddress! + done, byteCount: chunk)
            return cache.write(block, from: UnsafeRawBufferPointer(scratch))
        }
    }

    public func flush() -> Bool { cache.flush() }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        forEachPiece(at: offset, count: buffer.count) { block, within, done, chunk in
            guard cache.read(block, into: scratch) else { return false }
            (buffer.baseAddress! + done).copyMemory(from: scratch.baseAddress! + within, byteCount: chunk)
            return true
        }
    }
}

public enum DiskMount<Device: BlockDevice> {
    /// Called once by the kernel (the image's `mountVolumes` hook), after the file tree is up.
    public static func mount() {
        let path = kernelParameters.kernelValue("disk.mount") ?? "/mnt"
        guard let device = Device() else {
            print("ext2-mount: no block device (attach one with --disk FILE); nothing mounted at " + path)
            return
        }
        guard let cache = BlockCache(device: device, blockSize: 4096, capacity: 64) else {
            print("ext2-mount: the disk's sectors do not divide 4 KiB blocks; nothing mounted")
            return
        }
        let disk = CachedDisk(cache: cache)
        let clock: () -> UInt32 = { UInt32(truncatingIfNeeded: max(Clock.wallTime().seconds, 0)) }
        var ext2: Ext2FileSystem
        do {
            ext2 = try Ext2FileSystem(disk: disk, clock: clock)
        } catch {
            print("ext2-mount: the disk is not mountable: " + error.message)
            return
        }
        if kernelParameters.kernelValue("disk.readonly") != "1" {
            do {
                ext2 = try Ext2FileSystem(disk: disk, writable: true, clock: clock)
            } catch {
                print("ext2-mount: mounting read-only: " + error.message)
            }
        }
        let vfs = Files.root
        do {
            if (try? vfs.status(path)) == nil { try vfs.makeDirectory(path, permissions: 0o755) }
            try vfs.mount(ext2, at: path)
            print("ext2-mount: ext2 (" + (ext2.isReadOnly ? "read-only" : "read-write") + ", \(ext2.blockSize)-byte blocks) mounted at " + path)
        } catch {
            print("ext2-mount: cannot mount at " + path + ": " + error.messageString)
        }
    }
}
