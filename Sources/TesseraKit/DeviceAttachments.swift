// DeviceAttachments: which host device `tessera run` attaches to each device the image declares.
//
// An image declares its devices by name in the manifest (`devices: {service: net, data: block}`); a
// manifest without `devices:` declares what its slots imply: a network device named `net` when the
// `net-device` slot is bound, a block device named `disk` when `block-device` is. The run attaches host
// devices with `--net [NAME=]tap:IFNAME` and `--disk [NAME=]FILE`; the name may be left out when the
// image has one device of that kind. Everything is checked before anything boots: an attachment names
// a device the image does not declare, or a declared device is left unattached on a platform that
// needs it (the monitor has no user networking), gives an error that says what to add.
// ABI version 1 of the monitor carries one network and one block device; the manifest enforces that.

public struct DeviceAttachments: Sendable {
    /// The network device's name and the tap interface, when attached.
    public var net: (device: String, tap: String)?
    /// The block device's name and the host file, when attached.
    public var block: (device: String, file: String)?
    /// `--disk FILE:/PATH`: where the guest mounts the disk (the `disk.mount` parameter).
    public var blockMountPoint: String?
    /// `--disk FILE:ro`: the disk is attached read-only (QEMU refuses writes; the guest mounts it read-only).
    public var blockReadOnly = false

    /// The devices an image declares: the manifest's, else those its bound slots imply.
    public static func declared(by resolved: ResolvedImage) -> [DeviceDeclaration] {
        declared(manifest: resolved.manifest.devices,
                 netSlotBound: resolved.binding(for: "net-device") != nil,
                 blockSlotBound: resolved.binding(for: "block-device") != nil)
    }

    static func declared(manifest: [DeviceDeclaration], netSlotBound: Bool, blockSlotBound: Bool) -> [DeviceDeclaration] {
        if !manifest.isEmpty { return manifest }
        var implied: [DeviceDeclaration] = []
        let nowhere = FileLocation(file: "")
        if netSlotBound { implied.append(DeviceDeclaration(name: "net", kind: .net, location: nowhere)) }
        if blockSlotBound { implied.append(DeviceDeclaration(name: "disk", kind: .block, location: nowhere)) }
        return implied
    }

    /// Matches `--net` and `--disk` values against the declared devices. `requireAll`: every declared
    /// device must be attached (the monitor); otherwise an unattached network device uses the
    /// platform's default (QEMU's user networking). Throws a message for the user.
    public static func resolve(declared: [DeviceDeclaration], net: [String], disk: [String],
                               requireAll: Bool) throws(AttachmentError) -> DeviceAttachments {
        var result = DeviceAttachments()
        let names = declared.map { "'\($0.name)' (\($0.kind.rawValue))" }.joined(separator: ", ")
        func device(_ kind: DeviceDeclaration.Kind, named name: String?, option: String) throws(AttachmentError) -> String {
            let candidates = declared.filter { $0.kind == kind }
            let noun = kind == .net ? "network" : "block"
            if let name {
                guard candidates.contains(where: { $0.name == name }) else {
                    throw AttachmentError("\(option): the image declares no \(noun) device '\(name)'"
                                          + (names.isEmpty ? "" : "; it declares \(names)"))
                }
                return name
            }
            guard let only = candidates.first else {
                throw AttachmentError("\(option): the image has no \(noun) device to attach it to"
                                      + (kind == .net ? " (no net-device slot and no `devices:` entry of kind net)"
                                                      : " (declare one in tessera.yaml: `devices: {disk: block}`)"))
            }
            return only.name
        }
        for value in net {
            let (name, rest) = split(value, declared: declared)
            guard rest.hasPrefix("tap:"), rest.count > 4 else {
                throw AttachmentError("unknown --net '\(value)'; use user (QEMU's user networking), tap:IFNAME or DEVICE=tap:IFNAME")
            }
            let target = try device(.net, named: name, option: "--net '\(value)'")
            guard result.net == nil else { throw AttachmentError("--net '\(value)': the network device '\(target)' is already attached") }
            result.net = (target, String(rest.dropFirst(4)))
        }
        for value in disk {
            let (name, rest) = split(value, declared: declared)
            // FILE, then optionally :/MOUNT-POINT and :ro (a file name holding ':' is taken whole unless
            // what follows the colon is one of those).
            var parts = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            var mountPoint: String? = nil
            var readOnly = false
            while parts.count > 1 {
                let last = parts[parts.count - 1]
                if last == "ro" && !readOnly && mountPoint == nil {
                    readOnly = true
                } else if last.hasPrefix("/") && mountPoint == nil {
                    mountPoint = last
                } else {
                    break
                }
                parts.removeLast()
            }
            let file = parts.joined(separator: ":")
            guard !file.isEmpty else { throw AttachmentError("--disk '\(value)': use FILE, DEVICE=FILE, FILE:/MOUNT-POINT or FILE:/MOUNT-POINT:ro") }
            if let mountPoint {
                guard Manifest.parameterProblem(name: "disk.mount", value: mountPoint) == nil else {
                    throw AttachmentError("--disk '\(value)': the mount point '\(mountPoint)' cannot hold spaces or quotes")
                }
            }
            let target = try device(.block, named: name, option: "--disk '\(value)'")
            guard result.block == nil else { throw AttachmentError("--disk '\(value)': the block device '\(target)' is already attached") }
            result.block = (target, file)
            result.blockMountPoint = mountPoint
            result.blockReadOnly = readOnly
        }
        for declaration in declared {
            switch declaration.kind {
            case .net where result.net == nil && requireAll:
                throw AttachmentError("the image's network device '\(declaration.name)' is not attached: add --net \(declaration.name)=tap:IFNAME (the monitor has no user networking)")
            case .block where result.block == nil:
                throw AttachmentError("the image's block device '\(declaration.name)' is not attached: add --disk \(declaration.name)=FILE")
            default: break
            }
        }
        return result
    }

    /// The kernel parameters that tell ext2-mount where and how to mount the attached disk.
    public var blockParameters: [String] {
        var parameters: [String] = []
        if let blockMountPoint { parameters.append("disk.mount=" + blockMountPoint) }
        if blockReadOnly { parameters.append("disk.readonly=1") }
        return parameters
    }

    /// "NAME=rest" when NAME is a declared device's name, else (nil, value): a file path may hold '='.
    static func split(_ value: String, declared: [DeviceDeclaration]) -> (String?, String) {
        guard let equals = value.firstIndex(of: "=") else { return (nil, value) }
        let name = String(value[..<equals])
        if declared.contains(where: { $0.name == name }) || (DeviceDeclaration.isValidName(name) && !value[..<equals].contains("/")
                                                                  && value[value.index(after: equals)...].hasPrefix("tap:")) {
            return (name, String(value[value.index(after: equals)...]))
        }
        return (nil, value)
    }
}

public struct AttachmentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
