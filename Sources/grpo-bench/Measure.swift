#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Wall times of repeated runs, and the resident memory the runs added.
struct Timing {
    /// In the order they ran, in seconds.
    let seconds: [Double]
    private let sorted: [Double]
    /// Peak resident set during the runs minus the resident set before them, in bytes; nil
    /// where /proc/self/status is not readable.
    let peakAddedBytes: Int?
    /// Minor page faults per timed run: memory the kernel had to map and zero for us.
    let pageFaultsPerRun: Double

    init(seconds: [Double], peakAddedBytes: Int?, pageFaultsPerRun: Double) {
        self.seconds = seconds
        sorted = seconds.sorted()
        self.peakAddedBytes = peakAddedBytes
        self.pageFaultsPerRun = pageFaultsPerRun
    }

    var median: Double { Self.median(sorted) }
    var min: Double { sorted.first! }
    var max: Double { sorted.last! }
    /// Interquartile range (linear interpolation between the order statistics).
    var iqr: (Double, Double) { (quantile(0.25), quantile(0.75)) }

    func quantile(_ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let below = Int(position.rounded(.down)), above = Swift.min(below + 1, sorted.count - 1)
        return sorted[below] + (position - Double(below)) * (sorted[above] - sorted[below])
    }

    /// The median over rounds of this run's time over `other`'s in the same round (both from
    /// one `measureInTurn`): a ratio that the machine's drift from round to round cancels out of.
    func pairedRatio(to other: Timing) -> Double {
        Self.median(zip(seconds, other.seconds).map { $0 / $1 }.sorted())
    }

    private static func median(_ sorted: [Double]) -> Double {
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Runs `body` `warmup` times untimed, then `repeats` times timed. The peak memory is read around
/// all of it (the first run is the one that allocates what later runs reuse), with the kernel's
/// high-water mark reset first where Linux allows it (`/proc/self/clear_refs`). Free heap memory
/// left by earlier measurements is handed back to the kernel first, so that each measurement
/// starts from the same state and its peak is its own.
func measure(warmup: Int, repeats: Int, _ body: () -> Void) -> Timing {
    withoutActuallyEscaping(body) { measureInTurn(warmup: warmup, repeats: repeats, [$0])[0] }
}

/// The same for several bodies run in turn (one run of each per round), so that each sees the
/// same state of a noisy machine; their time ratios are best taken round by round (`pairedRatio`).
/// Page faults are counted per body; the peak memory is that of all of them together.
func measureInTurn(warmup: Int, repeats: Int, _ bodies: [() -> Void]) -> [Timing] {
    Memory.releaseFreeMemory()
    let peakReset = Memory.resetPeak()
    let before = Memory.status("VmRSS")
    for _ in 0..<warmup { for body in bodies { body() } }
    var times = [[Double]](repeating: [], count: bodies.count)
    var faults = [Int](repeating: 0, count: bodies.count)
    for _ in 0..<repeats {
        for (k, body) in bodies.enumerated() {
            let faultsBefore = Memory.minorFaults()
            let start = now()
            body()
            times[k].append(now() - start)
            faults[k] += Memory.minorFaults() - faultsBefore
        }
    }
    var added: Int? = nil
    if peakReset, let before, let peak = Memory.status("VmHWM") { added = Swift.max(0, peak - before) }
    return bodies.indices.map { k in
        Timing(seconds: times[k], peakAddedBytes: added, pageFaultsPerRun: Double(faults[k]) / Double(repeats))
    }
}

enum Memory {
    /// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), nil off Linux.
    static func status(_ field: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix(field + ":") else { continue }
            let digits = text.dropFirst(field.count + 1).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }  // reported in kB
        }
        return nil
    }

    /// Minor page faults of the process so far.
    static func minorFaults() -> Int {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_minflt
    }

    /// Tells glibc's malloc to keep freed memory instead of returning it to the kernel: no
    /// trimming of the heap top, and blocks up to 32 MB from the heap rather than from their own
    /// mmap. A long-running process (a REPL, a training loop) reaches this state anyway once
    /// its heap has grown; a process that makes one big allocation and frees it gets fresh,
    /// zeroed pages (one page fault per 4 KB) every time. Returns false off glibc.
    static func keepFreedMemory() -> Bool {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return false }  // nil: RTLD_DEFAULT
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        return mallopt(trimThreshold, Int32.max) == 1 && mallopt(mmapThreshold, 32 << 20) == 1
    }

    /// Makes glibc's malloc merge the small blocks freed since its last large request (it defers
    /// that work to the next request of 1 KB or more), by making one.
    static func mergeFreedChunks() {
        // Through the Swift runtime: the optimizer would delete a bare malloc/free pair.
        UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16).deallocate()
    }

    /// glibc's malloc_trim(0): returns free heap memory to the kernel. No effect off glibc.
    static func releaseFreeMemory() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
    }

    /// Resets VmHWM to the current VmRSS (Linux >= 4.0: write "5" to /proc/self/clear_refs).
    static func resetPeak() -> Bool {
        guard let file = fopen("/proc/self/clear_refs", "w") else { return false }
        defer { fclose(file) }
        return fputs("5", file) >= 0
    }
}
