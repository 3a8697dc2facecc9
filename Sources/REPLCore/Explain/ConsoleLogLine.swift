import GRPO

/// A log line as transformers prints it to the console, copied from a terminal:
///
///     {'loss': '0.0123', 'grad_norm': '0.5432', 'kl': '0.002051', 'entropy': '3.683', 'epoch': '0.01'}
///
/// Python's repr of a dict whose float values `ProgressCallback` and `PrinterCallback` turned into
/// `f"{v:.4g}"` strings (whole numbers and other values as they are). Read into the `logged`
/// object's pairs: each value that reads as a number becomes that number, with the text it was
/// written as (its precision); the rest are kept as text.
enum ConsoleLogLine {
    /// The pairs of the line, in order; throws, naming the column, on anything else.
    static func pairs(_ line: String, at path: String) throws(InputError) -> [(key: String, value: JSONValue)] {
        var scanner = Scanner(Array(line))
        scanner.skipSpaces()
        guard scanner.take("{") else { throw scanner.error("expected '{' (a log line as transformers prints it: {'loss': '0.0123', ...})", at: path) }
        var pairs: [(key: String, value: JSONValue)] = []
        scanner.skipSpaces()
        if scanner.take("}") { return pairs }
        while true {
            scanner.skipSpaces()
            guard let key = scanner.quoted() else { throw scanner.error("expected a quoted key", at: path) }
            scanner.skipSpaces()
            guard scanner.take(":") else { throw scanner.error("expected ':' after '\(key)'", at: path) }
            scanner.skipSpaces()
            let value: JSONValue
            if let text = scanner.quoted() {
                value = .string(text)
            } else if let word = scanner.word() {
                switch word {
                case "True": value = .bool(true)
                case "False": value = .bool(false)
                case "None": value = .null
                default: value = .string(word)  // a bare number, read like a printed one below
                }
            } else {
                throw scanner.error("expected a value for '\(key)'", at: path)
            }
            if pairs.contains(where: { $0.key == key }) { throw scanner.error("the key '\(key)' appears twice", at: path) }
            pairs.append((key, value))
            scanner.skipSpaces()
            if scanner.take("}") { break }
            guard scanner.take(",") else { throw scanner.error("expected ',' or '}'", at: path) }
        }
        scanner.skipSpaces()
        guard scanner.atEnd else { throw scanner.error("unexpected text after '}'", at: path) }
        return pairs
    }

    /// A printed number: decimal, or Python's nan, inf and -inf.
    static func number(_ text: String) -> Double? {
        switch text {
        case "nan": return .nan
        case "inf": return .infinity
        case "-inf": return -.infinity
        default: return Double(decimalText: text)
        }
    }

    private struct Scanner {
        let chars: [Character]
        var k = 0
        init(_ chars: [Character]) { self.chars = chars }

        var atEnd: Bool { k >= chars.count }

        mutating func skipSpaces() {
            while k < chars.count, chars[k] == " " || chars[k] == "\t" || chars[k] == "\r" || chars[k] == "\n" { k += 1 }
        }

        mutating func take(_ c: Character) -> Bool {
            guard k < chars.count, chars[k] == c else { return false }
            k += 1
            return true
        }

        /// 'text' or "text" (Python's repr: a backslash escapes the next character).
        mutating func quoted() -> String? {
            guard k < chars.count, chars[k] == "'" || chars[k] == "\"" else { return nil }
            let quote = chars[k]
            var j = k + 1, text = ""
            while j < chars.count, chars[j] != quote {
                if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                text.append(chars[j])
                j += 1
            }
            guard j < chars.count else { return nil }
            k = j + 1
            return text
        }

        /// A bare word up to a comma, a brace or a space (a number, True, False, None).
        mutating func word() -> String? {
            var j = k
            while j < chars.count, !",} \t".contains(chars[j]) { j += 1 }
            guard j > k else { return nil }
            defer { k = j }
            return String(chars[k..<j])
        }

        func error(_ message: String, at path: String) -> InputError {
            InputError("\(path): \(message) at column \(k + 1)")
        }
    }
}
