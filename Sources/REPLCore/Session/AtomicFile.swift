#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that it is either the old one or the whole new one, never half written: the
/// text goes to a temporary file beside it, is flushed to disk, then renamed over the target, and
/// the directory is flushed too.
///
/// The temporary file is created exclusively (`mkstemp`: a name nobody could have planted, never
/// through a symbolic link) as `.NAME.tmp-PID-XXXXXX`, gets the target's permissions (or the
/// umask's for a new file), and is removed on any failure; those a killed process left behind
/// (their PID no longer running) are removed at the next write. A hard link to the target keeps
/// the old contents: the new file is a new inode, as with every atomic save.
///
/// Only regular files are replaced that way. A symbolic link is followed (the file it points to
/// is replaced, the link stays); a device, pipe or socket (`/dev/stdout`, `/dev/null`) is written
/// in place, since renaming over it would replace the device itself; a directory is refused.
public enum AtomicFile {
    public static func write(_ text: String, to path: String) throws(InputError) {
        var info = stat()
        var target = path
        var mode: mode_t
        if stat(path, &info) == 0 {
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { throw InputError("\(path): is a directory") }
            if type != S_IFREG { return try writeInPlace(text, to: path) }
            if let resolved = realpath(path, nil) {
                target = String(cString: resolved)
                free(resolved)
            }
            mode = info.st_mode & 0o7777
        } else {
            let mask = umask(0)
            umask(mask)
            mode = 0o666 & ~mask
        }
        let slash = target.lastIndex(of: "/")
        let directory = slash.map { String(target[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let name = slash.map { String(target[target.index(after: $0)...]) } ?? target
        removeStaleTemporaries(of: name, in: directory)
        var template = Array(((directory == "/" ? "" : directory) + "/." + name + ".tmp-\(getpid())-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var failure: Int32 = 0
        if fchmod(descriptor, mode) != 0 { failure = errno }
        let bytes = Array(text.utf8)
        var done = 0
        while failure == 0 && done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if n > 0 { done += n } else if errno != EINTR { failure = errno == 0 ? EIO : errno }
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == 0 && rename(temporary, target) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw InputError("\(path): \(String(cString: strerror(failure)))")
        }
        // The rename is on disk only once the directory is.
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    /// Removes `.NAME.tmp-PID-XXXXXX` files whose process is gone (a save killed midway).
    static func removeStaleTemporaries(of name: String, in directory: String) {
        guard let folder = opendir(directory) else { return }
        defer { closedir(folder) }
        let prefix = "." + name + ".tmp-"
        while let entry = readdir(folder) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard file.hasPrefix(prefix), let pid = Int32(file.dropFirst(prefix.count).prefix { $0 != "-" }),
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink((directory == "/" ? "" : directory) + "/" + file)
        }
    }

    /// Writes to a device or pipe as it is.
    private static func writeInPlace(_ text: String, to path: String) throws(InputError) {
        guard let file = fopen(path, "wb") else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let flushed = fflush(file) == 0
        let savedErrno = errno
        fclose(file)
        guard written == bytes.count, flushed else {
            throw InputError("\(path): \(String(cString: strerror(savedErrno == 0 ? EIO : savedErrno)))")
        }
    }
}
