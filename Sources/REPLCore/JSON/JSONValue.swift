/// A JSON document, parsed by our own small parser so that errors can name the line, column and
/// field, duplicated keys are refused rather than silently dropped, and key order is kept.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// What a person would call this kind of value, for error messages.
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// An object with its keys in document order, held as one list of pairs: one allocation per
/// object (a dictionary beside the list made a small object cost 250 bytes). Lookup is a linear
/// search, which is what objects of a few keys want; the parser checks duplicates with a set
/// once an object grows past a few keys.
public struct JSONObject: Equatable, Sendable {
    public private(set) var pairs: [(key: String, value: JSONValue)] = []

    public init() {}

    /// Pairs with distinct keys (a later duplicate replaces the earlier value, in its place).
    public init(_ pairs: [(String, JSONValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// Pairs already known to have distinct keys (the parser's).
    init(distinct pairs: [(key: String, value: JSONValue)]) {
        self.pairs = pairs
    }

    public var keys: [String] { pairs.map(\.key) }
    public var count: Int { pairs.count }

    public subscript(key: String) -> JSONValue? {
        get { pairs.first { $0.key == key }?.value }
        set {
            let k = pairs.firstIndex { $0.key == key }
            switch (k, newValue) {
            case (let k?, let value?): pairs[k].value = value
            case (let k?, nil): pairs.remove(at: k)
            case (nil, let value?): pairs.append((key, value))
            case (nil, nil): break
            }
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
