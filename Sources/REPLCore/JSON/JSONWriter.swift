extension JSONValue {
    /// The value as JSON text: compact, or indented by two spaces with short lists of numbers
    /// kept on one line. Key order is kept; non-finite numbers are written as null (JSON has
    /// no inf or NaN; callers warn about them separately).
    public func rendered(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    /// A number the way JSON readers parse it back exactly: shortest round-trip digits,
    /// whole numbers without ".0", and -0 with its sign.
    public static func format(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == 0 && x.sign == .minus { return "-0" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    private static func escape(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // C0 and C1 controls, DEL and the line separators, as \u escapes: never raw in the output.
            case _ where u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let close = pretty ? String(repeating: "  ", count: indent) : ""
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x): out += Self.format(x)
        case .string(let s): out += Self.escape(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if !pretty || items.allSatisfy(\.isScalar) {
                out += "["
                for (k, item) in items.enumerated() {
                    if k > 0 { out += pretty ? ", " : "," }
                    item.write(into: &out, pretty: pretty, indent: indent + 1)
                }
                out += "]"
                return
            }
            out += "[\n"
            for (k, item) in items.enumerated() {
                out += pad
                item.write(into: &out, pretty: pretty, indent: indent + 1)
                out += k + 1 < items.count ? ",\n" : "\n"
            }
            out += close + "]"
        case .object(let object):
            if object.count == 0 { out += "{}"; return }
            out += pretty ? "{\n" : "{"
            for (k, (key, value)) in object.pairs.enumerated() {
                out += pad + Self.escape(key) + (pretty ? ": " : ":")
                value.write(into: &out, pretty: pretty, indent: indent + 1)
                if k + 1 < object.count { out += pretty ? ",\n" : "," } else if pretty { out += "\n" }
            }
            out += close + "}"
        }
    }
}
