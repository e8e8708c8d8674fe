// ShareDevice: a device that carries a file protocol to a folder of the host — today 9P2000.L over
// virtio-9p, which QEMU serves from `-fsdev local,path=HOST_DIR` (what `tessera run -v` attaches).
//
// A VM has as many as it has shared folders; each is found by its index (0, 1, ...) and names itself
// by its mount tag, which the run ties to a mount point in the guest. Transfers are synchronous: one
// request in, its response out, both in caller-owned buffers (the driver may hand them to the device
// directly, so they must stay put until `transact` returns — they do, it waits).

public protocol ShareDevice {
    /// A short name for reports ("virtio-9p").
    static var name: StaticString { get }
    /// The `index`th shared folder (0 is the first); nil when there are fewer.
    init?(index: Int)
    /// The tag the host gave the folder (`mount_tag`).
    var tag: [UInt8] { get }
    /// The largest request or response the device carries, in bytes (the 9P msize it can offer).
    var maximumMessageSize: Int { get }
    /// Sends `request` (one whole message) and waits for the response, written into `response`;
    /// returns its length, or nil when the device failed.
    mutating func transact(_ request: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer) -> Int?
}
