// History: the last lines entered at a shell, for recall with the up and down arrows.
//
// A bounded list, oldest first. Adding skips empty lines and a line equal to the newest one (as
// bash's `ignoredups` does), and drops the oldest line once `capacity` lines are kept. Lines are
// bytes, as the line editor holds them.

public struct History {
    /// Lines kept at most.
    public let capacity: Int
    /// Oldest first.
    public private(set) var entries: [[UInt8]] = []

    public init(capacity: Int = 16) {
        self.capacity = max(capacity, 0)
    }

    public var count: Int { entries.count }

    /// The line `back` steps into the past: 0 is the newest. Nil beyond the oldest.
    public func line(back: Int) -> [UInt8]? {
        guard back >= 0, back < entries.count else { return nil }
        return entries[entries.count - 1 - back]
    }

    public mutating func add(_ line: [UInt8]) {
        guard capacity > 0, !line.isEmpty, entries.last != line else { return }
        if entries.count == capacity { entries.removeFirst() }
        entries.append(line)
    }
}
