#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: a small, fast generator whose every output is fixed by its seed, on every
/// platform and toolchain. Uniform and normal draws are made here from raw bits, not with
/// `Double.random(in:using:)`, whose algorithm the standard library may change.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// A whole number in lo...hi (both included).
    public mutating func integer(_ lo: Int, _ hi: Int) -> Int {
        lo + Int(next() % UInt64(hi - lo + 1))
    }

    /// Standard normal, by Box-Muller.
    public mutating func normal() -> Double {
        let u1 = 1 - uniform()  // (0, 1]: log is finite
        let u2 = uniform()
        return sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2)
    }
}
