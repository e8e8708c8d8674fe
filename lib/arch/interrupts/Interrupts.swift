// Interrupts: the vector map, handler registration and dispatch, and per-vector counters.
//
// Vector map:
//   0x00-0x1F  CPU exceptions (handled by the kernel's crash path, never here)
//   0x20-0x2F  the legacy 8259 PICs, remapped here and masked: anything arriving is spurious
//   0x30-0x47  I/O APIC lines 0-23 (`Interrupts.vector(forLine:)`)
//   0x50-0xDF  message-signalled interrupts (PCI MSI/MSI-X), handed out by `allocateMessage`
//   0xEC       the local APIC timer (used by the clock library)
//   0xFE       local APIC errors
//   0xFF       the local APIC's spurious vector
// A handler is a C-convention function plus a context pointer, registered per vector; dispatch runs
// it on the interrupt stack with interrupts disabled, then signals end-of-interrupt. A handler must not
// block or allocate: it records what happened and wakes whoever waits (the threads library's events).
// Spurious interrupts are counted and otherwise ignored, never fatal. All state is per machine for
// now; with SMP the counters and the local APIC become per-CPU, the handler table stays shared
// (written only at registration, before the vector is unmasked).

import ArchX86

public typealias InterruptHandler = @convention(c) (_ vector: UInt8, _ context: UnsafeMutableRawPointer?) -> Void

public enum Interrupts {
    public static let firstLineVector: UInt8 = 0x30
    public static let firstMessageVector: UInt8 = 0x50, lastMessageVector: UInt8 = 0xDF
    public static let timerVector: UInt8 = 0xEC
    public static let errorVector: UInt8 = 0xFE
    public static let spuriousVector: UInt8 = 0xFF

    struct Entry {
        var handler: InterruptHandler?
        var context: UnsafeMutableRawPointer?
    }

    nonisolated(unsafe) static var entries: [Entry] = []
    nonisolated(unsafe) static var counts: [UInt64] = []
    nonisolated(unsafe) static var spurious: UInt64 = 0
    nonisolated(unsafe) static var ready = false
    /// False on a platform without interrupt controllers (Tessera's KVM monitor): the tables exist, so
    /// registration works, but no controller is touched and nothing ever fires.
    nonisolated(unsafe) public private(set) static var hasControllers = true

    /// Masks the legacy PICs (after moving them to 0x20-0x2F), enables the local APIC and masks every
    /// I/O APIC line, then enables interrupts on this CPU. With `controllers` false only the tables.
    public static func initialize(controllers: Bool = true) {
        entries = Array(repeating: Entry(), count: 256)
        counts = Array(repeating: 0, count: 256)
        hasControllers = controllers
        ready = true
        guard controllers else { return }
        LegacyPIC.remapAndMask(base: 0x20)
        LocalAPIC.enable(spurious: spuriousVector, error: errorVector)
        IOAPIC.maskAll()
        CPU.enableInterrupts()
    }

    /// The vector an I/O APIC line is delivered on.
    public static func vector(forLine line: Int) -> UInt8 { firstLineVector + UInt8(line) }

    /// Installs `handler` for `vector` (replacing any previous one).
    public static func register(vector: UInt8, context: UnsafeMutableRawPointer? = nil, _ handler: InterruptHandler) {
        CPU.withInterruptsDisabled { entries[Int(vector)] = Entry(handler: handler, context: context) }
    }

    public static func unregister(vector: UInt8) {
        CPU.withInterruptsDisabled { entries[Int(vector)] = Entry() }
    }

    /// Routes I/O APIC `line` to its vector on this CPU and installs `handler` for it.
    public static func enable(line: Int, level: Bool = false, context: UnsafeMutableRawPointer? = nil,
                              _ handler: InterruptHandler) {
        register(vector: vector(forLine: line), context: context, handler)
        guard hasControllers else { return }
        IOAPIC.route(line: line, vector: vector(forLine: line), destination: LocalAPIC.apicID, level: level)
    }

    /// Reserves a vector for a message-signalled interrupt, installs `handler` for it, and returns the
    /// address and data a device writes to raise it on this CPU (Intel SDM vol. 3, 11.11: address
    /// 0xFEE00000 with the destination APIC ID in bits 19:12, physical destination; data: the vector,
    /// fixed delivery, edge-triggered, so no acknowledgement is needed at an I/O APIC). Nil when the
    /// vectors have run out, or when this CPU's APIC ID does not fit the 8-bit destination field.
    /// A vector of the range is free while no handler is registered for it.
    public static func allocateMessage(context: UnsafeMutableRawPointer? = nil, _ handler: InterruptHandler)
        -> (vector: UInt8, address: UInt64, data: UInt32)? {
        guard ready, hasControllers else { return nil }
        let destination = LocalAPIC.apicID
        guard destination < 256 else { return nil }
        let found = CPU.withInterruptsDisabled { () -> UInt8? in
            for vector in firstMessageVector...lastMessageVector where entries[Int(vector)].handler == nil {
                entries[Int(vector)] = Entry(handler: handler, context: context)
                return vector
            }
            return nil
        }
        guard let vector = found else { return nil }
        return (vector, 0xFEE0_0000 | UInt64(destination) << 12, UInt32(vector))
    }

    /// Called by the kernel for every vector >= 32.
    public static func dispatch(vector: UInt64) {
        guard ready, vector < 256 else { return }
        let index = Int(vector)
        counts[index] &+= 1
        if vector == UInt64(spuriousVector) || (vector >= 0x20 && vector < 0x30) {
            spurious &+= 1                                  // no EOI for spurious vectors
            return
        }
        let entry = entries[index]
        if let handler = entry.handler {
            handler(UInt8(vector), entry.context)
        } else if vector != UInt64(errorVector) {
            spurious &+= 1                                  // nothing registered: count it as spurious
        }
        if hasControllers { LocalAPIC.endOfInterrupt() }
    }

    /// Interrupts taken on `vector` since boot.
    public static func count(vector: UInt8) -> UInt64 { ready ? counts[Int(vector)] : 0 }

    /// Spurious interrupts since boot (the APIC's spurious vector, PIC leftovers, unhandled vectors).
    public static var spuriousCount: UInt64 { spurious }

    /// Calls `body` for each vector that has fired, with its count (for shells and metrics).
    public static func forEachCount(_ body: (UInt8, UInt64) -> Void) {
        guard ready else { return }
        for vector in 32..<256 where counts[vector] != 0 { body(UInt8(vector), counts[vector]) }
    }
}

/// The two 8259 PICs: moved off the exception vectors and masked, since the APICs replace them.
enum LegacyPIC {
    static func remapAndMask(base: UInt8) {
        CPU.outb(0x20, 0x11); CPU.outb(0xA0, 0x11)          // ICW1: initialize, expect ICW4
        CPU.outb(0x21, base); CPU.outb(0xA1, base + 8)      // ICW2: vector offsets
        CPU.outb(0x21, 0x04); CPU.outb(0xA1, 0x02)          // ICW3: cascade on IRQ 2
        CPU.outb(0x21, 0x01); CPU.outb(0xA1, 0x01)          // ICW4: 8086 mode
        CPU.outb(0x21, 0xFF); CPU.outb(0xA1, 0xFF)          // mask everything
    }
}
