#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SIMD vector the loss kernel works in: four tokens at a time. On x86-64 without AVX (the
/// default target) each operation is two SSE2 instructions, which also gives the CPU two
/// independent chains to overlap.
typealias Lanes = SIMD4<Double>
typealias LaneMask = SIMDMask<Lanes.MaskStorage>

extension Lanes {
    /// min(x, y) lane by lane with Swift.min's rule (`y < x ? y : x`), as selects: no branch.
    @_transparent
    static func minimum(_ x: Lanes, _ y: Lanes) -> Lanes { x.replacing(with: y, where: y .< x) }

    /// max(x, y) lane by lane with Swift.max's rule (`y >= x ? y : x`).
    @_transparent
    static func maximum(_ x: Lanes, _ y: Lanes) -> Lanes { x.replacing(with: y, where: y .>= x) }

    /// The four lanes added in a fixed order, so sums are reproducible.
    @_transparent
    var laneSum: Double { (self[0] + self[1]) + (self[2] + self[3]) }

    /// Loads `count` (1...4) values from `base[j...]`; missing lanes are 0.
    @_transparent
    static func load(_ base: UnsafePointer<Double>, _ j: Int, count: Int) -> Lanes {
        if count == scalarCount { return UnsafeRawPointer(base + j).loadUnaligned(as: Lanes.self) }
        return loadPartial(base, j, count: count)
    }

    /// Stores the first `count` (1...4) lanes to `base[j...]`.
    @_transparent
    func store(to base: UnsafeMutablePointer<Double>, _ j: Int, count: Int) {
        if count == Lanes.scalarCount {
            UnsafeMutableRawPointer(base + j).storeBytes(of: self, as: Lanes.self)
        } else {
            storePartial(to: base, j, count: count)
        }
    }

    // A row's last chunk: kept out of line so the hot loop stays small.
    @inline(never)
    static func loadPartial(_ base: UnsafePointer<Double>, _ j: Int, count: Int) -> Lanes {
        var v = Lanes(repeating: 0)
        for l in 0..<count { v[l] = base[j + l] }
        return v
    }

    @inline(never)
    func storePartial(to base: UnsafeMutablePointer<Double>, _ j: Int, count: Int) {
        for l in 0..<count { base[j + l] = self[l] }
    }
}

/// exp and expm1 of four values at once, in plain SIMD arithmetic (libm's `exp` is one opaque
/// call per value and cannot be vectorized). Only the loss kernel uses these; the naive path
/// keeps libm, and the tests hold the two paths to 1e-12.
///
/// Method (Cody and Waite, as in fdlibm and most vector math libraries): write
///
///     x = k ln2 + r,   k = round(x / ln2),   |r| <= ln2 / 2
///     exp(x)   = 2^k (1 + p)
///     expm1(x) = 2^k p + (2^k - 1),      p = expm1(r) = r + r^2 q(r)
///
/// - k is rounded by adding 1.5 * 2^52 (the sum's low bits are then k), and 2^k is built from
///   those bits as an exponent: no float/int conversion, which SSE2 lacks for 64-bit lanes.
/// - r = x - k ln2 uses ln2 in two parts (`ln2Hi` has 32 significant bits), so k ln2Hi is exact;
///   for |x| < ln2 / 2, k = 0 and r = x exactly.
/// - q is a degree-9 polynomial fitted to (expm1(r) - r) / r^2 on [-ln2/2, ln2/2] (Chebyshev fit,
///   mpmath, 50 digits): its own relative error is below 1e-16 there. Written r + r^2 q(r), p
///   keeps full relative accuracy as r -> 0, so expm1(d) - d (the k3 estimator) keeps its sign
///   and digits for tiny d.
/// - q is evaluated by Estrin's scheme (pairs, then pairs of pairs) rather than Horner's: the
///   same number of operations, but a dependency chain 4 deep instead of 10, which roughly
///   doubles the throughput.
/// - For k != 0, 2^k p and 2^k - 1 are exact and |expm1(x)| > 0.29, so the one rounding of the
///   sum costs at most about an ulp.
///
/// Measured against glibc's libm on 200,000 values per range from 1e-8 to 700: exp is at most
/// 1 ulp away and expm1 at most 2 ulp (about 2e-16 and 4e-16 relative), and both are equal to
/// libm's for about 90% of inputs (tests: `VectorizedMathTests` hold them to 1e-15). That is
/// thousands of times tighter than the 1e-12 the two loss paths must agree to.
///
/// Outside |x| <= 708 (where 2^k would leave the normal range, and for NaN) the lane is
/// recomputed with libm, so overflow to inf, underflow to 0 and subnormal results are exactly
/// libm's.
enum VectorMath {
    /// |x| up to which the polynomial path is used; beyond, libm.
    static let fastRange = 708.0

    /// (p, 2^k) with x = k ln2 + r and p = expm1(r).
    @_transparent
    static func reduce(_ x: Lanes) -> (p: Lanes, scale: Lanes) {
        let shifter = Lanes(repeating: 0x1.8p52)  // 1.5 * 2^52: adding it rounds to an integer
        let shifted = x * 1.4426950408889634 + shifter  // x / ln2 + 1.5 * 2^52
        let k = shifted - shifter
        let r = (x - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33  // x - k ln2Hi - k ln2Lo
        // q(r) = c0 + c1 r + ... + c9 r^9 by Estrin's scheme.
        let r2 = r * r, r4 = r2 * r2
        let q01 = r * 0x1.5555555555556p-3 + 0x1.0000000000001p-1
        let q23 = r * 0x1.11111111109b5p-7 + 0x1.5555555553d68p-5
        let q45 = r * 0x1.a01a01a7c2efep-13 + 0x1.6c16c17889ef1p-10
        let q67 = r * 0x1.71de0db2f6b19p-19 + 0x1.a019b9149a41cp-16
        let q89 = r * 0x1.af389ecfc4b9cp-26 + 0x1.28917c89a43a7p-22
        let q = (q01 + r2 * q23) + r4 * ((q45 + r2 * q67) + r4 * q89)
        let p = r + r2 * q
        // 2^k: the low bits of `shifted` hold k (two's complement); move them into the exponent.
        let bits = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let scale = unsafeBitCast((bits &<< 52) &+ 0x3FF0_0000_0000_0000, to: Lanes.self)
        return (p, scale)
    }

    /// True when every lane is within |x| <= 708 (and none is NaN). Summing the squares is
    /// cheaper than four tests; a false alarm (several large lanes) only costs the lane check.
    @_transparent
    static func allInFastRange(_ x: Lanes) -> Bool {
        (x * x).laneSum <= fastRange * fastRange
    }

    /// exp of each lane.
    @_transparent
    static func exp(_ x: Lanes) -> Lanes {
        let y = expInFastRange(x)
        return allInFastRange(x) ? y : outOfRange(x, y, libmExp)
    }

    /// expm1 (exp - 1, accurate for tiny values) of each lane.
    @_transparent
    static func expm1(_ x: Lanes) -> Lanes {
        let y = expm1InFastRange(x)
        return allInFastRange(x) ? y : outOfRange(x, y, libmExpm1)
    }

    /// exp without the range test: right only where |x| <= 708. For loops that test a whole
    /// block at once (`VectorMath.exp` tests every call, which is a fifth of its cost).
    @_transparent
    static func expInFastRange(_ x: Lanes) -> Lanes {
        let (p, scale) = reduce(x)
        return scale + scale * p
    }

    @_transparent
    static func expm1InFastRange(_ x: Lanes) -> Lanes {
        let (p, scale) = reduce(x)
        return scale * p + (scale - 1)
    }

    /// Replaces the lanes of y whose x is outside |x| <= 708 (or NaN) by libm's value.
    @inline(never)
    static func outOfRange(_ x: Lanes, _ y: Lanes, _ libm: (Double) -> Double) -> Lanes {
        var y = y
        for l in 0..<Lanes.scalarCount where !(x[l].magnitude <= fastRange) { y[l] = libm(x[l]) }
        return y
    }

    /// One value (tests): the same arithmetic as a lane.
    static func exp(_ x: Double) -> Double { exp(Lanes(repeating: x))[0] }
    static func expm1(_ x: Double) -> Double { expm1(Lanes(repeating: x))[0] }
}

// At file scope, `exp` is libm's (inside `VectorMath` it would be the vector one).
private func libmExp(_ x: Double) -> Double { exp(x) }
private func libmExpm1(_ x: Double) -> Double { expm1(x) }
