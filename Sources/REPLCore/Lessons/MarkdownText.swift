/// A lesson's prose as the REPL prints it: Markdown's marks taken off, so that a learner reads
/// the text, not its source.
///
///     **bold**, *italic*    the words alone
///     `code`                'code', as the REPL quotes commands
///     [text](address)       text (address)
///     # Heading             Heading
///
/// A `*` with spaces on both sides (a product, `w * L`) and everything inside a code span stay.
enum MarkdownText {
    static func plain(_ line: String) -> String {
        var text = Substring(line)
        var heading = false
        while text.hasPrefix("#") {
            text = text.dropFirst()
            heading = true
        }
        if heading { text = text.drop { $0 == " " } }
        let chars = Array(text)
        var out = ""
        var k = 0
        while k < chars.count {
            let c = chars[k]
            if c == "`", let close = chars[(k + 1)...].firstIndex(of: "`") {
                out += "'" + String(chars[(k + 1)..<close]) + "'"
                k = close + 1
            } else if c == "*", k + 1 < chars.count, chars[k + 1] == "*", let close = closing("**", chars, from: k + 2) {
                out += plain(String(chars[(k + 2)..<close]))
                k = close + 2
            } else if c == "*", opens(chars, at: k), let close = closing("*", chars, from: k + 1) {
                out += plain(String(chars[(k + 1)..<close]))
                k = close + 1
            } else if c == "[", let link = link(chars, at: k) {
                out += plain(link.text) + " (" + link.address + ")"
                k = link.end
            } else {
                out.append(c)
                k += 1
            }
        }
        return out
    }

    /// A single `*` that opens emphasis: not followed by a space, and at the start of a word.
    private static func opens(_ chars: [Character], at k: Int) -> Bool {
        guard k + 1 < chars.count, chars[k + 1] != " " else { return false }
        return k == 0 || chars[k - 1] == " " || chars[k - 1] == "(" || chars[k - 1] == "\""
    }

    /// Where `mark` closes emphasis opened before `from`: not after a space, not followed by a
    /// letter or digit.
    private static func closing(_ mark: String, _ chars: [Character], from: Int) -> Int? {
        let m = Array(mark)
        var j = from
        while j + m.count <= chars.count {
            if Array(chars[j..<(j + m.count)]) == m, j > from, chars[j - 1] != " ",
               j + m.count == chars.count || !(chars[j + m.count].isLetter || chars[j + m.count].isNumber || chars[j + m.count] == "*") {
                return j
            }
            j += 1
        }
        return nil
    }

    /// `[text](address)` at k: the text, the address and the index after it.
    private static func link(_ chars: [Character], at k: Int) -> (text: String, address: String, end: Int)? {
        guard let close = chars[(k + 1)...].firstIndex(of: "]"), close + 1 < chars.count, chars[close + 1] == "(",
              let end = chars[(close + 2)...].firstIndex(of: ")") else { return nil }
        return (String(chars[(k + 1)..<close]), String(chars[(close + 2)..<end]), end + 1)
    }
}
