#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that it is either the old one or the whole new one, never half written: the
/// text goes to a temporary file beside it, is flushed to disk, then renamed over the target.
///
/// Only regular files are replaced that way. A symbolic link is followed (the file it points to
/// is replaced, the link stays); a device, pipe or socket (`/dev/stdout`, `/dev/null`) is written
/// in place, since renaming over it would replace the device itself; a directory is refused.
public enum AtomicFile {
    public static func write(_ text: String, to path: String) throws(InputError) {
        var info = stat()
        var target = path
        if stat(path, &info) == 0 {
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { throw InputError("\(path): is a directory") }
            if type != S_IFREG { return try writeInPlace(text, to: path) }
            if let resolved = realpath(path, nil) {
                target = String(cString: resolved)
                free(resolved)
            }
        }
        let temporary = target + ".tmp-\(getpid())"
        guard let file = fopen(temporary, "wb") else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
        let savedErrno = errno
        fclose(file)
        guard written == bytes.count, flushed else {
            unlink(temporary)
            throw InputError("\(path): \(String(cString: strerror(savedErrno == 0 ? EIO : savedErrno)))")
        }
        guard rename(temporary, target) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw InputError("\(path): \(message)")
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
