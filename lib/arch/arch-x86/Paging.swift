// Paging: changes to the identity map that boot.S built, one 4 KiB page at a time.
//
// The boot map uses large pages (1 GiB, 2 MiB) except for the first 2 MiB. To unmap a single page
// (a thread stack's guard page), the large page that holds it is split: a new table, taken from the
// caller's page source, maps the same range with the next-smaller page size, and the entry is
// pointed at it. Splitting keeps every other address mapped exactly as before. Only the first 4 GiB
// (what boot.S maps) can be changed. All tables are identity-mapped, so a table's physical address is
// also its virtual one.
//
// Above 4 GiB nothing is mapped at boot. `mapDevice` adds identity-mapped, uncached 4 KiB pages there
// for device registers (a 64-bit PCI BAR that the firmware placed high), building the missing tables
// from the caller's page source; it never changes an existing mapping.
//
// Under Tessera's KVM monitor (`CPU.deprivileged`) the kernel runs in ring 3 and the page tables are
// the monitor's, read-only to the guest: `unmap` and `remap` succeed without changing anything (thread
// stacks get no guard page there), `mapDevice` fails (there are no devices to map).

@_extern(c, "tessera_invlpg") func _invlpg(_ address: UInt)

public enum Paging {
    static let present: UInt64 = 1, writable: UInt64 = 2, large: UInt64 = 0x80
    static let writeThrough: UInt64 = 0x8, cacheDisable: UInt64 = 0x10
    /// The lower half of the 48-bit address space: what an identity map can cover.
    static let identityLimit: UInt = 1 << 47
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

    /// Makes the 4 KiB page at `address` not present (accesses fault), splitting large pages with
    /// tables from `newPage` (which returns a zeroed-or-not 4 KiB page's address, or nil).
    /// Returns false if `address` is beyond the map or no page was available for a split.
    public static func unmap(page address: UInt, newPage: () -> UInt?) -> Bool {
        if CPU.deprivileged { return true }         // the monitor owns the page tables: no guard page
        guard let entry = entry(for: address, newPage: newPage) else { return false }
        entry.pointee &= ~present
        _invlpg(address)
        return true
    }

    /// Maps the 4 KiB page at `address` again (identity, writable).
    public static func remap(page address: UInt, newPage: () -> UInt?) -> Bool {
        if CPU.deprivileged { return true }
        guard let entry = entry(for: address, newPage: newPage) else { return false }
        entry.pointee = UInt64(address) & addressMask | present | writable
        _invlpg(address)
        return true
    }

    /// True when `address` is in a page that is currently mapped.
    public static func isMapped(_ address: UInt) -> Bool {
        if CPU.deprivileged { return address >= 0x1000 }
        guard address < 0x1_0000_0000 else { return false }
        var table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(CPU.cr3 & addressMask))!
        for level in (1...3).reversed() {                   // PML4, PDPT, PD
            let value = table[index(address, level: level)]
            if value & present == 0 { return false }
            if level < 3 && value & large != 0 { return true }
            table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(value & addressMask))!
        }
        return table[index(address, level: 0)] & present != 0
    }

    /// Identity-maps `[address, address + size)` as uncached device memory, for registers above the
    /// boot map. Pages already mapped (everything below 4 GiB) are left as they are. `newPage` supplies
    /// 4 KiB pages for new tables (they are zeroed here). False when the range is beyond the lower
    /// half of the address space or a table page could not be had.
    public static func mapDevice(_ address: UInt, size: Int, newPage: () -> UInt?) -> Bool {
        if CPU.deprivileged { return false }
        guard size > 0, address < identityLimit, UInt(size) <= identityLimit - address else { return false }
        var page = address & ~0xFFF
        while page < address + UInt(size) {
            guard mapDevicePage(page, newPage: newPage) else { return false }
            page += 0x1000
        }
        return true
    }

    static func mapDevicePage(_ address: UInt, newPage: () -> UInt?) -> Bool {
        var table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(CPU.cr3 & addressMask))!
        for level in (1...3).reversed() {                   // PML4, PDPT, PD
            let slot = table + index(address, level: level)
            if slot.pointee & present == 0 {
                guard let page = newPage(), let child = UnsafeMutablePointer<UInt64>(bitPattern: page) else { return false }
                child.initialize(repeating: 0, count: 512)
                slot.pointee = UInt64(page) | present | writable
            } else if slot.pointee & large != 0 {
                return true                                 // inside a large page: mapped already
            }
            table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(slot.pointee & addressMask))!
        }
        let slot = table + index(address, level: 0)
        if slot.pointee & present == 0 {
            slot.pointee = UInt64(address) & addressMask | present | writable | writeThrough | cacheDisable
            _invlpg(address)
        }
        return true
    }

    static func index(_ address: UInt, level: Int) -> Int { Int((address >> (12 + 9 * UInt(level))) & 511) }

    /// The level-0 (4 KiB) entry for `address`, splitting large pages on the way.
    static func entry(for address: UInt, newPage: () -> UInt?) -> UnsafeMutablePointer<UInt64>? {
        guard address < 0x1_0000_0000 else { return nil }
        var table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(CPU.cr3 & addressMask))!
        for level in (1...3).reversed() {
            let slot = table + index(address, level: level)
            if slot.pointee & present == 0 { return nil }
            if slot.pointee & large != 0 {
                // Split: 512 entries of the next-smaller size covering the same range.
                guard let page = newPage(), let child = UnsafeMutablePointer<UInt64>(bitPattern: page) else { return nil }
                let base = slot.pointee & addressMask & ~((UInt64(1) << (12 + 9 * UInt64(level))) - 1)
                let step = UInt64(1) << (12 + 9 * UInt64(level - 1))
                let flags = present | writable | (level - 1 > 0 ? large : 0)
                for i in 0..<512 { child[i] = (base + UInt64(i) * step) | flags }
                slot.pointee = UInt64(page) | present | writable
                _invlpg(address)
            }
            table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(slot.pointee & addressMask))!
        }
        return table + index(address, level: 0)
    }
}
