// TLSF blocks: the header layout and the physical-neighbour operations.
//
// Every block starts with two words; the payload handed to callers follows them:
//
//     address + 0   prevPhysical   address of the previous block in memory, valid only while that
//                                  block is free (it is the last word of that block's payload)
//     address + 8   size word      payload size | slack << 48 | prev-free bit (2) | free bit (1)
//     address + 16  payload        while free: nextFree (+16) and prevFree (+24), the free-list links
//
// So a used block costs one word (the size word): its prevPhysical field belongs to the previous
// block's payload. The next block in memory starts at `address + 8 + size`. Sizes are multiples of 8
// and at least 24 (room for the two list links plus the next block's prevPhysical word), so the low
// three bits of the size word are flags. Bits 48 and up hold, for used blocks only, the slack: block
// size minus the bytes the caller asked for, which is how `free` keeps `inUseBytes` exact without
// another word per block. Sizes are below 2^32 (`blockSizeMax`), far from bit 48.
//
// These are the boundary tags of the paper: a block finds its successor from its own size and its
// predecessor from `prevPhysical`, so a freed block merges with free neighbours in O(1). The prev-free
// bit says whether `prevPhysical` may be read. A region ends with a sentinel: a used block of size 0
// whose prev-free bit tracks the last real block; the first block of a region has prev-free clear, so
// nothing ever merges across a region boundary.
//
// `Block` is a typed address; all memory access goes through `load`/`store` on raw addresses.

@inline(__always)
func load(_ address: UInt) -> UInt {
    UnsafeRawPointer(bitPattern: address).unsafelyUnwrapped.load(as: UInt.self)
}

@inline(__always)
func store(_ address: UInt, _ value: UInt) {
    UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped.storeBytes(of: value, as: UInt.self)
}

@inline(__always)
func alignUp(_ value: UInt, _ alignment: UInt) -> UInt {
    (value + alignment - 1) & ~(alignment - 1)
}

struct Block: Equatable {
    static var freeBit: UInt { 1 }
    static var prevFreeBit: UInt { 2 }
    static var flagMask: UInt { 7 }
    static var sizeMask: UInt { 0x0000_FFFF_FFFF_FFF8 }
    static var slackShift: UInt { 48 }
    /// The size word, the header that stays in front of a used block's payload.
    static var overhead: UInt { 8 }
    /// From a block's address to its payload.
    static var payloadOffset: UInt { 16 }
    /// The smallest block: two free-list links and the successor's prevPhysical word.
    static var minimumSize: UInt { 24 }

    let address: UInt

    init(_ address: UInt) { self.address = address }
    init(payload: UInt) { self.address = payload - Block.payloadOffset }

    var payload: UInt { address + Block.payloadOffset }

    var word: UInt {
        get { load(address + 8) }
        nonmutating set { store(address + 8, newValue) }
    }

    var size: UInt { word & Block.sizeMask }

    /// Sets the size, keeping the flags and dropping the slack.
    func setSize(_ size: UInt) { word = size | (word & Block.flagMask) }

    var isFree: Bool { word & Block.freeBit != 0 }
    var isPrevFree: Bool { word & Block.prevFreeBit != 0 }
    var isSentinel: Bool { size == 0 }

    func setFree(_ on: Bool) { word = on ? word | Block.freeBit : word & ~Block.freeBit }
    func setPrevFree(_ on: Bool) { word = on ? word | Block.prevFreeBit : word & ~Block.prevFreeBit }

    /// Block size minus requested bytes; meaningful for used blocks only.
    var slack: UInt {
        get { word >> Block.slackShift }
        nonmutating set {
            precondition(newValue < 1 << (64 - Block.slackShift), "tlsf: slack does not fit")
            word = (word & ~(~UInt(0) << Block.slackShift)) | newValue << Block.slackShift
        }
    }

    var prevPhysical: Block {
        get { Block(load(address)) }
        nonmutating set { store(address, newValue.address) }
    }

    /// Free-list links (addresses, 0 for none); meaningful for free blocks only.
    var nextFree: UInt {
        get { load(address + 16) }
        nonmutating set { store(address + 16, newValue) }
    }
    var prevFree: UInt {
        get { load(address + 24) }
        nonmutating set { store(address + 24, newValue) }
    }

    /// The physical successor.
    var next: Block { Block(address + Block.overhead + size) }

    /// Writes this block's address into its successor's prevPhysical field and returns the successor.
    @discardableResult
    func linkNext() -> Block {
        let successor = next
        successor.prevPhysical = self
        return successor
    }

    func markFree() {
        linkNext().setPrevFree(true)
        setFree(true)
    }

    func markUsed() {
        next.setPrevFree(false)
        setFree(false)
    }

    /// Whether the block can be cut into one of `size` bytes and a remainder of at least minimumSize.
    func canSplit(_ size: UInt) -> Bool {
        self.size >= size + Block.overhead + Block.minimumSize
    }

    /// Cuts the block after `size` payload bytes. The remainder becomes a free block, linked to both
    /// neighbours; its prev-free bit is left to the caller, which knows what this block becomes.
    func split(_ size: UInt) -> Block {
        precondition(canSplit(size), "tlsf: split of a block too small")
        let remainder = Block(payload + size - Block.overhead)
        remainder.word = self.size - size - Block.overhead
        setSize(size)
        remainder.markFree()
        linkNext()
        return remainder
    }

    /// Merges the free physical successor `successor` into this block and returns this block.
    func absorb(_ successor: Block) -> Block {
        setSize(size + successor.size + Block.overhead)
        linkNext()
        return self
    }
}
