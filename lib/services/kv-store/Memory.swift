// The memory estimate behind `used_memory`, `maxmemory` and eviction.
//
// The store cannot ask the heap what each key costs, so it keeps a running estimate, updated on every change
// (each container tracks its own share; the keyspace sums them). The figures are what the Swift data
// structures cost on a 64-bit target, with allocator overhead and the typical spare capacity of growing
// tables, calibrated against the resident-memory growth of a host process (glibc malloc) storing 10^5 keys,
// list elements, set members, hash fields or sorted-set members, or 10^4 one-element lists: the growth was
// 0.92 to 1.22 times the estimate, the most for dictionaries that had just doubled.
//
//   byte string of n bytes    n + 48      a heap buffer: 16-byte object header, count and capacity (16),
//                                         allocator header and rounding (16); an empty string costs 0
//   key in the keyspace       188 + key   its index-dictionary bucket (a 32-byte slice and an 8-byte slot
//                                         number, twice over for a table between 3/8 and 3/4 full: 80), its
//                                         slot-table entry (64 bytes, 1.5 times for array growth: 96) and
//                                         its sampling-array slot (12); plus the key's own string
//   expiry on a key           + 12        its slot in the array of keys with an expiry
//   string value              n + 48      one byte string
//   list, set, hash, zset     160         the object, its tables' headers; plus per element:
//     list element            n + 48      its string; the ring's 8-byte slots are counted exactly as the
//                                         ring grows and shrinks
//     set member              n + 140     its string, array slot (12), dictionary bucket (80)
//     hash field and value    f + v + 200 two strings, two array slots, a dictionary bucket
//     sorted-set member       n + 160     its string, block element (score and reference, 16, twice for
//                                         half-full blocks: 32), dictionary bucket (80)
//
// Not counted: the command table, the clients' buffers (the server's), tables' capacity left over after
// many deletions (Swift dictionaries do not shrink). So `maxmemory` should stay below the heap the store
// may use by a margin: three quarters of it is a reasonable rule.
//
// A write command is admitted under `maxmemory` if the memory in use plus its arguments (each counted as
// a byte string, and a keyspace entry for each key it names) fits; otherwise keys are evicted by the policy
// first, and again after the write if it took more than that (Eviction.swift).

enum Memory {
    static let allocation = 48                     // header, count and capacity, allocator overhead
    static let entry = 188
    static let volatileSlot = 12
    static let container = 160
    static let listSlot = 8

    static func string(_ count: Int) -> Int { count == 0 ? 0 : count + allocation }
    static func key(_ count: Int) -> Int { entry + string(count) }
    static func listElement(_ count: Int) -> Int { string(count) }
    static func setMember(_ count: Int) -> Int { string(count) + 92 }
    static func hashField(_ field: Int, _ value: Int) -> Int { string(field) + string(value) + 104 }
    static func sortedSetMember(_ count: Int) -> Int { string(count) + 112 }

    /// What a write would add if it stored all its arguments, each as a byte string, under `keys` new keys.
    static func incoming(_ arguments: [ArraySlice<UInt8>], keys: Int) -> Int {
        var total = keys * entry
        for argument in arguments.dropFirst() { total += string(argument.count) }
        return total
    }
}

/// How "used_memory_human" and "maxmemory_human" print a byte count: Redis's bytesToHuman, "%lluB" below
/// 1 KiB, then "%.2fK", "%.2fM", "%.2fG", "%.2fT", "%.2fP" (exact ties rounded to even, as printf does).
enum HumanBytes {
    static func append(_ bytes: Int, to text: inout [UInt8]) {
        let value = UInt64(max(0, bytes))
        let units: [UInt8] = [UInt8(ascii: "K"), UInt8(ascii: "M"), UInt8(ascii: "G"), UInt8(ascii: "T"),
                              UInt8(ascii: "P")]
        guard value >= 1024, value < 1 << 60 else {
            text.appendDecimal(Int64(value))
            text.append(UInt8(ascii: "B"))
            return
        }
        var unit = 0, divisor: UInt64 = 1024
        while value >= divisor * 1024 {
            divisor *= 1024
            unit += 1
        }
        // value / divisor in hundredths, rounded half to even; in two steps, because value * 100 may not
        // fit in 64 bits and 128-bit division needs a compiler-rt routine the kernel does not link.
        let remainder = value % divisor
        var hundredths = value / divisor * 100 + remainder * 100 / divisor
        let twice = remainder * 100 % divisor * 2
        if twice > divisor || (twice == divisor && hundredths % 2 == 1) { hundredths += 1 }
        text.appendDecimal(Int64(hundredths / 100))
        text.append(UInt8(ascii: "."))
        text.append(UInt8(ascii: "0") + UInt8(hundredths / 10 % 10))
        text.append(UInt8(ascii: "0") + UInt8(hundredths % 10))
        text.append(units[unit])
    }
}
