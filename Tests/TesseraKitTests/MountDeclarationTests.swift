// `mounts:` in tessera.yaml: the disk and host folders by guest path, checked at load with located
// errors, and how `tessera run` combines them with --disk and -v (the command line wins).

import Foundation
import Testing
import TesseraKit

@Suite struct MountDeclarationTests {
    let fixture: Fixture
    init() throws { fixture = try Fixture() }

    @Test func diskAndFolderMountsAreReadFromTheManifest() throws {
        try fixture.write("app/site/index.html", "hi\n")
        let path = try fixture.app("name: x\napp: {sources: [main.swift], type: X}\nmounts:\n  /data: disk\n  /www: ./site:ro\n")
        let manifest = try Manifest.load(path: path)
        #expect(manifest.mounts.map(\.guestPath) == ["/data", "/www"])
        #expect(manifest.mounts[0].source == .disk("disk") && !manifest.mounts[0].readOnly)
        guard case .folder(let folder) = manifest.mounts[1].source else { Issue.record("not a folder"); return }
        #expect(folder.hasSuffix("/app/site") && folder.hasPrefix("/") && manifest.mounts[1].readOnly)
        #expect(MountDeclaration.diskParameters(manifest: manifest.mounts, device: "disk") == ["disk.mount=/data"])
    }

    @Test func badMountsAreLocatedErrors() throws {
        let path = try fixture.app("name: x\napp: {sources: [main.swift], type: X}\ndevices: {store: block}\nmounts:\n  data: store\n  /: store\n  /a/../b: store\n  /www: site\n  /srv: ./missing\n  /d1: store\n  /d2: store\n")
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == [
            "mount point 'data' must be an absolute path other than / without '.', '..', spaces or quotes",
            "mount point '/' must be an absolute path other than / without '.', '..', spaces or quotes",
            "mount point '/a/../b' must be an absolute path other than / without '.', '..', spaces or quotes",
            "mount source 'site' is neither a block device (store) nor a folder path (./site, /srv/site)",
            "mount source './missing' is not a folder (looked for \(fixture.root)/app/missing)",
            "the disk is mounted twice ('/d2'); a disk has one mount point",
        ])
        #expect(errors.map(\.line) == [5, 6, 7, 8, 9, 11])
    }

    @Test func commandLineVolumesReplaceTheManifestsForTheSameGuestPath() {
        let nowhere = FileLocation(file: "")
        let manifest = [
            MountDeclaration(guestPath: "/www", source: .folder("/srv/site"), readOnly: true, location: nowhere),
            MountDeclaration(guestPath: "/logs", source: .folder("/var/log/app"), readOnly: false, location: nowhere),
            MountDeclaration(guestPath: "/data", source: .disk("disk"), readOnly: true, location: nowhere),
        ]
        let commandLine = [VolumeSpec(hostPath: "/tmp/other", guestPath: "/www", readOnly: false, tag: "vol0")]
        let volumes = MountDeclaration.volumes(manifest: manifest, commandLine: commandLine)
        #expect(volumes.map(\.guestPath) == ["/logs", "/www"])
        #expect(volumes.map(\.hostPath) == ["/var/log/app", "/tmp/other"])
        #expect(volumes.map(\.tag) == ["vol0", "vol1"])
        #expect(MountDeclaration.diskParameters(manifest: manifest, device: "disk") == ["disk.mount=/data", "disk.readonly=1"])
        #expect(MountDeclaration.diskParameters(manifest: manifest, device: "other").isEmpty)
    }
}
