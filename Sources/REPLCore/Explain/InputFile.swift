#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file for `explain` and `load`, refusing what cannot be a batch or session file
/// with a message naming the path: missing, a directory, unreadable, or larger than `limit`.
public enum InputFile {
    /// Batch and session files above this size are refused (a TRL dump of 512 x 1024 tokens
    /// with every field is about 40 MB).
    public static let defaultLimit = 64 << 20

    public static func read(_ path: String, limit: Int = defaultLimit) throws(InputError) -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw InputError("\(path): \(String(cString: strerror(errno)))") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError("\(path): is a directory, not a JSON file") }
        if Int(info.st_size) > limit {
            throw InputError("\(path): \(megabytes(Int(info.st_size))) is larger than the \(megabytes(limit)) this reads")
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

    private static func megabytes(_ n: Int) -> String {
        let mb = Double(n) / Double(1 << 20)
        return mb >= 10 ? "\(Int(mb.rounded())) MB" : "\((mb * 10).rounded() / 10) MB"
    }
}
