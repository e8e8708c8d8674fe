// FileError: every way a file operation fails, one case per Linux errno it stands for. The raw value
// is the errno, so the Linux system-call layer returns `-error.rawValue` with no table in between, and
// the differential tests compare errno values with the host's.

public enum FileError: Int32, Error, Sendable {
    case notPermitted = 1            // EPERM
    case noEntry = 2                 // ENOENT
    case io = 5                      // EIO
    case badDescriptor = 9           // EBADF
    case noMemory = 12               // ENOMEM
    case accessDenied = 13           // EACCES
    case busy = 16                   // EBUSY
    case exists = 17                 // EEXIST
    case crossDevice = 18            // EXDEV
    case notDirectory = 20           // ENOTDIR
    case isDirectory = 21            // EISDIR
    case invalid = 22                // EINVAL
    case tooManyOpenFiles = 24       // EMFILE
    case fileTooBig = 27             // EFBIG
    case noSpace = 28                // ENOSPC
    case illegalSeek = 29            // ESPIPE
    case readOnly = 30               // EROFS
    case tooManyLinks = 31           // EMLINK
    case nameTooLong = 36            // ENAMETOOLONG
    case notImplemented = 38         // ENOSYS
    case notEmpty = 39               // ENOTEMPTY
    case loop = 40                   // ELOOP
    case overflow = 75               // EOVERFLOW
    case notSupported = 95           // EOPNOTSUPP
    case corrupted = 117             // EUCLEAN (Linux's EFSCORRUPTED): on-disk metadata is inconsistent

    /// The Linux errno value.
    public var errno: Int32 { rawValue }

    /// The symbolic name, as strace and the man pages write it.
    public var name: StaticString {
        switch self {
        case .notPermitted: "EPERM"
        case .noEntry: "ENOENT"
        case .io: "EIO"
        case .badDescriptor: "EBADF"
        case .noMemory: "ENOMEM"
        case .accessDenied: "EACCES"
        case .busy: "EBUSY"
        case .exists: "EEXIST"
        case .crossDevice: "EXDEV"
        case .notDirectory: "ENOTDIR"
        case .isDirectory: "EISDIR"
        case .invalid: "EINVAL"
        case .tooManyOpenFiles: "EMFILE"
        case .fileTooBig: "EFBIG"
        case .noSpace: "ENOSPC"
        case .illegalSeek: "ESPIPE"
        case .readOnly: "EROFS"
        case .tooManyLinks: "EMLINK"
        case .nameTooLong: "ENAMETOOLONG"
        case .notImplemented: "ENOSYS"
        case .notEmpty: "ENOTEMPTY"
        case .loop: "ELOOP"
        case .overflow: "EOVERFLOW"
        case .notSupported: "EOPNOTSUPP"
        case .corrupted: "EUCLEAN"
        }
    }

    /// The text strerror(3) gives on Linux, e.g. "No such file or directory".
    public var message: StaticString {
        switch self {
        case .notPermitted: "Operation not permitted"
        case .noEntry: "No such file or directory"
        case .io: "Input/output error"
        case .badDescriptor: "Bad file descriptor"
        case .noMemory: "Cannot allocate memory"
        case .accessDenied: "Permission denied"
        case .busy: "Device or resource busy"
        case .exists: "File exists"
        case .crossDevice: "Invalid cross-device link"
        case .notDirectory: "Not a directory"
        case .isDirectory: "Is a directory"
        case .invalid: "Invalid argument"
        case .tooManyOpenFiles: "Too many open files"
        case .fileTooBig: "File too large"
        case .noSpace: "No space left on device"
        case .illegalSeek: "Illegal seek"
        case .readOnly: "Read-only file system"
        case .tooManyLinks: "Too many links"
        case .nameTooLong: "File name too long"
        case .notImplemented: "Function not implemented"
        case .notEmpty: "Directory not empty"
        case .loop: "Too many levels of symbolic links"
        case .overflow: "Value too large for defined data type"
        case .notSupported: "Operation not supported"
        case .corrupted: "Structure needs cleaning"
        }
    }

    /// `message` as a String.
    public var messageString: String { message.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
}
