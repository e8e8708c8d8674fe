// PCIBus: finding functions. Bus 0 is scanned device by device (function 0 first; functions 1-7 only
// when function 0 says it is multi-function), and every PCI-to-PCI bridge found (q35's PCIe root
// ports, pci-bridge) is followed to its secondary bus, which the firmware numbered. A bridge whose
// secondary bus is not above its own is skipped, and the depth is bounded, so a misprogrammed
// topology cannot loop. Only the first host bridge's hierarchy (root bus 0) is searched, which is
// where QEMU's pc and q35 put every device unless extra host bridges (pxb) are configured.

public enum PCI {
    static let maximumBridgeDepth = 8

    /// The first function, in scan order, for which `matches` is true.
    public static func first(where matches: (PCIFunction) -> Bool) -> PCIFunction? {
        scan(bus: 0, depth: 0, matches)
    }

    /// Calls `body` for every function present, in scan order.
    public static func forEach(_ body: (PCIFunction) -> Void) {
        _ = scan(bus: 0, depth: 0) { function in
            body(function)
            return false
        }
    }

    static func scan(bus: UInt8, depth: Int, _ matches: (PCIFunction) -> Bool) -> PCIFunction? {
        for device in 0..<UInt8(32) {
            let first = PCIFunction(PCIAddress(bus: bus, device: device, function: 0))
            guard first.vendorID != 0xFFFF else { continue }
            let functions: UInt8 = first.isMultiFunction ? 8 : 1
            for number in 0..<functions {
                let function = PCIFunction(PCIAddress(bus: bus, device: device, function: number))
                guard function.vendorID != 0xFFFF else { continue }
                if matches(function) { return function }
                if function.headerLayout == 1, depth < maximumBridgeDepth {
                    let secondary = function.read8(PCIRegister.secondaryBus)
                    if secondary > bus, let found = scan(bus: secondary, depth: depth + 1, matches) { return found }
                }
            }
        }
        return nil
    }
}
