#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file for `explain` and `load`, refusing what cannot be a batch or session file
/// with a message naming the path: missing, a directory or anything else that is not a regular
/// file (a FIFO would block the read forever), unreadable, or larger than `limit`.
public enum InputFile {
    /// Batch and session files above this size are refused (a TRL dump of 512 x 1024 tokens
    /// with every field is about 40 MB).
    public static let defaultLimit = 64 << 20

    public static func read(_ path: String, limit: Int = defaultLimit) throws(InputError) -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError("\(path): is a directory, not a JSON file") }
        if (info.st_mode & S_IFMT) != S_IFREG { throw InputError("\(path): is \(kind(info.st_mode)), not a regular file") }
        if Int(info.st_size) > limit {
            throw InputError("\(path): \(size(Int(info.st_size), beside: limit)) is larger than the \(megabytes(limit)) this reads")
        }
        guard let file = fopen(path, "rb") else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if bytes.count > limit { throw InputError("\(path): larger than the \(megabytes(limit)) this reads") }
            if n < chunk.count {
                if ferror(file) != 0 { throw InputError("\(path): \(String(cString: strerror(errno)))") }
                break
            }
        }
        return bytes
    }

    /// What a file that is not a regular one is, for the message.
    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO (a named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a file"
        }
    }

    /// A size in MB, or in bytes when it would round to the same MB as `limit`.
    private static func size(_ n: Int, beside limit: Int) -> String {
        megabytes(n) == megabytes(limit) ? "\(n) bytes" : megabytes(n)
    }

    private static func megabytes(_ n: Int) -> String {
        let mb = Double(n) / Double(1 << 20)
        return mb >= 10 ? "\(Int(mb.rounded())) MB" : "\((mb * 10).rounded() / 10) MB"
    }
}
