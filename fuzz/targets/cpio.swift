// NewcReader and CPIOUnpacker (lib/fs/cpio). Input: a root file system archive, as a build (or an
// attacker who can replace the image's data) might supply it.
//
// The bytes are read record by record (every length checked before use), then unpacked into a ramfs
// with a 1 MiB limit; afterwards every name the unpacker created must resolve inside the root, and
// nothing may be outside it: the unpacking happened below /in, so / must hold exactly `in`.

import CPIO
import RamFS
import VFS

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let archive = UnsafeRawBufferPointer(start: data, count: size)
    var reader = NewcReader(archive)
    var records = 0
    while let record = try? reader.next() {
        precondition(record.offset >= 0 && record.offset < size)
        records += 1
    }
    let vfs = VirtualFileSystem(root: RamFileSystem(limit: 1 << 20))
    try! vfs.makeDirectory("/in")
    _ = CPIOUnpacker.unpack(archive, into: vfs, at: Array("/in".utf8))
    let top = try! vfs.list("/")
    precondition(top.count == 1 && top[0].nameString == "in", "an archive wrote outside its root")
    return 0
}
