// KVMBlockDevice: the block device under Tessera's KVM monitor (`tessera-kvm --disk FILE`).
//
// Each transfer is one hypercall naming the caller's buffer in place: the monitor preads/pwrites the
// file straight into or out of guest memory, so there is no bounce buffer and no device queue; the call
// returns when the host call has. Transfers longer than the ABI's limit (256 sectors) are split. The
// size comes from the boot-info block; without `--disk` there is no device (init fails). Ranges are
// checked here first, so that a well-behaved app never makes the monitor end the guest.

import BlockDeviceAPI
import HypercallABI
import PlatformKVM

public struct KVMBlockDevice: BlockDevice {
    public static var name: StaticString { "kvm-hypercall-block" }
    public let sectorSize: Int
    public let sectorCount: UInt64
    public private(set) var statistics = BlockDeviceStatistics()

    public init?() {
        let info = KVMPlatform.bootInfo
        guard info.blockSectorCount > 0, info.blockSectorSize > 0 else {
            print("tessera: block-kvm: no block device attached (run with --disk FILE)")
            return nil
        }
        sectorSize = Int(info.blockSectorSize)
        sectorCount = info.blockSectorCount
    }

    public mutating func read(sector: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        transfer(.blockRead, sector: sector, UnsafeRawBufferPointer(buffer))
    }

    public mutating func write(sector: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        transfer(.blockWrite, sector: sector, buffer)
    }

    mutating func transfer(_ call: Hypercall, sector: UInt64, _ buffer: UnsafeRawBufferPointer) -> Bool {
        let count = UInt64(buffer.count / sectorSize)
        guard buffer.count % sectorSize == 0, count > 0, let base = buffer.baseAddress,
              sector < sectorCount, count <= sectorCount - sector else {
            statistics.errors += 1
            return false
        }
        var done: UInt64 = 0
        while done < count {
            var arguments = BlockArguments()
            arguments.sector = sector + done
            arguments.count = min(count - done, BlockArguments.maximumCount)
            arguments.data = UInt64(UInt(bitPattern: base)) + done * UInt64(sectorSize)
            Hypervisor.call(call, &arguments)
            guard arguments.result == HypercallResult.ok else {
                statistics.errors += 1
                return false
            }
            done += arguments.count
        }
        if call == .blockRead { statistics.sectorsRead += Int(count) } else { statistics.sectorsWritten += Int(count) }
        return true
    }
}
