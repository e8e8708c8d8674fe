// OpenFlags: open(2)'s flags with Linux's x86-64 values, so the system-call layer passes them through.

public struct OpenFlags: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let readOnly: OpenFlags = []
    public static let writeOnly = OpenFlags(rawValue: 0o1)
    public static let readWrite = OpenFlags(rawValue: 0o2)
    public static let create = OpenFlags(rawValue: 0o100)
    public static let exclusive = OpenFlags(rawValue: 0o200)
    public static let noControllingTerminal = OpenFlags(rawValue: 0o400)
    public static let truncate = OpenFlags(rawValue: 0o1000)
    public static let append = OpenFlags(rawValue: 0o2000)
    public static let nonBlocking = OpenFlags(rawValue: 0o4000)
    public static let directory = OpenFlags(rawValue: 0o200000)
    public static let noFollow = OpenFlags(rawValue: 0o400000)
    public static let closeOnExec = OpenFlags(rawValue: 0o2000000)
    public static let path = OpenFlags(rawValue: 0o10000000)

    /// O_ACCMODE: the read/write mode bits.
    public var accessMode: Int32 { rawValue & 0o3 }
    public var canRead: Bool { accessMode == 0 || accessMode == 2 }
    public var canWrite: Bool { accessMode == 1 || accessMode == 2 }
}

/// lseek(2)'s whence.
public enum SeekOrigin: Int32, Sendable {
    case start = 0, current = 1, end = 2
}
