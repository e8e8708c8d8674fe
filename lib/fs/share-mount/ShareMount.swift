// ShareMount: the VM's shared host folders, mounted into the file tree before the app starts.
//
// `tessera run -v HOST_DIR:GUEST_PATH[:ro]` attaches one virtio-9p device per folder, tagged `vol0`,
// `vol1`, ..., and passes `volume.vol0=GUEST_PATH[:ro]`. At boot the kernel calls the image's
// `mountShares` hook (this library's wiring), which finds the devices in order, reads each tag, looks
// up where it goes (without a parameter: /mnt/TAG), creates the mount point and its parents in the
// ramfs when missing, and mounts a `NinePFileSystem` there — read-only when the parameter ends in
// `:ro` (QEMU refuses writes too: the run passes `readonly=on`). A folder that cannot be mounted is
// reported in one line and the image goes on.
//
// The 9P client sends whole messages as arrays; `DeviceTransport` hands them to the device and copies
// the response out of one buffer it keeps, as large as the device's message size.

import Files
import Kernel
import NineP
import ShareDeviceAPI
import VFS

/// A `ShareDevice` as the 9P client's transport.
final class DeviceTransport<Device: ShareDevice>: NinePTransport {
    var device: Device
    let response: UnsafeMutableRawBufferPointer

    init(_ device: Device) {
        self.device = device
        response = UnsafeMutableRawBufferPointer.allocate(byteCount: device.maximumMessageSize, alignment: 16)
    }

    var maximumMessageSize: Int { device.maximumMessageSize }

    func transact(_ request: [UInt8]) -> [UInt8]? {
        guard let count = request.withUnsafeBytes({ device.transact($0, response: response) }) else { return nil }
        return Array(UnsafeRawBufferPointer(rebasing: response[0 ..< count]))
    }
}

public enum ShareMount<Device: ShareDevice> {
    /// Called once by the kernel (the image's `mountShares` hook), after the file tree and the disk.
    public static func mount() {
        var index = 0
        while let device = Device(index: index) {
            index += 1
            let tag = String(decoding: device.tag, as: UTF8.self)
            var path = kernelParameters.kernelValue(named: Array(("volume." + tag).utf8)) ?? ("/mnt/" + tag)
            var readOnly = false
            if path.hasSuffix(":ro") {
                readOnly = true
                path = String(path.dropLast(3))
            }
            let fileSystem: NinePFileSystem
            do {
                fileSystem = try NinePFileSystem(transport: DeviceTransport(device), attachName: [], readOnly: readOnly)
            } catch {
                print("share-mount: volume '" + tag + "' cannot be mounted: " + error.message)
                continue
            }
            do throws(FileError) {
                try makeDirectories(path)
                try Files.root.mount(fileSystem, at: path, readOnly: readOnly)
                print("share-mount: 9p volume '" + tag + "' (" + (readOnly ? "read-only" : "read-write") + ") mounted at " + path)
            } catch {
                print("share-mount: cannot mount volume '" + tag + "' at " + path + ": " + error.messageString)
            }
        }
    }

    /// `mkdir -p`: every missing directory of `path`.
    static func makeDirectories(_ path: String) throws(FileError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if (try? Files.root.status(prefix)) == nil { try Files.root.makeDirectory(prefix, permissions: 0o755) }
        }
    }
}
