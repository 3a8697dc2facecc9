#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a text is not the JSON we read, with the 1-based line and column where that shows.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public let line: Int
    public let column: Int
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict JSON parser (RFC 8259): no comments, no trailing commas, no NaN or Infinity, no
/// duplicated keys; nesting limited to `maxDepth` so hostile input cannot exhaust the stack.
public struct JSONParser {
    public static let maxDepth = 64
    /// The most objects and lists a document may hold. Each costs up to about 80 bytes, so this
    /// bounds what a hostile file of "[0]," or {"a":0} can make the parser allocate (160 MB),
    /// while a batch file has about 5 per completion. Every other value takes the 24 bytes of a
    /// `JSONValue` for at least 2 bytes of input ("0,"): at most 12 bytes per input byte.
    public static let maxContainers = 2_000_000
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    private var containers = 0

    public static func parse(_ bytes: [UInt8], maxContainers: Int = maxContainers) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxContainers: maxContainers)
        // A UTF-8 byte-order mark, as some Windows editors write, is skipped (RFC 8259 allows it).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        if parser.index < bytes.count { throw parser.error("unexpected text after the end of the document") }
        return value
    }

    public static func parse(_ text: String) throws(JSONError) -> JSONValue { try parse(Array(text.utf8)) }

    private let containerLimit: Int

    private init(bytes: [UInt8], maxContainers: Int) {
        self.bytes = bytes
        containerLimit = maxContainers
    }

    private func error(_ message: String, at position: Int? = nil) -> JSONError {
        let end = min(position ?? index, bytes.count)
        var line = 1, column = 1
        for k in 0..<end {
            if bytes[k] == UInt8(ascii: "\n") { line += 1; column = 1 } else if bytes[k] & 0xC0 != 0x80 { column += 1 }
        }
        return JSONError(message: message, line: line, column: column)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let b = current, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
    }

    private mutating func expect(_ literal: String, _ value: JSONValue) throws(JSONError) -> JSONValue {
        let utf8 = Array(literal.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<(index + utf8.count)]) == utf8 else {
            throw error("expected a value (a number, string, list, object, true, false or null)")
        }
        index += utf8.count
        return value
    }

    private mutating func value() throws(JSONError) -> JSONValue {
        guard let b = current else { throw error("the document ends where a value was expected") }
        switch b {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case _ where startsWith("NaN") || startsWith("Infinity"):
            throw error("NaN and Infinity are not JSON; every number must be finite")
        default:
            throw error("expected a value (a number, string, list, object, true, false or null)")
        }
    }

    /// True when the text at the current position starts with `word`.
    private func startsWith(_ word: String) -> Bool {
        bytes[index...].starts(with: word.utf8)
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws(JSONError) -> T) throws(JSONError) -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw error("nested deeper than \(Self.maxDepth) levels") }
        containers += 1
        if containers > containerLimit {
            throw error("more than \(containerLimit) objects and lists in one document; a batch file has about 5 per completion")
        }
        return try body(&self)
    }

    private mutating func object() throws(JSONError) -> JSONValue {
        try nested { (p: inout JSONParser) throws(JSONError) -> JSONValue in
            p.index += 1
            var pairs: [(key: String, value: JSONValue)] = []
            // Past a few keys, duplicates are looked up in a set: a linear search would make an
            // object of n keys cost n^2.
            var seen: Set<String>? = nil
            p.skipSpace()
            if p.current == UInt8(ascii: "}") { p.index += 1; return .object(JSONObject(distinct: pairs)) }
            while true {
                p.skipSpace()
                guard p.current == UInt8(ascii: "\"") else { throw p.error("expected a key in double quotes") }
                let keyStart = p.index
                let key = try p.string()
                if seen?.contains(key) ?? pairs.contains(where: { $0.key == key }) {
                    try p.refuseDuplicate(key, earlier: pairs.first { $0.key == key }!.key, at: keyStart)
                }
                p.skipSpace()
                guard p.current == UInt8(ascii: ":") else { throw p.error("expected ':' after the key \"\(key)\"") }
                p.index += 1
                p.skipSpace()
                pairs.append((key, try p.value()))
                if seen != nil { seen!.insert(key) } else if pairs.count > 8 { seen = Set(pairs.map(\.key)) }
                p.skipSpace()
                switch p.current {
                case UInt8(ascii: ","): p.index += 1
                case UInt8(ascii: "}"): p.index += 1; return .object(JSONObject(distinct: pairs))
                case nil: throw p.error("the document ends inside an object (missing '}')")
                default: throw p.error("expected ',' or '}' in an object")
                }
            }
        }
    }

    /// The error for a key that appears twice. Swift's strings compare under Unicode canonical
    /// equivalence: it says when the two keys are equal only that way ("café" composed and
    /// decomposed).
    private func refuseDuplicate(_ key: String, earlier: String, at keyStart: Int) throws(JSONError) -> Never {
        if Array(earlier.unicodeScalars) != Array(key.unicodeScalars) {
            throw error("the keys \"\(earlier)\" and \"\(key)\" differ only in their Unicode form (composed or decomposed "
                        + "accents); write each key in one form", at: keyStart)
        }
        throw error("the key \"\(key)\" appears twice in one object", at: keyStart)
    }

    private mutating func array() throws(JSONError) -> JSONValue {
        try nested { (p: inout JSONParser) throws(JSONError) -> JSONValue in
            p.index += 1
            var items: [JSONValue] = []
            p.skipSpace()
            if p.current == UInt8(ascii: "]") { p.index += 1; return .array(items) }
            while true {
                p.skipSpace()
                items.append(try p.value())
                p.skipSpace()
                switch p.current {
                case UInt8(ascii: ","): p.index += 1
                case UInt8(ascii: "]"): p.index += 1; return .array(items)
                case nil: throw p.error("the document ends inside a list (missing ']')")
                default: throw p.error("expected ',' or ']' in a list")
                }
            }
        }
    }

    private mutating func string() throws(JSONError) -> String {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            guard let b = current else { throw error("the document ends inside a string", at: start) }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw error("a string is not valid UTF-8", at: start)
                }
                return s
            case UInt8(ascii: "\\"):
                guard let e = current else { throw error("the document ends inside a string", at: start) }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), current == UInt8(ascii: "\\"),
                       index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid \\u surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string")
                }
            case 0..<0x20:
                throw error("a control character inside a string (write it as an escape)")
            default:
                out.append(b)
            }
        }
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("a \\u escape needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("a \\u escape needs four hex digits")
            }
            v = v * 16 + digit
            index += 1
        }
        return v
    }

    /// A number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws(JSONError) -> Double {
        let start = index
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.index
            while let b = p.current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { p.index += 1 }
            return p.index - s
        }
        if current == UInt8(ascii: "-") { index += 1 }
        if startsWith("Infinity") { throw error("NaN and Infinity are not JSON; every number must be finite") }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw error("a number needs digits", at: start)
        }
        if current == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw error("a number needs digits after '.'", at: start) }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            if digits(&self) == 0 { throw error("a number needs digits in its exponent", at: start) }
        }
        // Swift's own reading of the digits: the same in every C locale, unlike strtod's.
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw error("the number is too large for a double", at: start) }
        if value == 0, mantissaHasNonzeroDigit(bytes[start..<index]) {
            throw error("the number \(text) is too small for a double: it would read as 0", at: start)
        }
        return value
    }

    /// True when a number's digits before its exponent are not all zeros (1e-400, not 0.0e5).
    private func mantissaHasNonzeroDigit(_ text: ArraySlice<UInt8>) -> Bool {
        for b in text {
            if b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { return false }
            if b >= UInt8(ascii: "1") && b <= UInt8(ascii: "9") { return true }
        }
        return false
    }
}
