// Device declarations (`devices:` in tessera.yaml) and how `tessera run`'s --net/--disk attach to them.

import Foundation
import Testing
import TesseraKit

@Suite struct DeviceAttachmentsTests {
    let fixture: Fixture
    init() throws { fixture = try Fixture() }

    static let nowhere = FileLocation(file: "")
    static let service = DeviceDeclaration(name: "service", kind: .net, location: nowhere)
    static let data = DeviceDeclaration(name: "data", kind: .block, location: nowhere)

    func resolve(_ declared: [DeviceDeclaration], net: [String] = [], disk: [String] = [],
                 requireAll: Bool = true) -> Result<DeviceAttachments, AttachmentError> {
        Result { () throws(AttachmentError) in
            try DeviceAttachments.resolve(declared: declared, net: net, disk: disk, requireAll: requireAll)
        }
    }

    func message(_ result: Result<DeviceAttachments, AttachmentError>) -> String? {
        if case let .failure(error) = result { return error.description }
        return nil
    }

    @Test func manifestDeclaresDevicesByNameAndKind() throws {
        let path = try fixture.app("name: x\napp: {sources: [main.swift], type: X}\ndevices:\n  service: net\n  data: block\n")
        let manifest = try Manifest.load(path: path)
        #expect(manifest.devices.map(\.name) == ["service", "data"])
        #expect(manifest.devices.map(\.kind) == [.net, .block])
    }

    @Test func badDeclarationsAreLocatedErrors() throws {
        let path = try fixture.app("name: x\napp: {sources: [main.swift], type: X}\ndevices:\n  Service: net\n  data: disk\n  a: net\n  b: net\n")
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == [
            "invalid device name 'Service'; use 1-15 lowercase letters, digits and '-'",
            "unknown device kind 'disk' for device 'data'; valid kinds: block, net",
            "a second net device 'b': images have at most one network and one block device for now",
        ])
        #expect(errors.map(\.line) == [4, 5, 7])
    }

    @Test func namedAndUnnamedAttachmentsReachTheDeclaredDevices() throws {
        let named = try resolve([Self.service, Self.data], net: ["service=tap:tap0"], disk: ["data=/tmp/a=b.img"]).get()
        #expect(named.net?.device == "service" && named.net?.tap == "tap0")
        #expect(named.block?.device == "data" && named.block?.file == "/tmp/a=b.img")
        let unnamed = try resolve([Self.service, Self.data], net: ["tap:tap1"], disk: ["disk.img"]).get()
        #expect(unnamed.net?.device == "service" && unnamed.net?.tap == "tap1")
        #expect(unnamed.block?.file == "disk.img", "a path with no declared name before '=' stays a path")
    }

    @Test func aDiskCarriesItsMountPointAndReadOnlyFlag() throws {
        let mounted = try resolve([Self.data], disk: ["data=/tmp/x.img:/srv/data:ro"]).get()
        #expect(mounted.block?.file == "/tmp/x.img" && mounted.blockMountPoint == "/srv/data" && mounted.blockReadOnly)
        #expect(mounted.blockParameters == ["disk.mount=/srv/data", "disk.readonly=1"])
        let plain = try resolve([Self.data], disk: ["x.img"]).get()
        #expect(plain.blockMountPoint == nil && !plain.blockReadOnly && plain.blockParameters.isEmpty)
        let readOnly = try resolve([Self.data], disk: ["x.img:ro"]).get()
        #expect(readOnly.block?.file == "x.img" && readOnly.blockReadOnly && readOnly.blockMountPoint == nil)
        let colon = try resolve([Self.data], disk: ["odd:name.img:/mnt"]).get()
        #expect(colon.block?.file == "odd:name.img" && colon.blockMountPoint == "/mnt", "only a trailing /PATH or ro is taken off")
        #expect(message(resolve([Self.data], disk: [":/mnt"])) == "--disk ':/mnt': use FILE, DEVICE=FILE, FILE:/MOUNT-POINT or FILE:/MOUNT-POINT:ro")
    }

    @Test func slotsImplyDevicesWhenTheManifestDeclaresNone() throws {
        let path = try fixture.app("name: x\napp: {sources: [main.swift], type: X}\n")
        #expect(try Manifest.load(path: path).devices.isEmpty)
        let result = try resolve([DeviceDeclaration(name: "net", kind: .net, location: Self.nowhere)], net: ["tap:t"]).get()
        #expect(result.net?.device == "net")
    }

    @Test func everyMismatchIsAnErrorBeforeBoot() {
        #expect(message(resolve([Self.data])) == "the image's block device 'data' is not attached: add --disk data=FILE")
        #expect(message(resolve([Self.service])) == "the image's network device 'service' is not attached: add --net service=tap:IFNAME (the monitor has no user networking)")
        #expect(message(resolve([Self.service], requireAll: false)) == nil, "QEMU falls back to user networking")
        #expect(message(resolve([Self.service], net: ["other=tap:x"]))
                == "--net 'other=tap:x': the image declares no network device 'other'; it declares 'service' (net)")
        #expect(message(resolve([], net: ["tap:x"]))?.hasPrefix("--net 'tap:x': the image has no network device to attach it to") == true)
        #expect(message(resolve([Self.data], disk: ["a.img", "b.img"])) == "--disk 'b.img': the block device 'data' is already attached")
        #expect(message(resolve([Self.service], net: ["eth0"])) == "unknown --net 'eth0'; use user (QEMU's user networking), tap:IFNAME or DEVICE=tap:IFNAME")
    }
}
