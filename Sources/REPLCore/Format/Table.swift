/// A plain-text table: an optional title line, a header, a rule, and rows of cells.
///
///     var table = Table(title: "A_i = (r_i - mean) / std", columns: [.text("i"), .number("A_i")])
///     table.add(["0", Fmt.num(0.87)])
///     table.add(["1", Fmt.num(-0.87)])
///     table.render()
///     // A_i = (r_i - mean) / std
///     // i    A_i
///     // -  -----
///     // 0   0.87
///     // 1  -0.87
///
/// Column widths come from the content, columns are separated by two spaces, and lines
/// never end with spaces. Cells are plain text: ANSI styling inside a cell would break the
/// widths, so style whole rendered lines instead.
public struct Table: Sendable {
    /// How the cells of a column are placed within its width.
    public enum Alignment: Sendable {
        /// Text, flush left.
        case left
        /// Flush right.
        case right
        /// Numbers, lined up on the decimal point (see `Fmt.alignDecimal`), then flush right.
        case decimal
    }

    /// A column's header and alignment. Headers of `.right` and `.decimal` columns are flush right.
    public struct Column: Sendable {
        public var header: String
        public var alignment: Alignment

        public init(_ header: String, _ alignment: Alignment) {
            self.header = header
            self.alignment = alignment
        }

        /// A left-aligned text column.
        public static func text(_ header: String) -> Column { Column(header, .left) }
        /// A decimal-aligned number column.
        public static func number(_ header: String) -> Column { Column(header, .decimal) }
    }

    /// A row of cells, or a rule between two groups of rows.
    private enum Entry: Sendable {
        case row([String])
        case groupBreak
    }

    /// Printed above the header when not empty, e.g. the formula the table evaluates.
    public var title: String
    public var columns: [Column]
    private var entries: [Entry] = []
    /// Rows counted but never made (`addOmittedRows`): they only show in the "more rows" note.
    private var omitted = 0
    /// Rows made (`add`).
    private var made = 0

    public init(title: String = "", columns: [Column]) {
        self.title = title
        self.columns = columns
    }

    /// The number of rows added, omitted ones included (group breaks do not count).
    public var rowCount: Int { made + omitted }

    /// Counts `n` rows that will not be shown, without formatting their cells (a table of a
    /// big batch that stops after its first rows).
    public mutating func addOmittedRows(_ n: Int) {
        omitted += n
    }

    /// Appends a row. Missing trailing cells are empty; more cells than columns is a bug.
    public mutating func add(_ cells: [String]) {
        precondition(cells.count <= columns.count, "row has \(cells.count) cells for \(columns.count) columns")
        entries.append(.row(cells + Array(repeating: "", count: columns.count - cells.count)))
        made += 1
    }

    /// Appends a row while the table has fewer than `limit` rows (`nil`: no limit); past it the
    /// row is only counted, and its cells are never formatted.
    public mutating func add(_ cells: @autoclosure () -> [String], limit: Int?) {
        if let limit, rowCount >= limit { omitted += 1 } else { add(cells()) }
    }

    /// Draws a rule before the next row, separating groups (e.g. the completions of one prompt).
    /// Breaks at the start or end of the table, or next to another break, are not drawn.
    public mutating func addGroupBreak() {
        entries.append(.groupBreak)
    }

    /// The default note under a truncated table: "... 37 more rows".
    public static func moreRowsNote(_ hidden: Int) -> String {
        "... \(hidden) more row\(hidden == 1 ? "" : "s")"
    }

    /// Renders the table as lines.
    ///
    /// - Parameters:
    ///   - maxRows: when the table has more rows than this, only the first `maxRows` are
    ///     shown, followed by `note(hiddenRowCount)`. `nil` shows every row.
    ///   - note: the line that says how many rows were hidden, e.g.
    ///     `{ "... \($0) more rows (type 'all' after the command to see every row)" }`.
    public func render(maxRows: Int? = nil, note: (Int) -> String = Table.moreRowsNote) -> [String] {
        let (shown, hidden) = visibleEntries(maxRows: maxRows)
        let rows = shown.compactMap { entry -> [String]? in
            if case .row(let cells) = entry { cells } else { nil }
        }
        // Per column: the header, then one padded cell per shown row.
        let columnCells = columns.indices.map { index in
            layout(column: columns[index], cells: rows.map { $0[index] })
        }
        let rule = joined(columnCells.map { String(repeating: "-", count: $0[0].count) })

        var lines = title.isEmpty ? [] : [title]
        lines.append(joined(columnCells.map { $0[0] }))
        lines.append(rule)
        var line = 1
        for entry in shown {
            switch entry {
            case .row:
                lines.append(joined(columnCells.map { $0[line] }))
                line += 1
            case .groupBreak:
                lines.append(rule)
            }
        }
        if hidden > 0 { lines.append(note(hidden)) }
        return lines
    }

    /// The entries to draw (without leading, trailing or doubled group breaks) and the number
    /// of rows left out by `maxRows`.
    private func visibleEntries(maxRows: Int?) -> (entries: [Entry], hidden: Int) {
        let limit = maxRows.map { max($0, 0) } ?? .max
        var shown: [Entry] = []
        var rows = 0
        for entry in entries {
            switch entry {
            case .row where rows < limit:
                shown.append(entry)
                rows += 1
            case .row:
                continue
            case .groupBreak:
                if case .row = shown.last { shown.append(entry) }
            }
        }
        if case .groupBreak = shown.last { shown.removeLast() }
        return (shown, rowCount - rows)
    }

    /// The header followed by the column's cells, all padded to the column width.
    private func layout(column: Column, cells: [String]) -> [String] {
        let aligned = column.alignment == .decimal ? Fmt.alignDecimal(cells) : cells
        let width = ([column.header] + aligned).map(\.count).max() ?? 0
        let header = pad(column.header, to: width, left: column.alignment == .left)
        return [header] + aligned.map { pad($0, to: width, left: column.alignment == .left) }
    }

    private func pad(_ text: String, to width: Int, left: Bool) -> String {
        let padding = String(repeating: " ", count: width - text.count)
        return left ? text + padding : padding + text
    }

    /// Joins padded cells with the column gap and drops the trailing spaces.
    private func joined(_ cells: [String]) -> String {
        var line = Substring(cells.joined(separator: "  "))
        while line.last == " " { line.removeLast() }
        return String(line)
    }
}
