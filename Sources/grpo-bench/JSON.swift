import REPLCore

extension JSONValue {
    /// A whole number.
    static func integer(_ n: Int) -> JSONValue { .number(Double(n)) }

    /// An object from key-value pairs, keys in the order given.
    static func fields(_ pairs: [(String, JSONValue)]) -> JSONValue { .object(JSONObject(pairs)) }
}

/// The flat object `torch_bench.py --json` prints, with every value as text.
func flatFields(_ line: String) -> [String: String]? {
    guard case .object(let object)? = try? JSONParser.parse(line) else { return nil }
    var fields: [String: String] = [:]
    for (key, value) in object.pairs {
        switch value {
        case .string(let s): fields[key] = s
        case .number(let x): fields[key] = JSONValue.format(x)
        default: break
        }
    }
    return fields
}
