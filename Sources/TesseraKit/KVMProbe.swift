// KVMProbe: can this host run guests with KVM?
//
// Opening /dev/kvm is not enough (permissions, a nested or partial implementation): the probe checks
// the API version and creates (and destroys) a VM, which is what QEMU will do first.
// One known trap: a host whose KVM is the PVM module (kvm_pvm, a nested "pagetable-based" KVM) passes
// those checks but runs a guest that is not PVM-aware through KVM's instruction emulator, which fails
// on the first SSE instruction ("KVM internal error ... emulation failure"); Swift code uses SSE
// everywhere. The probe reports such a host as unusable for QEMU. (PVM runs ring-3 code natively, so
// Tessera's own monitor, which enters guests in ring 3, does run there: docs/monitor.md.)

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum KVMProbe {
    public enum Result: Equatable {
        case usable
        case unusable(String)
    }

    static let getAPIVersion: UInt = 0xAE00
    static let createVM: UInt = 0xAE01

    public static func probe(path: String = "/dev/kvm") -> Result {
        if let forced = ProcessInfo.processInfo.environment["TESSERA_ACCEL"], forced == "tcg" {
            return .unusable("TESSERA_ACCEL=tcg")
        }
        if FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm") {
            return .unusable("the host's KVM is kvm_pvm, which cannot run SSE code in non-PVM guests")
        }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return .unusable("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let version = ioctl(fd, getAPIVersion, 0)
        guard version == 12 else { return .unusable("\(path): unexpected KVM API version \(version)") }
        let vm = ioctl(fd, createVM, 0)
        guard vm >= 0 else { return .unusable("\(path): cannot create a VM: \(String(cString: strerror(errno)))") }
        close(vm)
        return .usable
    }
}
