// PCILogic (lib/drivers/pci): configuration-space fields, the capability walk and BAR decoding. Input: the
// 256-byte configuration space (shorter inputs are padded with zeros), then for each of the six BAR
// registers the word read back after writing all ones (the probe, 4 bytes little-endian), then six
// bytes choosing sizes for well-formed probes.
//
// The BARs are walked as `PCIFunction.bar` does on real hardware (a 64-bit BAR takes two registers).
// Checks: configuration space is only read in aligned words below 256 (the protocol's contract); the
// capability walk ends, within 48 entries, at dword-aligned offsets after the header, and `first(id:)`
// finds what the walk finds; a BAR decodes to nil only when it is not implemented or would not fit the
// address space; a decoded BAR has the kind its low bits say, an address with those bits cleared, a
// size that is a power of two, the lowest bit of its address mask, and for a well-formed probe (ones
// from the top down to the size, as hardware answers) that size; and its range fits the 64-bit address
// space (`PCIFunction.mappedMemoryBAR` adds the size to the address).

import PCILogic

struct Space: PCIConfigurationSpace {
    let bytes: [UInt8]

    func read32(_ offset: Int) -> UInt32 {
        precondition(offset >= 0 && offset % 4 == 0 && offset < 256, "PCI: configuration space read at \(offset)")
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var configuration = Array(input.take(256))
    configuration += [UInt8](repeating: 0, count: 256 - configuration.count)
    let space = Space(bytes: configuration)
    let probes = (0..<6).map { _ in UInt32(littleEndian: input.u32().byteSwapped) }
    let sizes = (0..<6).map { _ in input.byte() }

    _ = (space.vendorID, space.deviceID, space.subsystemID, space.revision, space.classCode, space.isMultiFunction,
         space.interruptPin, space.interruptLine, space.read16(PCIRegister.command))
    for offset in 0..<256 { _ = (space.read8(offset), space.read16(offset)) }
    checkCapabilities(space)
    checkBARs(space, probes: probes, sizes: sizes)
    let address = PCIAddress(bus: configuration[0], device: configuration[1] & 31, function: configuration[2] & 7)
    let word = address.configurationAddress(Int(configuration[3]))
    precondition(word >> 31 == 1 && (word >> 16) & 0xFF == UInt32(address.bus) && (word >> 11) & 31 == UInt32(address.device)
                 && (word >> 8) & 7 == UInt32(address.function) && word & 0xFF == UInt32(configuration[3] & 0xFC),
                 "PCI: configuration address")
    precondition(address.description.utf8.count == 7, "PCI: address text")
    return 0
}

func checkCapabilities(_ space: Space) {
    var walk = space.capabilities
    var list: [PCICapability] = []
    while let capability = walk.next() {
        precondition(list.count < 48, "PCI: more than 48 capabilities")
        precondition(capability.offset >= 0x40 && capability.offset <= 0xFC && capability.offset % 4 == 0,
                     "PCI: capability at \(capability.offset)")
        precondition(capability.id == space.read8(capability.offset), "PCI: capability ID")
        list.append(capability)
    }
    precondition(walk.next() == nil, "PCI: the walk goes on after it ended")
    let hasList = space.read16(PCIRegister.status) & 0x10 != 0
    precondition(hasList || list.isEmpty, "PCI: capabilities without the status bit")
    for id: UInt8 in [0x05, 0x09, 0x10, 0x11, list.first?.id ?? 0, list.last?.id ?? 0xFF] {
        precondition(space.capabilities.first(id: id) == list.first { $0.id == id }, "PCI: first(id:) disagrees with the walk")
    }
}

func checkBARs(_ space: Space, probes: [UInt32], sizes: [UInt8]) {
    let count = space.headerLayout == 0 ? 6 : space.headerLayout == 1 ? 2 : 0
    var index = 0
    while index < count {
        let value = space.read32(PCIRegister.firstBAR + 4 * index)
        let is64Bit = PCIBAR.isLowerHalfOf64Bit(value) && index + 1 < count
        let high = is64Bit ? space.read32(PCIRegister.firstBAR + 4 * index + 4) : 0
        let highProbe = is64Bit ? probes[index + 1] : 0
        check(value: value, probe: probes[index], high: high, highProbe: highProbe)
        // The same register with a well-formed probe for a size of 2^exponent.
        let io = value & 1 != 0
        let exponent = Int(sizes[index]) % (io ? 30 : is64Bit ? 60 : 28) + (io ? 2 : 4)
        let mask = ~(UInt64(1) << exponent - 1)
        let typeBits = value & (io ? 0b11 : 0xF)
        let bar = check(value: value, probe: UInt32(truncatingIfNeeded: mask) & ~(io ? 0b11 : 0xF) | typeBits,
                        high: high, highProbe: is64Bit ? UInt32(truncatingIfNeeded: mask >> 32) : 0)
        precondition(bar == nil || bar?.size == UInt64(1) << exponent,
                     "PCI: a well-formed probe of 2^\(exponent) decodes to \(String(describing: bar?.size))")
        index += is64Bit ? 2 : 1
    }
}

@discardableResult
func check(value: UInt32, probe: UInt32, high: UInt32, highProbe: UInt32) -> PCIBAR? {
    let bar = PCIBAR.decode(value: value, probe: probe, high: high, highProbe: highProbe)
    let io = value & 1 != 0, is64Bit = PCIBAR.isLowerHalfOf64Bit(value)
    let mask = io ? UInt64(probe & ~0b11) : (is64Bit ? UInt64(highProbe) << 32 : 0) | UInt64(probe & ~0xF)
    let address = io ? UInt64(value & ~0b11) : (is64Bit ? UInt64(high) << 32 : 0) | UInt64(value & ~0xF)
    guard let bar else {
        precondition(mask == 0 || address.addingReportingOverflow(mask & (~mask &+ 1)).overflow,
                     "PCI: an implemented BAR decodes to nil")
        return nil
    }
    precondition(bar.kind == (io ? .io : is64Bit ? .memory64 : .memory32), "PCI: BAR kind")
    precondition(bar.address == address, "PCI: BAR address")
    precondition(bar.size != 0 && bar.size & (bar.size - 1) == 0 && bar.size == mask & (~mask &+ 1),
                 "PCI: BAR size \(bar.size) is not the lowest bit of the mask \(mask)")
    precondition(bar.prefetchable == (!io && value & 0b1000 != 0), "PCI: prefetchable bit")
    precondition(!bar.address.addingReportingOverflow(bar.size).overflow,
                 "PCI: BAR at \(bar.address) of size \(bar.size) wraps the address space")
    return bar
}
