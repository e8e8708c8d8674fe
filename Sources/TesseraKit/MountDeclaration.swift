// MountDeclaration: one entry of a manifest's `mounts:` — where the image's disk or a host folder
// appears in the guest's file tree, so a run needs no `:/PATH` on `--disk` and no `-v`.
//
//     mounts:
//       /data: disk            # the block device (ext2, ext2-mount), read-write
//       /www: ./site:ro        # a host folder (9p, share-mount) relative to the manifest, read-only
//
// The defaults need no entry: `/` is the root file system (`rootfs:`), `/tmp` a directory of it, `/dev`
// and `/proc` are mounted by the files library. `tessera run` turns a disk entry into the
// `disk.mount`/`disk.readonly` parameters when `--disk FILE` names no mount point of its own, and a
// folder entry into a volume (`-v`), unless a `-v` names the same guest path (the command line wins).
// On the monitor, which has no 9p, a folder entry is an error that says so.

import Foundation

public struct MountDeclaration: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        /// The block device of that name (`devices:`, or the implied `disk`).
        case disk(String)
        /// A host folder, as an absolute path.
        case folder(String)
    }

    public var guestPath: String
    public var source: Source
    public var readOnly: Bool
    public var location: FileLocation

    public init(guestPath: String, source: Source, readOnly: Bool, location: FileLocation) {
        self.guestPath = guestPath
        self.source = source
        self.readOnly = readOnly
        self.location = location
    }

    /// Parses `GUEST_PATH: SOURCE[:ro]`; `devices` are the block devices the manifest declares.
    static func parse(path: Located<String>, value: Located<String>, manifestDirectory: String,
                      blockDevices: [String], into diagnostics: inout Diagnostics) -> MountDeclaration? {
        let guest = path.value
        guard guest.hasPrefix("/"), guest != "/", !guest.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }),
              Manifest.parameterProblem(name: "disk.mount", value: guest) == nil else {
            diagnostics.error("mount point '\(guest)' must be an absolute path other than / without '.', '..', spaces or quotes",
                              at: path.location)
            return nil
        }
        var text = value.value
        var readOnly = false
        if text.hasSuffix(":ro") {
            readOnly = true
            text = String(text.dropLast(3))
        }
        let names = blockDevices.isEmpty ? ["disk"] : blockDevices
        if names.contains(text) {
            return MountDeclaration(guestPath: guest, source: .disk(text), readOnly: readOnly, location: path.location)
        }
        guard text.hasPrefix("/") || text.hasPrefix(".") else {
            diagnostics.error("mount source '\(value.value)' is neither a block device (\(names.joined(separator: ", "))) nor a folder path (./site, /srv/site)",
                              at: value.location)
            return nil
        }
        let folder = URL(fileURLWithPath: joinPath(manifestDirectory, text)).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            diagnostics.error("mount source '\(text)' is not a folder (looked for \(folder))", at: value.location)
            return nil
        }
        return MountDeclaration(guestPath: guest, source: .folder(folder), readOnly: readOnly, location: path.location)
    }

    /// The volumes a run attaches: the manifest's folders, except those whose guest path a `-v` names,
    /// then the `-v` ones, tagged vol0, vol1, ... in that order.
    public static func volumes(manifest: [MountDeclaration], commandLine: [VolumeSpec]) -> [VolumeSpec] {
        var result: [VolumeSpec] = []
        for mount in manifest {
            guard case .folder(let folder) = mount.source, !commandLine.contains(where: { $0.guestPath == mount.guestPath }) else { continue }
            result.append(VolumeSpec(hostPath: folder, guestPath: mount.guestPath, readOnly: mount.readOnly, tag: ""))
        }
        result += commandLine
        for index in result.indices { result[index].tag = "vol\(index)" }
        return result
    }

    /// The parameters for an attached disk with no mount point of its own: the manifest's entry for it.
    public static func diskParameters(manifest: [MountDeclaration], device: String) -> [String] {
        guard let mount = manifest.first(where: { $0.source == .disk(device) }) else { return [] }
        return ["disk.mount=" + mount.guestPath] + (mount.readOnly ? ["disk.readonly=1"] : [])
    }
}
