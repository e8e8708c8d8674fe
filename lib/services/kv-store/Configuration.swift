// What the server configures (KVConfiguration), what it tells the store about itself for INFO and CLIENT
// (KVServerInfo, KVClient), and what the store counts (KVStatistics, KVCommandStatistics).

/// What happens when a write would take the memory estimate past `maxMemory` (Redis's maxmemory-policy).
/// Sampling policies look at `evictionSamples` random keys per eviction, as Redis does (without its pool of
/// candidates kept across evictions).
public enum KVEvictionPolicy: Hashable, Sendable {
    /// Refuse the write: "OOM command not allowed when used memory > 'maxmemory'.".
    case noEviction
    /// Evict the least recently used of the sampled keys.
    case allKeysLRU
    /// Evict a uniformly random key.
    case allKeysRandom
    /// Like allKeysLRU among keys with an expiry; refuse the write when there are none.
    case volatileLRU
    /// A random key with an expiry.
    case volatileRandom
    /// The sampled key with an expiry that expires soonest.
    case volatileTTL

    public static let all: [KVEvictionPolicy] = [.volatileLRU, .volatileRandom, .volatileTTL, .allKeysLRU,
                                                 .allKeysRandom, .noEviction]

    /// The name CONFIG GET and INFO show.
    public var name: StaticString {
        switch self {
        case .noEviction: return "noeviction"
        case .allKeysLRU: return "allkeys-lru"
        case .allKeysRandom: return "allkeys-random"
        case .volatileLRU: return "volatile-lru"
        case .volatileRandom: return "volatile-random"
        case .volatileTTL: return "volatile-ttl"
        }
    }

    /// The policy named `name` in any letter case, as CONFIG SET takes it.
    public init?(name: ArraySlice<UInt8>) {
        for policy in Self.all where ASCIIBytes.equalsIgnoringCase(name, policy.name) {
            self = policy
            return
        }
        return nil
    }

    var onlyKeysWithExpiry: Bool { self == .volatileLRU || self == .volatileRandom || self == .volatileTTL }
}

public struct KVConfiguration: Hashable, Sendable {
    /// The memory estimate (Memory.swift) writes may not exceed; 0 for no limit.
    public var maxMemory: Int
    public var evictionPolicy: KVEvictionPolicy
    /// Keys sampled per eviction (maxmemory-samples).
    public var evictionSamples: Int
    /// Keys with an expiry sampled per loop of the active expiry cycle, and the most loops per cycle.
    public var activeExpireSamples: Int
    public var activeExpireLoops: Int

    public init(maxMemory: Int = 0, evictionPolicy: KVEvictionPolicy = .noEviction, evictionSamples: Int = 5,
                activeExpireSamples: Int = 20, activeExpireLoops: Int = 16) {
        self.maxMemory = maxMemory
        self.evictionPolicy = evictionPolicy
        self.evictionSamples = evictionSamples
        self.activeExpireSamples = activeExpireSamples
        self.activeExpireLoops = activeExpireLoops
    }
}

/// What the server knows and the store reports in INFO. The server keeps it current.
public struct KVServerInfo: Hashable, Sendable {
    public var tcpPort: Int
    /// When the server started, on the clock `execute` is given (for uptime_in_seconds).
    public var startedAt: UInt64
    public var connectedClients: Int
    public var maxClients: Int
    public var totalConnectionsReceived: UInt64
    public var rejectedConnections: UInt64

    public init(tcpPort: Int = 6379, startedAt: UInt64 = 0, connectedClients: Int = 0, maxClients: Int = 0,
                totalConnectionsReceived: UInt64 = 0, rejectedConnections: UInt64 = 0) {
        self.tcpPort = tcpPort
        self.startedAt = startedAt
        self.connectedClients = connectedClients
        self.maxClients = maxClients
        self.totalConnectionsReceived = totalConnectionsReceived
        self.rejectedConnections = rejectedConnections
    }
}

/// One connection as the store sees it: its id and name, and addresses for CLIENT INFO.
public struct KVClient: Hashable, Sendable {
    public let id: UInt64
    /// Set by CLIENT SETNAME; empty when the client has no name.
    public var name: [UInt8]
    /// "10.0.2.2:51234" and the server's side of the connection, as the server formats them.
    public var address: [UInt8]
    public var localAddress: [UInt8]
    /// When the connection was accepted, on the clock `execute` is given.
    public var connectedAt: UInt64

    public init(id: UInt64, address: [UInt8] = [], localAddress: [UInt8] = [], connectedAt: UInt64 = 0) {
        self.id = id
        self.name = []
        self.address = address
        self.localAddress = localAddress
        self.connectedAt = connectedAt
    }
}

/// Counters since the start (or CONFIG RESETSTAT), for INFO and for metrics.
public struct KVStatistics: Hashable, Sendable {
    /// Commands executed (not those refused before execution: unknown, wrong arity, OOM).
    public internal(set) var commandsProcessed: UInt64 = 0
    public internal(set) var keyspaceHits: UInt64 = 0
    public internal(set) var keyspaceMisses: UInt64 = 0
    public internal(set) var expiredKeys: UInt64 = 0
    public internal(set) var evictedKeys: UInt64 = 0
    /// Every error reply, including refusals.
    public internal(set) var errorReplies: UInt64 = 0
    /// The highest memory estimate seen.
    public internal(set) var peakMemory: Int = 0

    public init() {}
}

/// One command's counters (INFO commandstats).
public struct KVCommandStatistics: Sendable {
    /// The command's name in lowercase.
    public let name: StaticString
    /// Executions, refusals before execution (wrong arity, OOM), and executions that replied an error.
    public let calls: UInt64
    public let rejectedCalls: UInt64
    public let failedCalls: UInt64
}
