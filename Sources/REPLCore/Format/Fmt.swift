#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Number formatting for everything the REPL prints: tables, chart labels, summaries.
///
/// Deterministic and locale-independent (C `printf` rules, `.` as decimal point).
public enum Fmt {
    /// Formats `x` with `digits` significant digits, like C's `%g` but easier to read:
    /// trailing zeros are dropped, integers below `10^max(digits, 6)` are printed in full,
    /// and `nan`, `inf`, `-inf` are spelled out. `-0` prints as `0`.
    ///
    ///     Fmt.num(0.1234567)  // "0.1235"
    ///     Fmt.num(-0.5)       // "-0.5"
    ///     Fmt.num(123456)     // "123456"
    ///     Fmt.num(12345678)   // "1.235e+07"
    ///     Fmt.num(1e-9)       // "1e-09"
    public static func num(_ x: Double, digits: Int = 4) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == 0 { return "0" }
        let digits = min(max(digits, 1), 17)
        // "%e" rounds first, so the exponent is the one of the printed value (9.99995 -> 1.000e+01).
        let scientific = cFormat("%.*e", Int32(digits - 1), x)
        let exponent = Int(scientific[scientific.index(after: scientific.firstIndex(of: "e")!)...])!
        if exponent < -4 || exponent >= max(digits, 6) {
            let parts = scientific.split(separator: "e")
            return trimFraction(String(parts[0])) + "e" + parts[1]
        }
        return trimFraction(cFormat("%.*f", Int32(max(digits - 1 - exponent, 0)), x))
    }

    /// A metric or number that may be absent: "-" when it is nil (a metric TRL does not log for
    /// these options), `num` otherwise.
    public static func num(_ x: Double?, digits: Int = 4) -> String {
        guard let x else { return "-" }
        return num(x, digits: digits)
    }

    /// Drops trailing zeros after a decimal point, and the point itself if nothing is left.
    private static func trimFraction(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var result = Substring(text)
        while result.last == "0" { result.removeLast() }
        if result.last == "." { result.removeLast() }
        return String(result)
    }

    /// `snprintf` into a String; only used with the short numeric formats above.
    private static func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
        withVaList(arguments) { list in
            var buffer = [CChar](repeating: 0, count: 512)
            _ = vsnprintf(&buffer, buffer.count, format, list)
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
