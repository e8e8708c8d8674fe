// The values a key can hold, and the byte strings everything is made of.
//
// A byte string stored in the database is a [UInt8] copied out of the request (arguments are slices of the
// server's receive buffer and must not keep it alive). Dictionaries are keyed by `Key`, a slice that hashes
// its bytes in one call; a lookup wraps the request's argument directly, so reading allocates nothing.
//
// Lists, sets and hashes are final classes, so a command mutates them in place through the reference held
// by the keyspace without copying (a struct inside an enum inside an array would be copied on write). Each
// keeps `memory`, its own estimate (Memory.swift), up to date as it changes.
//
//   - a list is a ring buffer of elements (O(1) push and pop at both ends, O(1) index);
//   - a set is an array of members plus a dictionary from member to its position, so SPOP picks a
//     uniformly random member in O(1) (remove = move the last member into the hole);
//   - a hash is the same for fields, with the values beside them; HGETALL returns fields in insertion
//     order until a field is deleted (Redis keeps insertion order for small hashes);
//   - a sorted set is in SortedSet.swift.

/// A byte string as a dictionary key. A stored key wraps a whole [UInt8] the store owns; a lookup wraps the
/// slice it was given.
struct Key: Hashable {
    let bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (lhs: Key, rhs: Key) -> Bool {
        lhs.bytes.count == rhs.bytes.count && lhs.bytes.elementsEqual(rhs.bytes)
    }
}

/// What TYPE answers.
enum ValueType {
    case string, list, set, hash, sortedSet

    var name: StaticString {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .hash: return "hash"
        case .sortedSet: return "zset"
        }
    }
}

enum Value {
    case string([UInt8])
    case list(ListValue)
    case set(SetValue)
    case hash(HashValue)
    case sortedSet(SortedSetValue)

    var type: ValueType {
        switch self {
        case .string: return .string
        case .list: return .list
        case .set: return .set
        case .hash: return .hash
        case .sortedSet: return .sortedSet
        }
    }

    var memory: Int {
        switch self {
        case .string(let bytes): return Memory.string(bytes.count)
        case .list(let list): return list.memory
        case .set(let set): return set.memory
        case .hash(let hash): return hash.memory
        case .sortedSet(let sortedSet): return sortedSet.memory
        }
    }
}

/// A list: a ring buffer whose capacity is a power of two (or zero).
final class ListValue {
    private var storage: [[UInt8]] = []
    private var head = 0
    private(set) var count = 0
    private(set) var memory = Memory.container

    var isEmpty: Bool { count == 0 }

    /// The element `index` places from the head; `index` must be in 0..<count.
    subscript(index: Int) -> [UInt8] {
        storage[(head + index) & (storage.count - 1)]
    }

    func pushFront(_ element: ArraySlice<UInt8>) {
        growIfFull()
        head = (head - 1) & (storage.count - 1)
        storage[head] = Array(element)
        count += 1
        memory += Memory.listElement(element.count)
    }

    func pushBack(_ element: ArraySlice<UInt8>) {
        growIfFull()
        storage[(head + count) & (storage.count - 1)] = Array(element)
        count += 1
        memory += Memory.listElement(element.count)
    }

    func popFront() -> [UInt8]? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = []
        head = (head + 1) & (storage.count - 1)
        count -= 1
        memory -= Memory.listElement(element.count)
        shrinkIfSparse()
        return element
    }

    func popBack() -> [UInt8]? {
        guard count > 0 else { return nil }
        let slot = (head + count - 1) & (storage.count - 1)
        let element = storage[slot]
        storage[slot] = []
        count -= 1
        memory -= Memory.listElement(element.count)
        shrinkIfSparse()
        return element
    }

    private func growIfFull() {
        if count == storage.count { resize(to: max(8, storage.count * 2)) }
    }

    /// Halves the ring when a quarter of it is used, so a drained list gives its memory back.
    private func shrinkIfSparse() {
        if storage.count > 8 && count <= storage.count / 4 { resize(to: storage.count / 2) }
    }

    private func resize(to capacity: Int) {
        var resized = [[UInt8]](repeating: [], count: capacity)
        for index in 0..<count { resized[index] = self[index] }
        memory += (capacity - storage.count) * Memory.listSlot
        storage = resized
        head = 0
    }
}

/// A set: members in an array, positions in a dictionary.
final class SetValue {
    private(set) var members: [[UInt8]] = []
    private var positions: [Key: Int] = [:]
    private(set) var memory = Memory.container

    var count: Int { members.count }

    func contains(_ member: ArraySlice<UInt8>) -> Bool { positions[Key(member)] != nil }

    /// Adds `member`; false if it was there already.
    func insert(_ member: ArraySlice<UInt8>) -> Bool {
        guard positions[Key(member)] == nil else { return false }
        let owned = Array(member)
        positions[Key(owned[...])] = members.count
        members.append(owned)
        memory += Memory.setMember(member.count)
        return true
    }

    /// Removes `member`; false if it was not there.
    func remove(_ member: ArraySlice<UInt8>) -> Bool {
        guard let position = positions[Key(member)] else { return false }
        _ = remove(at: position)
        return true
    }

    /// Removes and returns the member at `position` (0..<count).
    func remove(at position: Int) -> [UInt8] {
        let member = members[position]
        positions[Key(member[...])] = nil
        let last = members.removeLast()
        if position < members.count {
            members[position] = last
            positions[Key(last[...])] = position
        }
        memory -= Memory.setMember(member.count)
        return member
    }
}

/// A hash: fields and values in arrays, field positions in a dictionary.
final class HashValue {
    private(set) var fields: [[UInt8]] = []
    private(set) var values: [[UInt8]] = []
    private var positions: [Key: Int] = [:]
    private(set) var memory = Memory.container

    var count: Int { fields.count }

    func value(of field: ArraySlice<UInt8>) -> [UInt8]? {
        positions[Key(field)].map { values[$0] }
    }

    /// Sets `field` to `value`; true if the field is new.
    func set(_ field: ArraySlice<UInt8>, to value: ArraySlice<UInt8>) -> Bool {
        if let position = positions[Key(field)] {
            memory += Memory.string(value.count) - Memory.string(values[position].count)
            values[position] = Array(value)
            return false
        }
        let owned = Array(field)
        positions[Key(owned[...])] = fields.count
        fields.append(owned)
        values.append(Array(value))
        memory += Memory.hashField(field.count, value.count)
        return true
    }

    /// Deletes `field`; false if it was not there.
    func remove(_ field: ArraySlice<UInt8>) -> Bool {
        guard let position = positions[Key(field)] else { return false }
        memory -= Memory.hashField(fields[position].count, values[position].count)
        positions[Key(field)] = nil
        let lastField = fields.removeLast(), lastValue = values.removeLast()
        if position < fields.count {
            fields[position] = lastField
            values[position] = lastValue
            positions[Key(lastField[...])] = position
        }
        return true
    }
}
