/// `text` as lines of at most `width` columns, broken at spaces but never inside `a code span`
/// (a command to copy stays whole): how train-mine and the tests print their sentences.
public func wrapLines(_ text: String, width: Int = 80) -> [String] {
    var words: [String] = []
    var inCode = false
    for word in text.split(separator: " ") {
        if inCode { words[words.count - 1] += " " + word } else { words.append(String(word)) }
        if word.filter({ $0 == "`" }).count % 2 == 1 { inCode.toggle() }
    }
    var result: [String] = [], line = ""
    for word in words {
        if !line.isEmpty && line.count + 1 + word.count > width {
            result.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    return result + [line]
}
