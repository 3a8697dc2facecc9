#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the repository's own files are at run time: the lessons (`lesson N`) and the naive
/// path's sources (`source TERM`). `grpo-repl` runs from its clone (`swift run grpo-repl`), so
/// the root is found from this file's path at build time; `GRPO_SWIFT_ROOT` overrides it.
public enum ProjectFiles {
    public static var root: String {
        if let env = getenv("GRPO_SWIFT_ROOT") { return String(cString: env) }
        // .../Sources/REPLCore/Session/ProjectFiles.swift -> four components up.
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }

    /// `path` as given when it exists (or is absolute); otherwise, for a relative path that exists
    /// under `root`, that one: so `explain lessons/data/...` works from any directory.
    public static func resolve(_ path: String, root: String) -> String {
        guard !path.hasPrefix("/"), access(path, F_OK) != 0, access(root + "/" + path, F_OK) == 0 else { return path }
        return root + "/" + path
    }

    /// The text of a file under `root`, or nil when it cannot be read.
    public static func text(_ relativePath: String, root: String) -> String? {
        guard let bytes = try? InputFile.read(root + "/" + relativePath) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names of the files in a directory under `root`, sorted; empty when it cannot be read.
    public static func list(_ relativeDirectory: String, root: String) -> [String] {
        guard let dir = opendir(root + "/" + relativeDirectory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}
