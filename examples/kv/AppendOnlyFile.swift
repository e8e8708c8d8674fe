// AppendOnlyFile: the kv server's persistence — the store's append-only log (kv-store's
// AppendOnly.swift) kept in a file on a volume or disk, replayed at boot (Redis's `appendonly yes`).
//
// Parameters: kv.appendonly=yes turns it on; kv.dir (default /data: mount a disk or folder there,
// `--disk disk.img:/data` or `-v ./data:/data`) and kv.appendfilename (default appendonly.aof) name the
// file; kv.appendfsync is Redis's choice of durability:
//   always    every batch of commands from one read is written and fsynced before its replies are
//             sent: an acknowledged write survives the VM being killed;
//   everysec  written at once, fsynced at most once a second (the default, as Redis): a crash can lose
//             the last second;
//   no        written at once, made durable when the guest exits normally (the files library unmounts
//             every file system then) or when the block cache evicts it.
// At boot the file is replayed into the store; a file that ends in a partial command (a crash during a
// write) is truncated to its last whole command with a warning, as Redis's aof-load-truncated does; a
// file with bytes that are not RESP in the middle stops the server, as Redis refuses to start.

import BootArguments
import Clock
import Files
import Kernel
import KVStore
import VFS

final class AppendOnlyFile {
    enum Policy: String { case always, everysec, no }

    let path: String
    let policy: Policy
    let descriptor: Int32
    var lastSync: UInt64 = 0
    var unsynced = false

    init(path: String, policy: Policy, descriptor: Int32) {
        self.path = path
        self.policy = policy
        self.descriptor = descriptor
    }

    /// Reads the parameters; opens and replays the file into `store`, then logs into it. Nil (with the
    /// reason printed) when persistence is off or the file cannot be used.
    static func open(into store: inout KVStore, now: UInt64) -> (file: AppendOnlyFile?, failed: Bool) {
        guard kernelParameterValue("kv.appendonly") == "yes" else { return (nil, false) }
        let directory = kernelParameterValue("kv.dir") ?? "/data"
        let name = kernelParameterValue("kv.appendfilename") ?? "appendonly.aof"
        let policyText = kernelParameterValue("kv.appendfsync") ?? "everysec"
        guard let policy = Policy(rawValue: policyText) else {
            print("kv: bad kv.appendfsync=" + policyText + " (always, everysec or no)")
            return (nil, true)
        }
        let path = directory + "/" + name
        let vfs = Files.root
        do {
            let descriptor = try vfs.open(path, [.readWrite, .create])
            let file = AppendOnlyFile(path: path, policy: policy, descriptor: descriptor)
            let bytes = try File(fileSystem: vfs, descriptor: descriptor).readAll()
            let result = store.replay(bytes, now: now)
            if let problem = result.problem {
                guard result.partialTail else {
                    print("kv: " + path + ": " + problem + "; not starting (Redis refuses such a file too)")
                    return (nil, true)
                }
                print("kv: " + path + ": " + problem + "; truncated to the last whole command (\(result.validBytes) bytes)")
                try vfs.truncate(descriptor, to: Int64(result.validBytes))
                try vfs.sync(descriptor)
            }
            _ = try vfs.seek(descriptor, to: 0, from: .end)
            store.appendOnlyLog = []
            print("kv: append-only file " + path + ": \(result.commands) commands replayed, appendfsync " + policy.rawValue)
            return (file, false)
        } catch {
            print("kv: cannot use the append-only file " + path + ": " + error.messageString
                  + " (mount a disk or volume at " + directory + ": --disk disk.img:" + directory + " or -v DIR:" + directory + ")")
            return (nil, true)
        }
    }

    static func kernelParameterValue(_ name: String) -> String? {
        kernelParameters.kernelValue(named: Array(name.utf8))
    }

    /// Writes what the store logged; fsyncs it too under `always`. False when the file failed.
    @discardableResult
    func write(from store: inout KVStore) -> Bool {
        guard let bytes = store.appendOnlyLog, !bytes.isEmpty else { return true }
        store.appendOnlyLog!.removeAll(keepingCapacity: true)
        do {
            try File(fileSystem: Files.root, descriptor: descriptor).write(bytes)
            unsynced = true
            if policy == .always { try sync() }
            return true
        } catch {
            print("kv: writing the append-only file failed: " + error.messageString)
            return false
        }
    }

    func sync() throws(FileError) {
        try Files.root.sync(descriptor)
        unsynced = false
        lastSync = Clock.now()
    }

    /// The once-a-second fsync of `everysec`, from the server's periodic tick.
    func tick(now: UInt64) {
        guard policy == .everysec, unsynced, now >= lastSync + 1_000_000_000 else { return }
        do { try sync() } catch { print("kv: fsync of the append-only file failed: " + error.messageString) }
    }
}
