// NinePClient: one 9P2000.L session over a transport — the version handshake and attach, fid
// numbers, and one typed call per message.
//
// The transport carries one request and brings back its reply (virtio-9p puts both in one
// descriptor chain; a socket writes one and reads one). A call checks the reply's tag and type: the
// type must be the request's + 1 or Rlerror, whose ecode becomes the FileError with the same errno
// (an errno FileError has no case for is EIO). A transport failure or a malformed reply is EIO; the
// session goes on (the byte stream is framed by the transport), but the call fails.
//
// Fids are numbers the client picks: a counter and a free list, so the numbers in use are exactly the
// fids the server holds for us (`fidsInUse`). Clunk and remove free the number whatever the reply —
// the protocol says the fid is gone even when they fail; a walk that finds no name leaves no fid, and
// after any other failure its new fid is clunked in case the server holds it. diod 1.0.24 answers
// Tunlinkat and Trenameat with EOPNOTSUPP; the first such answer switches the session to Tremove and
// Trename for good (`legacyNames`).

import VFS

/// Carries 9P messages to a server and back.
public protocol NinePTransport: AnyObject {
    /// The largest message the transport carries in either direction.
    var maximumMessageSize: Int { get }
    /// Sends one T-message and returns the R-message that answers it; nil when the transport failed.
    func transact(_ request: [UInt8]) -> [UInt8]?
}

/// Why a mount failed, in a sentence.
public struct NinePMountError: Error, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
}

final class NinePClient {
    let transport: any NinePTransport
    /// The negotiated msize.
    let messageSize: Int
    var nextFid: UInt32 = 0
    var freeFids: [UInt32] = []
    /// The server lacks Tunlinkat/Trenameat: use Tremove/Trename.
    var legacyNames = false

    /// Negotiates the version: msize is the smaller of the transport's limit and 64 KiB of data plus
    /// its header, or the server's answer if smaller (but at least 4 KiB).
    init(transport: any NinePTransport) throws(NinePMountError) {
        self.transport = transport
        let wanted = UInt32(max(0, min(transport.maximumMessageSize, 65536 + NineP.ioHeaderSize)))
        guard let bytes = transport.transact(NinePRequest.version(messageSize: wanted)) else {
            throw NinePMountError(message: "9p: the transport failed during Tversion")
        }
        let answer: (type: UInt8, size: UInt32, version: [UInt8])
        do throws(FileError) {
            var reply = try NinePReply(bytes)
            let (size, version) = try reply.version()
            answer = (reply.type, size, version)
        } catch {
            throw NinePMountError(message: "9p: a malformed Rversion")
        }
        guard answer.type == NinePMessageType.version.rawValue + 1 else {
            throw NinePMountError(message: "9p: the server answered Tversion with message type \(answer.type)")
        }
        guard answer.version == NineP.version else {
            throw NinePMountError(message: "9p: the server does not speak 9P2000.L (it offered \(String(decoding: answer.version, as: UTF8.self)))")
        }
        guard answer.size >= 4096, answer.size <= wanted else {
            throw NinePMountError(message: "9p: the server's msize \(answer.size) is not between 4096 and \(wanted)")
        }
        messageSize = Int(answer.size)
    }

    /// Bytes of file data one Tread or Twrite moves.
    var ioChunk: Int { messageSize - NineP.ioHeaderSize }

    /// The fid numbers the server holds for this session.
    var fidsInUse: Int { Int(nextFid) - freeFids.count }

    func allocateFid() throws(FileError) -> UInt32 {
        if let fid = freeFids.popLast() { return fid }
        guard nextFid < NineP.noFid - 1 else { throw .tooManyOpenFiles }
        nextFid += 1
        return nextFid - 1
    }

    func releaseFid(_ fid: UInt32) { freeFids.append(fid) }

    /// One round trip: the reply positioned after its header, or the error it carries.
    func call(_ request: [UInt8], _ type: NinePMessageType) throws(FileError) -> NinePReply {
        guard request.count <= messageSize else { throw .nameTooLong }
        guard let bytes = transport.transact(request) else { throw .io }
        var reply = try NinePReply(bytes)
        guard reply.tag == NinePRequest.tag else { throw .io }
        if reply.type == NinePMessageType.errorReply {
            throw Self.error(try reply.errorCode())
        }
        guard reply.type == type.rawValue &+ 1 else { throw .io }
        return reply
    }

    /// The FileError for an Rlerror's ecode: the case with that errno, or EIO.
    static func error(_ code: UInt32) -> FileError {
        guard code <= UInt32(Int32.max), let error = FileError(rawValue: Int32(code)) else { return .io }
        return error
    }

    // MARK: Fids

    func attach(userName: [UInt8], attachName: [UInt8], userID: UInt32) throws(FileError) -> (fid: UInt32, qid: NinePQid) {
        let fid = try allocateFid()
        do throws(FileError) {
            var reply = try call(try NinePRequest.attach(fid: fid, userName: userName, attachName: attachName, userID: userID), .attach)
            return (fid, try reply.qid())
        } catch {
            releaseFid(fid)
            throw error
        }
    }

    /// Walks `names` (any number; at most 16 and msize bytes per Twalk) from `fid` to a new fid: the
    /// fid and the last qid (nil for a clone, no names). A name that is not there is ENOENT and no fid
    /// is left behind.
    func walk(_ fid: UInt32, _ names: [[UInt8]]) throws(FileError) -> (fid: UInt32, qid: NinePQid?) {
        let newFid = try allocateFid()
        var start = 0
        var last: NinePQid? = nil
        repeat {
            var end = start
            var size = 17                                       // header, fid, newfid, nwname
            while end < names.count, end - start < NineP.maximumWalkNames,
                  end == start || size + 2 + names[end].count <= messageSize {
                size += 2 + names[end].count
                end += 1
            }
            do throws(FileError) {
                let request = try NinePRequest.walk(fid: start == 0 ? fid : newFid, newFid: newFid, names: names[start ..< end])
                var reply = try call(request, .walk)
                let qids = try reply.walk()
                guard qids.count == end - start else { throw .noEntry }
                last = qids.last ?? last
            } catch {
                // A first Twalk that finds no name leaves newfid unborn; after anything else (a later
                // Twalk, a reply we could not read) the server may hold it, so it is clunked.
                if start == 0 && error == .noEntry { releaseFid(newFid) } else { clunk(newFid) }
                throw error
            }
            start = end
        } while start < names.count
        return (newFid, last)
    }

    /// Forgets a fid; the number is free whatever the server says.
    func clunk(_ fid: UInt32) {
        _ = try? call(NinePRequest.fid(.clunk, fid), .clunk)
        releaseFid(fid)
    }

    // MARK: Files

    func open(_ fid: UInt32, flags: UInt32) throws(FileError) -> UInt32 {
        var reply = try call(NinePRequest.fid(.lopen, fid, flags), .lopen)
        return try reply.opened().ioUnit
    }

    func create(_ fid: UInt32, _ name: [UInt8], flags: UInt32, mode: UInt32, groupID: UInt32) throws(FileError) -> NinePQid {
        var reply = try call(try NinePRequest.lcreate(fid: fid, name: name, flags: flags, mode: mode, groupID: groupID), .lcreate)
        return try reply.opened().qid
    }

    /// One Tread of at most `ioChunk` bytes into `buffer`; the count read (0 at the end).
    func read(_ fid: UInt32, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        let wanted = min(buffer.count, ioChunk)
        var reply = try call(NinePRequest.read(.read, fid: fid, offset: offset, count: UInt32(wanted)), .read)
        let count = Int(try reply.count())
        guard count <= wanted else { throw .io }
        try reply.copy(count, to: UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< count]))
        return count
    }

    /// One Twrite of at most `ioChunk` bytes; the count written.
    func write(_ fid: UInt32, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        let chunk = UnsafeRawBufferPointer(rebasing: bytes[0 ..< min(bytes.count, ioChunk)])
        var reply = try call(NinePRequest.write(fid: fid, offset: offset, chunk), .write)
        let count = Int(try reply.count())
        guard count <= chunk.count else { throw .io }
        return count
    }

    func attributes(_ fid: UInt32) throws(FileError) -> NinePAttributes {
        var reply = try call(NinePRequest.getattr(fid: fid), .getattr)
        return try reply.attributes()
    }

    func setAttributes(_ fid: UInt32, _ changes: NinePSetAttributes) throws(FileError) {
        _ = try call(NinePRequest.setattr(fid: fid, changes), .setattr)
    }

    func readDirectory(_ fid: UInt32, at offset: UInt64) throws(FileError) -> [NinePDirectoryEntry] {
        var reply = try call(NinePRequest.read(.readdir, fid: fid, offset: offset, count: UInt32(ioChunk)), .readdir)
        return try reply.directoryEntries()
    }

    func readLink(_ fid: UInt32) throws(FileError) -> [UInt8] {
        var reply = try call(NinePRequest.fid(.readlink, fid), .readlink)
        return try reply.target()
    }

    func sync(_ fid: UInt32) throws(FileError) { _ = try call(NinePRequest.fid(.fsync, fid, 0), .fsync) }

    func statistics(_ fid: UInt32) throws(FileError) -> NinePFileSystemStatistics {
        var reply = try call(NinePRequest.fid(.statfs, fid), .statfs)
        return try reply.statistics()
    }

    // MARK: Names

    /// Tmkdir, Tsymlink, Tmknod: the new node's qid.
    func make(_ request: [UInt8], _ type: NinePMessageType) throws(FileError) -> NinePQid {
        var reply = try call(request, type)
        return try reply.qid()
    }

    func link(_ fid: UInt32, into directoryFid: UInt32, as name: [UInt8]) throws(FileError) {
        _ = try call(try NinePRequest.twoFids(.link, directoryFid, fid, name: name), .link)
    }

    /// unlink (`directory` false: EISDIR for a directory) or rmdir (true: ENOTDIR for a non-directory).
    func remove(in directoryFid: UInt32, _ name: [UInt8], directory: Bool) throws(FileError) {
        if !legacyNames {
            do throws(FileError) {
                let flags = directory ? NineP.removeDirectory : 0
                _ = try call(try NinePRequest.unlinkat(directoryFid: directoryFid, name: name, flags: flags), .unlinkat)
                return
            } catch .notSupported, .notImplemented {
                legacyNames = true
            }
        }
        let (fid, _) = try walk(directoryFid, [name])
        let isDirectory: Bool
        do throws(FileError) { isDirectory = FileType(mode: try attributes(fid).mode) == .directory } catch {
            clunk(fid)
            throw error
        }
        if isDirectory != directory {
            clunk(fid)
            throw directory ? .notDirectory : .isDirectory
        }
        defer { releaseFid(fid) }                               // Tremove clunks, even when it fails
        _ = try call(NinePRequest.fid(.remove, fid), .remove)
    }

    func rename(in directoryFid: UInt32, _ name: [UInt8], to newDirectoryFid: UInt32, _ newName: [UInt8]) throws(FileError) {
        if !legacyNames {
            do throws(FileError) {
                _ = try call(try NinePRequest.renameat(oldDirectoryFid: directoryFid, oldName: name,
                                                       newDirectoryFid: newDirectoryFid, newName: newName), .renameat)
                return
            } catch .notSupported, .notImplemented {
                legacyNames = true
            }
        }
        let (fid, _) = try walk(directoryFid, [name])
        defer { clunk(fid) }
        _ = try call(try NinePRequest.twoFids(.rename, fid, newDirectoryFid, name: newName), .rename)
    }
}
