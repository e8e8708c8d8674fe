// A sorted set: members with scores, ordered by score and then by member bytes (memcmp order, a shorter
// member first when one is a prefix of the other), as in Redis.
//
// Redis uses a skip list; this is a one-level B+ tree, which does the same job with contiguous arrays:
// the members in order are cut into blocks of at most `blockCapacity` elements, each block sorted and
// non-empty, every element of a block ordered before every element of the next. A dictionary maps each
// member to its score. With n members:
//   - finding an element's block is a binary search over the blocks' last elements, then a binary
//     search inside the block: O(log n); inserting or removing moves at most a block's elements (a full
//     block splits in two; an empty block is removed, moving the block list);
//   - the element of rank r is found by walking the block counts: O(n / blockCapacity), a few hundred
//     steps for a million members; ZRANGE then walks on from there;
//   - ZPOPMIN and ZPOPMAX take from the first or last block.
// Scores are never NaN (the commands refuse it) and -0 is stored as 0, so comparing with < is a total
// order.

/// One member and its score, as kept in the blocks.
struct ScoredMember {
    var score: Double
    var member: [UInt8]

    /// The sorted-set order: score, then member bytes.
    static func precedes(_ a: ScoredMember, _ b: ScoredMember) -> Bool {
        if a.score != b.score { return a.score < b.score }
        return compareBytes(a.member, b.member) < 0
    }

    /// memcmp over the common length, then the shorter first.
    static func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let common = min(a.count, b.count)
        var index = 0
        while index < common {
            if a[index] != b[index] { return a[index] < b[index] ? -1 : 1 }
            index += 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}

final class SortedSetValue {
    static let blockCapacity = 128

    private var blocks: [[ScoredMember]] = []
    private var scores: [Key: Double] = [:]
    private(set) var memory = Memory.container

    var count: Int { scores.count }

    func score(of member: ArraySlice<UInt8>) -> Double? { scores[Key(member)] }

    /// Sets the score of `member`, adding it if new; true if it was added.
    func set(_ member: ArraySlice<UInt8>, score: Double) -> Bool {
        let score = score + 0.0                       // -0 becomes 0
        let owned = Array(member)
        if let old = scores[Key(member)] {
            if old == score { return false }
            removeElement(ScoredMember(score: old, member: owned))
            insertElement(ScoredMember(score: score, member: owned))
            scores[Key(member)] = score
            return false
        }
        insertElement(ScoredMember(score: score, member: owned))
        scores[Key(owned[...])] = score
        memory += Memory.sortedSetMember(owned.count)
        return true
    }

    /// Removes `member`; false if it was not there.
    func remove(_ member: ArraySlice<UInt8>) -> Bool {
        guard let score = scores[Key(member)] else { return false }
        removeElement(ScoredMember(score: score, member: Array(member)))
        scores[Key(member)] = nil
        memory -= Memory.sortedSetMember(member.count)
        return true
    }

    /// Removes and returns the lowest (or, with `highest`, the highest) element.
    func popFirst(highest: Bool = false) -> ScoredMember? {
        guard !blocks.isEmpty else { return nil }
        let blockIndex = highest ? blocks.count - 1 : 0
        let element = highest ? blocks[blockIndex].removeLast() : blocks[blockIndex].removeFirst()
        if blocks[blockIndex].isEmpty { blocks.remove(at: blockIndex) }
        scores[Key(element.member[...])] = nil
        memory -= Memory.sortedSetMember(element.member.count)
        return element
    }

    /// Calls `body` with the elements of ranks `ranks` (within 0..<count), in order.
    func forEach(in ranks: ClosedRange<Int>, _ body: (ScoredMember) -> Void) {
        var rank = 0, blockIndex = 0
        while blockIndex < blocks.count && rank + blocks[blockIndex].count <= ranks.lowerBound {
            rank += blocks[blockIndex].count
            blockIndex += 1
        }
        var offset = ranks.lowerBound - rank
        rank = ranks.lowerBound
        while blockIndex < blocks.count && rank <= ranks.upperBound {
            body(blocks[blockIndex][offset])
            rank += 1
            offset += 1
            if offset == blocks[blockIndex].count {
                blockIndex += 1
                offset = 0
            }
        }
    }

    /// The index of the block `element` belongs in: the first whose last element does not precede it, or
    /// the last block.
    private func blockIndex(for element: ScoredMember) -> Int {
        var low = 0, high = blocks.count - 1
        while low < high {
            let middle = (low + high) / 2
            if ScoredMember.precedes(blocks[middle][blocks[middle].count - 1], element) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The first position in `block` whose element does not precede `element`.
    private func position(of element: ScoredMember, in block: [ScoredMember]) -> Int {
        var low = 0, high = block.count
        while low < high {
            let middle = (low + high) / 2
            if ScoredMember.precedes(block[middle], element) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func insertElement(_ element: ScoredMember) {
        guard !blocks.isEmpty else {
            blocks.append([element])
            return
        }
        let index = blockIndex(for: element)
        let position = position(of: element, in: blocks[index])
        blocks[index].insert(element, at: position)
        if blocks[index].count > Self.blockCapacity {
            let upper = Array(blocks[index][(Self.blockCapacity / 2)...])
            blocks[index].removeLast(upper.count)
            blocks.insert(upper, at: index + 1)
        }
    }

    /// Removes an element known to be present.
    private func removeElement(_ element: ScoredMember) {
        let index = blockIndex(for: element)
        let position = position(of: element, in: blocks[index])
        blocks[index].remove(at: position)
        if blocks[index].isEmpty { blocks.remove(at: index) }
    }
}
