// VolumeSpec: one `tessera run -v HOST_DIR:GUEST_PATH[:ro]` — a host folder shared with the guest over
// virtio-9p (9P2000.L, served by QEMU from `-fsdev local`), mounted by the guest's share-mount library.
//
// Volumes are tagged vol0, vol1, ... in the order given; the guest learns where each goes from the
// kernel parameter `volume.TAG=GUEST_PATH[:ro]`. `:ro` is enforced twice: QEMU's `readonly=on` refuses
// every write, and the guest mounts the folder read-only (EROFS before a request leaves the VM).

import Foundation

public struct VolumeSpec: Equatable, Sendable {
    public var hostPath: String
    public var guestPath: String
    public var readOnly: Bool
    public var tag: String

    public init(hostPath: String, guestPath: String, readOnly: Bool, tag: String) {
        self.hostPath = hostPath
        self.guestPath = guestPath
        self.readOnly = readOnly
        self.tag = tag
    }

    /// Parses `HOST_DIR:GUEST_PATH[:ro]`; the host path is made absolute against `directory`.
    public static func parse(_ text: String, index: Int, relativeTo directory: String) throws(AttachmentError) -> VolumeSpec {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = false
        if parts.count >= 3, parts.last == "ro" || parts.last == "rw" {
            readOnly = parts.removeLast() == "ro"
        }
        guard parts.count >= 2, let guest = parts.last, guest.hasPrefix("/") else {
            throw AttachmentError("-v '\(text)': use HOST_DIR:GUEST_PATH or HOST_DIR:GUEST_PATH:ro, e.g. -v ./site:/www:ro")
        }
        let host = parts.dropLast().joined(separator: ":")
        guard !host.isEmpty else { throw AttachmentError("-v '\(text)': the host folder is missing") }
        guard guest != "/", !guest.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }),
              Manifest.parameterProblem(name: "volume.vol0", value: guest) == nil else {
            throw AttachmentError("-v '\(text)': the guest path '\(guest)' must be an absolute path other than / without '.', '..', spaces or quotes")
        }
        let absolute = host.hasPrefix("/") ? host : URL(fileURLWithPath: directory).appendingPathComponent(host).path
        let url = URL(fileURLWithPath: absolute).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AttachmentError("-v '\(text)': '\(host)' is not a folder on this machine")
        }
        guard !url.path.contains(",") else {
            throw AttachmentError("-v '\(text)': QEMU cannot share a folder whose path holds ','")
        }
        return VolumeSpec(hostPath: url.path, guestPath: guest, readOnly: readOnly, tag: "vol\(index)")
    }

    /// The kernel parameter that tells share-mount where this volume goes.
    public var kernelParameter: String { "volume.\(tag)=\(guestPath)" + (readOnly ? ":ro" : "") }

    /// QEMU's arguments: the fsdev and the virtio-9p device on the machine's transport.
    public func qemuArguments(pci: Bool) -> [String] {
        ["-fsdev", "local,id=fs\(tag),path=\(hostPath),security_model=none" + (readOnly ? ",readonly=on" : ""),
         "-device", (pci ? "virtio-9p-pci,disable-legacy=on" : "virtio-9p-device") + ",fsdev=fs\(tag),mount_tag=\(tag)"]
    }
}
