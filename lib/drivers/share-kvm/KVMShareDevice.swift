// KVMShareDevice: the share-device slot on Tessera's KVM monitor, which has no shared folders.
//
// The monitor's ABI stays at eight hypercalls and carries no 9P transport: a host folder would need
// either a ring of 9P messages in guest memory (the shared-ring work of the performance issue) or a
// hypercall per message. Until then `tessera run --platform kvm -v` is refused by the CLI with the
// advice to put the files on an ext2 disk (`--disk`), and in the guest this device is never found, so
// an image with share-mount boots the same on both platforms.

import ShareDeviceAPI

public struct KVMShareDevice: ShareDevice {
    public static var name: StaticString { "kvm-no-share" }
    public init?(index: Int) { nil }
    public var tag: [UInt8] { [] }
    public var maximumMessageSize: Int { 0 }
    public mutating func transact(_ request: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer) -> Int? { nil }
}
