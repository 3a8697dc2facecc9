/// Just enough JSON for one report object, keys in the order written.
indirect enum JSON {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .number(let x): return x.isFinite ? "\(x)" : "null"
        case .integer(let n): return "\(n)"
        case .string(let s): return JSON.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let pairs): return "{" + pairs.map { JSON.quote($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Reads the flat object `torch_bench.py --json` prints: string and number values only.
    static func parseFlatObject(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        var s = Substring(text.trimmingWhitespace())
        guard s.first == "{", s.last == "}" else { return nil }
        s = s.dropFirst().dropLast()
        func readString() -> String? {
            guard s.first == "\"" else { return nil }
            s = s.dropFirst()
            var out = ""
            while let c = s.popFirst() {
                if c == "\\" { if let next = s.popFirst() { out.append(next) }; continue }
                if c == "\"" { return out }
                out.append(c)
            }
            return nil
        }
        while true {
            s = Substring(s.trimmingWhitespace())
            if s.isEmpty { return fields }
            guard let key = readString() else { return nil }
            s = Substring(s.trimmingWhitespace())
            guard s.popFirst() == ":" else { return nil }
            s = Substring(s.trimmingWhitespace())
            if s.first == "\"" {
                guard let v = readString() else { return nil }
                fields[key] = v
            } else {
                let v = s.prefix { $0 != "," }
                s = s.dropFirst(v.count)
                fields[key] = String(v).trimmingWhitespace()
            }
            s = Substring(s.trimmingWhitespace())
            if s.first == "," { s = s.dropFirst() }
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
