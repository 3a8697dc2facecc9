#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

/// Whether the naive path fits in memory here: it builds a graph of objects, 1-2 KB a token
/// (measured: 1.3 KB a token on 200k tokens with beta 0; more with the KL and entropy terms), so
/// `explain --naive` on a batch of 22M tokens would need about 44 GB and die in the allocator.
enum NaiveBudget {
    /// What the naive path is taken to hold per token: the top of the measured range.
    static let bytesPerToken = 2048

    /// The memory this process may use: three quarters of the machine's, or of its address-space
    /// limit (`ulimit -v`) when that is lower.
    static var usableBytes: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        var usable = pages > 0 && pageSize > 0 ? pages.multipliedReportingOverflow(by: pageSize).partialValue : Int.max
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int.max) {
            usable = min(usable, Int(limit.rlim_cur))
        }
        return usable / 4 * 3
    }

    /// Why `--naive` cannot run on `tokens` tokens here, or nil when it can.
    static func problem(tokens: Int, usable: Int = usableBytes) -> String? {
        let (needed, overflow) = tokens.multipliedReportingOverflow(by: bytesPerToken)
        guard overflow || needed > usable else { return nil }
        func gigabytes(_ bytes: Int) -> String { Fmt.num(Double(bytes) / 1e9, digits: 3) + " GB" }
        return "--naive on \(tokens) tokens needs about \(overflow ? "more than \(gigabytes(Int.max))" : gigabytes(needed)) "
            + "(the naive path holds 1-2 KB a token), and this process can use about \(gigabytes(usable)) (3/4 of the "
            + "machine's memory or of its ulimit -v); without --naive the vectorized path runs alone"
    }
}
