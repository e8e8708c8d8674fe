// ARPCache: IPv4 -> MAC mappings learned from ARP, with expiry, and the resolutions in progress.
//
// A fixed number of entries (no allocation after init); the oldest entry is replaced when full.
// Entries expire `lifetime` ns after they were learned (RFC 1122 section 2.3.2.1 asks for a timeout;
// 60 s here, like Linux's base reachable time). A resolution in progress remembers when its last
// request went out and how many were sent: `requestsDue(now:)` lists those whose retry interval
// passed, and gives up after `maximumRequests` (the caller then drops what was waiting).
// Time is injected: every method takes `now` in monotonic nanoseconds.

import NetWire

public struct ARPCache {
    public struct Entry: Equatable {
        public var address: IPv4Address
        public var hardwareAddress: MACAddress
        public var expires: UInt64
    }

    struct Pending {
        var address: IPv4Address
        var requestsSent: Int
        var lastRequestAt: UInt64
    }

    public let capacity: Int
    public let lifetime: UInt64
    public let retryInterval: UInt64
    public let maximumRequests: Int
    var entries: [Entry] = []
    var pending: [Pending] = []

    public init(capacity: Int = 32, lifetime: UInt64 = 60_000_000_000, retryInterval: UInt64 = 1_000_000_000,
                maximumRequests: Int = 3) {
        self.capacity = capacity
        self.lifetime = lifetime
        self.retryInterval = retryInterval
        self.maximumRequests = maximumRequests
        entries.reserveCapacity(capacity)
        pending.reserveCapacity(capacity)
    }

    /// The MAC for `address` if known and not expired.
    public func lookup(_ address: IPv4Address, now: UInt64) -> MACAddress? {
        entries.first { $0.address == address && $0.expires > now }?.hardwareAddress
    }

    /// Records a mapping (from an ARP request or reply) and ends any resolution of that address.
    public mutating func learn(_ address: IPv4Address, is hardwareAddress: MACAddress, now: UInt64) {
        pending.removeAll { $0.address == address }
        let entry = Entry(address: address, hardwareAddress: hardwareAddress, expires: now &+ lifetime)
        if let index = entries.firstIndex(where: { $0.address == address }) {
            entries[index] = entry
        } else if entries.count < capacity {
            entries.append(entry)
        } else if let oldest = entries.indices.min(by: { entries[$0].expires < entries[$1].expires }) {
            entries[oldest] = entry
        }
    }

    /// True if a request for `address` should go out now (first one); records it as sent.
    public mutating func startResolving(_ address: IPv4Address, now: UInt64) -> Bool {
        guard !pending.contains(where: { $0.address == address }) else { return false }
        guard pending.count < capacity else { return false }
        pending.append(Pending(address: address, requestsSent: 1, lastRequestAt: now))
        return true
    }

    public func isResolving(_ address: IPv4Address) -> Bool { pending.contains { $0.address == address } }

    /// Addresses whose request should be sent again now, and those given up on (removed).
    public mutating func requestsDue(now: UInt64) -> (retry: [IPv4Address], failed: [IPv4Address]) {
        var retry: [IPv4Address] = [], failed: [IPv4Address] = []
        for index in pending.indices.reversed() where now &- pending[index].lastRequestAt >= retryInterval {
            if pending[index].requestsSent >= maximumRequests {
                failed.append(pending[index].address)
                pending.remove(at: index)
            } else {
                pending[index].requestsSent += 1
                pending[index].lastRequestAt = now
                retry.append(pending[index].address)
            }
        }
        return (retry, failed)
    }

    /// Live entries (for the shell and tests).
    public func liveEntries(now: UInt64) -> [Entry] { entries.filter { $0.expires > now } }
}
