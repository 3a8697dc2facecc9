import Testing
import REPLCore

@Suite("Table")
struct FormatTableTests {
    private func advantages() -> Table {
        var table = Table(title: "A_i = (r_i - mean) / std", columns: [.text("i"), .number("A_i"), .text("text")])
        table.add(["0", Fmt.num(0.87), "yes"])
        table.add(["1", Fmt.num(-0.87), "no"])
        table.add(["2", Fmt.num(.nan)])
        return table
    }

    @Test func rendersTitleHeaderRuleAndRows() {
        #expect(advantages().render() == [
            "A_i = (r_i - mean) / std",
            "i    A_i  text",
            "-  -----  ----",
            "0   0.87  yes",
            "1  -0.87  no",
            "2    nan",
        ])
    }

    @Test func truncatesWithNote() {
        let lines = advantages().render(maxRows: 1) { "... \($0) more rows (type 'all' to see every row)" }
        #expect(lines == [
            "A_i = (r_i - mean) / std",
            "i   A_i  text",
            "-  ----  ----",
            "0  0.87  yes",
            "... 2 more rows (type 'all' to see every row)",
        ])
        #expect(advantages().render(maxRows: 2).last == "... 1 more row")
        #expect(advantages().render(maxRows: 3) == advantages().render())
    }

    @Test func groupBreaksBetweenRowsOnly() {
        var table = Table(columns: [.number("g"), Table.Column("name", .right)])
        table.addGroupBreak()
        table.add(["0", "a"])
        table.addGroupBreak()
        table.addGroupBreak()
        table.add(["1", "bb"])
        table.addGroupBreak()
        #expect(table.rowCount == 2)
        #expect(table.render() == [
            "g  name",
            "-  ----",
            "0     a",
            "-  ----",
            "1    bb",
        ])
        #expect(table.render(maxRows: 1) == ["g  name", "-  ----", "0     a", "... 1 more row"])
    }

    @Test func emptyTableIsHeaderAndRule() {
        #expect(Table(columns: [.text("a"), .text("b")]).render() == ["a  b", "-  -"])
    }

    @Test func noLineEndsWithASpace() {
        var table = Table(title: "t", columns: [.text("long header"), .text("x")])
        table.add(["", ""])
        table.add(["a", ""])
        for line in table.render() {
            #expect(line.last != " ")
        }
    }
}
