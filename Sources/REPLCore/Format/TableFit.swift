extension Fmt {
    /// Headers of columns that matter least, dropped first when a table is too wide for the
    /// terminal: inputs a learner can see elsewhere (`logprobs`) and intermediate values.
    static let secondaryColumns = ["entropy", "ref_logp", "old_logp", "clip(ratio)", "|o_i|", "length", "w_t", "weight"]

    /// `Table`'s rendered tables in `lines` made to fit `width` columns, as a terminal shows them
    /// (piped output keeps every table whole): a table whose last column is prose wraps that
    /// column; otherwise its least important columns are left out (`secondaryColumns` first,
    /// then from the right, never the first) and one line under it names them; a table that
    /// would keep fewer than half its columns is shown vertically instead, one `header value`
    /// pair after another. Other lines are returned as they are.
    public static func fitTables(_ lines: [String], width: Int) -> [String] {
        var out: [String] = []
        var k = 0
        while k < lines.count {
            guard k + 1 < lines.count, let spans = ruleSpans(lines[k + 1]), !lines[k].isEmpty else {
                out.append(lines[k])
                k += 1
                continue
            }
            var end = k + 2
            while end < lines.count, isRow(lines[end], spans: spans) { end += 1 }
            let block = Array(lines[k..<end])
            out += (spans.last!.upperBound <= width) ? block : TableBlock(lines: block, spans: spans).fitted(width: width)
            k = end
        }
        return out
    }

    /// The columns of a rule line (`---  -----`): each run of dashes, two spaces apart; nil for
    /// any other line.
    static func ruleSpans(_ line: String) -> [Range<Int>]? {
        let chars = Array(line)
        guard chars.first == "-", chars.allSatisfy({ $0 == "-" || $0 == " " }) else { return nil }
        var spans: [Range<Int>] = []
        var start: Int? = nil
        for (i, c) in chars.enumerated() {
            if c == "-", start == nil { start = i }
            if c == " ", let s = start {
                spans.append(s..<i)
                start = nil
            }
        }
        if let s = start { spans.append(s..<chars.count) }
        for (a, b) in zip(spans, spans.dropFirst()) where b.lowerBound - a.upperBound != 2 { return nil }
        return spans
    }

    /// True for a row of the table with these columns: blank at every gap between two columns
    /// that it reaches, and no longer than the table (a note under the table is not).
    static func isRow(_ line: String, spans: [Range<Int>]) -> Bool {
        let chars = Array(line)
        guard !chars.isEmpty, chars.count <= spans.last!.upperBound else { return false }
        for (a, b) in zip(spans, spans.dropFirst()) where a.upperBound < chars.count {
            for p in a.upperBound..<min(b.lowerBound, chars.count) where chars[p] != " " { return false }
        }
        return true
    }
}

/// One rendered table: its header, rule and rows, cut into cells by the rule's columns.
private struct TableBlock {
    let spans: [Range<Int>]
    /// Per line: the cells (padded as rendered), or nil for a rule.
    let rows: [[String]?]

    init(lines: [String], spans: [Range<Int>]) {
        self.spans = spans
        rows = lines.enumerated().map { index, line in
            if index > 0, Fmt.ruleSpans(line) != nil { return nil }
            let chars = Array(line)
            return spans.enumerated().map { c, span in
                let upper = c == spans.count - 1 ? chars.count : min(span.upperBound, chars.count)
                return span.lowerBound < upper ? String(chars[span.lowerBound..<upper]) : ""
            }
        }
    }

    var headers: [String] { rows[0]!.map { $0.trimmingWhitespace } }

    func fitted(width: Int) -> [String] {
        if let wrapped = wrappingLastColumn(width: width) { return wrapped }
        var kept = Array(spans.indices)
        let order = dropOrder()
        var dropped: [Int] = []
        for c in order where columnsWidth(kept) > width {
            kept.removeAll { $0 == c }
            dropped.append(c)
        }
        if columnsWidth(kept) > width || kept.count * 2 < spans.count { return vertical(width: width) }
        let names = dropped.sorted().map { headers[$0] }
        return render(kept) + Fmt.wrap("(left out to fit \(width) columns: \(names.joined(separator: ", ")); a wider window, or the "
                                       + "output piped to a file, shows every column)", width: width, indent: "  ")
    }

    /// The width of the table made of these columns.
    private func columnsWidth(_ columns: [Int]) -> Int {
        columns.reduce(0) { $0 + spans[$1].count } + 2 * max(0, columns.count - 1)
    }

    /// Secondary columns first (rightmost first), then the rest from the right; the first never.
    private func dropOrder() -> [Int] {
        let candidates = Array(spans.indices.dropFirst().reversed())
        let secondary = candidates.filter { Fmt.secondaryColumns.contains(headers[$0]) }
        return secondary + candidates.filter { !secondary.contains($0) }
    }

    private func render(_ columns: [Int]) -> [String] {
        rows.map { cells in
            guard let cells else { return columns.map { String(repeating: "-", count: spans[$0].count) }.joined(separator: "  ") }
            return trimmedEnd(columns.map { pad(cells[$0], spans[$0].count) }.joined(separator: "  "))
        }
    }

    /// The table with its last column wrapped into what the others leave, when that column is
    /// prose (most of its cells hold a space) and keeps at least 20 columns.
    private func wrappingLastColumn(width: Int) -> [String]? {
        let last = spans.count - 1
        guard last > 0 else { return nil }
        let start = spans[last].lowerBound, room = width - start
        let cells = rows.compactMap { $0?[last].trimmingWhitespace }.dropFirst().filter { !$0.isEmpty }
        // Every word must fit the room, or the wrap would spill out of the column.
        let longest = cells.flatMap { $0.split(separator: " ").map(\.count) }.max() ?? 0
        guard room >= 20, longest <= room, cells.filter({ $0.contains(" ") }).count * 2 > cells.count else { return nil }
        let indent = String(repeating: " ", count: start)
        return rows.flatMap { cells -> [String] in
            guard let cells else {
                return [(spans.dropLast().map(\.count) + [min(spans[last].count, room)])
                    .map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
            }
            let prefix = cells.dropLast().enumerated().map { pad($1, spans[$0].count) }.joined(separator: "  ") + "  "
            let pieces = Fmt.wrap(cells[last].trimmingWhitespace, width: room)
            return pieces.enumerated().map { trimmedEnd(($0 == 0 ? prefix : indent) + $1) }
        }
    }

    /// Each row as `header value` pairs, wrapped to the width; rows apart by a blank line.
    private func vertical(width: Int) -> [String] {
        let names = headers
        var out: [String] = []
        for cells in rows.dropFirst() {
            guard let cells else { continue }
            let pairs = zip(names, cells).compactMap { name, cell in
                cell.trimmingWhitespace.isEmpty ? nil : "\(name) \(cell.trimmingWhitespace)"
            }
            if !out.isEmpty { out.append("") }
            // Pairs two spaces apart, a line broken between pairs only.
            var line = ""
            for pair in pairs {
                if !line.isEmpty && line.count + 2 + pair.count > width {
                    out.append(line)
                    line = "    "
                }
                line += (line.trimmingWhitespace.isEmpty ? "" : "  ") + pair
            }
            out.append(line)
        }
        return out
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func trimmedEnd(_ text: String) -> String {
        var line = Substring(text)
        while line.last == " " { line.removeLast() }
        return String(line)
    }
}
