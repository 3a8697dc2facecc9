#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that it is either the old one or the whole new one, never half written: the
/// text goes to a temporary file beside it, is flushed to disk, then renamed over the target.
public enum AtomicFile {
    public static func write(_ text: String, to path: String) throws(InputError) {
        let temporary = path + ".tmp-\(getpid())"
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
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw InputError("\(path): \(message)")
        }
    }
}
