import Testing
@testable import REPLCore

@Suite("JSON parser and writer")
struct JSONTests {
    func message(_ text: String) -> String? {
        do { _ = try JSONParser.parse(text); return nil } catch { return error.description }
    }

    @Test("parses the JSON grammar and keeps key order")
    func parses() throws {
        let v = try JSONParser.parse(#"{"b": [1, -2.5e-3, true, null], "a": "x\n\u00e9\ud83d\ude00"}"#)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["b", "a"])
        #expect(o["b"] == .array([.number(1), .number(-0.0025), .bool(true), .null]))
        #expect(o["a"] == .string("x\né😀"))
    }

    @Test("refuses what is not strict JSON, naming line and column")
    func refuses() {
        #expect(message(#"{"a": 1, "a": 2}"#) == #"line 1, column 10: the key "a" appears twice in one object"#)
        #expect(message("[1, 2,]") == "line 1, column 7: expected a value (a number, string, list, object, true, false or null)")
        #expect(message("[NaN]") == "line 1, column 2: NaN and Infinity are not JSON; every number must be finite")
        #expect(message("[-Infinity]") == "line 1, column 3: NaN and Infinity are not JSON; every number must be finite")
        #expect(message("{\n  \"a\": [1, 2\n") == "line 3, column 1: the document ends inside a list (missing ']')")
        #expect(message("[1e999]") == "line 1, column 2: the number is too large for a double")
        #expect(message("") == "line 1, column 1: the document ends where a value was expected")
        #expect(message("[01]") == "line 1, column 3: expected ',' or ']' in a list")
        #expect(message("[1] x") == "line 1, column 5: unexpected text after the end of the document")
        #expect(message(String(repeating: "[", count: 100)) == "line 1, column 65: nested deeper than 64 levels")
    }

    @Test("invalid UTF-8 inside a string is an error, not a crash")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x5B, 0x22, 0xFF, 0xFE, 0x22, 0x5D]  // ["\xFF\xFE"]
        #expect(throws: JSONError.self) { try JSONParser.parse(bytes) }
    }

    @Test("numbers round-trip exactly; whole numbers print without .0; inf prints as null")
    func writer() throws {
        let values: [Double] = [0.1, -1.0 / 3, 1e-300, 123456789, 0.94633103543, 2]
        let text = JSONValue.array(values.map(JSONValue.number)).rendered()
        #expect(try JSONParser.parse(text) == .array(values.map(JSONValue.number)))
        #expect(JSONValue.format(2) == "2")
        #expect(JSONValue.format(.infinity) == "null")
        let pretty = JSONValue.object(JSONObject([("a", .array([.number(1), .number(2)])), ("b", .string("q\""))])).rendered(pretty: true)
        #expect(pretty == "{\n  \"a\": [1, 2],\n  \"b\": \"q\\\"\"\n}")
    }
}

@Suite("JSON numbers and keys at their edges")
struct JSONEdgeTests {
    @Test("-0 keeps its sign both ways; an underflow to 0 is refused; 0e5 and 5e-324 are numbers")
    func zeros() throws {
        #expect(JSONValue.number(-0.0).rendered() == "-0")
        guard case .number(let z) = try JSONParser.parse("-0") else { Issue.record("not a number"); return }
        #expect(z == 0 && z.sign == .minus)
        #expect(throws: JSONError(message: "the number -1e-400 is too small for a double: it would read as 0", line: 1, column: 1)) {
            try JSONParser.parse("-1e-400")
        }
        #expect(try JSONParser.parse("0e5") == .number(0) && JSONParser.parse("5e-324") == .number(5e-324))
    }

    @Test("only NaN and Infinity are called NaN and Infinity; a key repeated in another Unicode form is named as such")
    func messages() {
        #expect(throws: JSONError(message: "expected a value (a number, string, list, object, true, false or null)", line: 1, column: 1)) {
            try JSONParser.parse("Nope")
        }
        #expect(throws: JSONError(message: "NaN and Infinity are not JSON; every number must be finite", line: 1, column: 1)) {
            try JSONParser.parse("NaN")
        }
        #expect(throws: JSONError(message: "NaN and Infinity are not JSON; every number must be finite", line: 1, column: 2)) {
            try JSONParser.parse("-Infinity")
        }
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(throws: JSONError(message: "the keys \"\(composed)\" and \"\(decomposed)\" differ only in their Unicode form (composed or "
                                  + "decomposed accents); write each key in one form", line: 1, column: 13)) {
            try JSONParser.parse("{\"\(composed)\": 1, \"\(decomposed)\": 2}")
        }
    }

    @Test("memory per input byte is bounded: a value is 24 bytes (at least 2 bytes of input), an object one list, containers capped")
    func memoryBound() throws {
        // A value is at most 24 bytes ("0," is 2 bytes of input: at most 12 bytes per byte), and an
        // object is one pointer (its pairs), not a list and a dictionary (250 bytes for {"a":0}).
        #expect(MemoryLayout<JSONValue>.stride == 24 && MemoryLayout<JSONObject>.size == 8)
        // The container cap, at 3 here: [[],[]] has 3, [[],[],[]] has 4.
        #expect(try JSONParser.parse(Array("[[],[]]".utf8), maxContainers: 3) == .array([.array([]), .array([])]))
        #expect(throws: JSONError(message: "more than 3 objects and lists in one document; a batch file has about 5 per completion",
                                  line: 1, column: 8)) {
            try JSONParser.parse(Array("[[],[],{}]".utf8), maxContainers: 3)
        }
        #expect(JSONParser.maxContainers == 2_000_000)
    }

    @Test("an object of many keys: duplicates found past the first 8 (by the set), order kept, lookups by key")
    func manyKeys() throws {
        let keys = (0..<40).map { "k\($0)" }
        let text = "{" + keys.map { "\"\($0)\": \($0.dropFirst())" }.joined(separator: ",") + "}"
        guard case .object(let o) = try JSONParser.parse(text) else { Issue.record("not an object"); return }
        #expect(o.keys == keys && o["k39"] == .number(39) && o["k40"] == nil)
        #expect(throws: JSONError(message: "the key \"k30\" appears twice in one object", line: 1, column: 382)) {
            try JSONParser.parse(String(text.dropLast()) + ",\"k30\": 0}")
        }
    }
}
