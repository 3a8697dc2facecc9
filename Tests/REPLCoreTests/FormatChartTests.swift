import Testing
@testable import REPLCore

@Suite("Chart")
struct FormatChartTests {
    @Test func asciiChartExactly() {
        let lines = Chart.render(title: "loss", series: [("loss", [0, 1, 2, 3])], width: 4, height: 4, unicode: false)
        #expect(lines == [
            "loss",
            "3 +   *",
            "  |  *",
            "  | *",
            "0 +*",
            "  +----",
            "   1  4",
        ])
    }

    @Test func unicodeDimensions() {
        let rewards = (0..<500).map { Double($0 % 7) / 7 }
        let lines = Chart.render(title: "reward", series: [("reward", rewards)], width: 60, height: 10)
        #expect(lines.count == 1 + 10 + 2)
        #expect(lines[0] == "reward")
        #expect(lines[1].hasPrefix("0.8571 ┤"))
        #expect(lines[10].hasPrefix("     0 ┤"))
        #expect(lines[11] == "       └" + String(repeating: "─", count: 60))
        #expect(lines[12] == "        1" + String(repeating: " ", count: 56) + "500")
        for line in lines[1...10] {
            #expect(line.count <= 8 + 60)
            #expect(line.last != " ")
            #expect(line.dropFirst(8).allSatisfy { $0 == " " || (0x2800...0x28FF).contains($0.unicodeScalars.first!.value) })
        }
    }

    @Test func severalSeriesGetMarkersAndALegend() {
        let lines = Chart.render(
            title: "", series: [("kl", [0, 1]), ("entropy", [1, 0])], width: 2, height: 2, unicode: false, firstStep: 0)
        #expect(lines == [
            "1 ++*",
            "0 +*+",
            "  +--",
            "   0 1",
            "   * kl   + entropy",
        ])
    }

    @Test func constantSeriesIsAFlatLabelledLine() {
        let lines = Chart.render(title: "c", series: [("c", [0.5, 0.5, .nan, 0.5])], width: 4, height: 4, unicode: false)
        #expect(lines == [
            "c",
            "    |",
            "0.5 +** *",
            "    |",
            "    |",
            "    +----",
            "     1  4",
        ])
    }

    @Test func skipsNonFiniteValues() {
        let lines = Chart.render(title: "", series: [("x", [.nan, 2, .infinity, 4])], width: 4, height: 2, unicode: false)
        #expect(lines == ["4 +   *", "2 + *", "  +----", "   1  4"])
    }

    @Test func downsamplesByAveragingBuckets() {
        // Buckets of two steps: means 0.5, 2.5, 4.5 on an axis from 0 to 5 (the data's range).
        let lines = Chart.render(title: "", series: [("x", [0, 1, 2, 3, 4, 5])], width: 3, height: 5, unicode: false)
        #expect(lines == ["5 +  *", "  |", "  | *", "  |", "0 +*", "  +---", "   1 6"])
    }

    @Test func emptyInput() {
        #expect(Chart.render(title: "reward", series: []) == ["reward: (no data)"])
        #expect(Chart.render(title: "reward", series: [("r", [])]) == ["reward: (no data)"])
        #expect(Chart.render(title: "", series: [("r", [.nan])]) == ["(no data)"])
    }

    @Test func sparkline() {
        #expect(Chart.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█")
        #expect(Chart.sparkline([1, .nan, 3]) == "▁ █")
        #expect(Chart.sparkline([2, 2, 2]) == "▄▄▄")
        #expect(Chart.sparkline([]) == "")
        #expect(Chart.sparkline([0, 0, 7, 7], width: 2) == "▁█")
    }
}

@Suite("Chart lines between any two points")
struct ChartLineTests {
    /// Bresenham's line must end exactly at its end point: series of every length and height up
    /// to the canvas' size draw without leaving the canvas.
    @Test("every length and height draws inside the canvas")
    func anyShape() {
        for n in 2..<130 {
            for height in [2, 3, 7, 10] {
                let values = (0..<n).map { Double(($0 * 7919) % 13) / 13.0 }
                let lines = Chart.render(title: "t", series: [("a", values)], width: 60, height: height)
                #expect(lines.count == height + 3)
            }
        }
    }

    @Test("charts stacked with one label width put the axis in the same column; rounding noise at 0 reads 0")
    func stackedAndNoise() {
        let loss: [(name: String, values: [Double])] = [("loss", [-2.4e-17, 0.5, 1.25])]
        let reward: [(name: String, values: [Double])] = [("reward", [0.1, 0.123456, 0.9])]
        let width = max(Chart.labelWidth(of: loss), Chart.labelWidth(of: reward))
        #expect(width == 4)  // the labels are each chart's min and max: "0" and "1.25", "0.1" and "0.9"
        let a = Chart.render(title: "loss", series: loss, width: 10, height: 3, labelWidth: width)
        let b = Chart.render(title: "reward", series: reward, width: 10, height: 3, labelWidth: width)
        let axisColumn = { (lines: [String]) in lines.first { $0.contains("┤") }!.firstIndex(of: "┤")!.utf16Offset(in: lines.first { $0.contains("┤") }!) }
        #expect(axisColumn(a) == axisColumn(b))
        #expect(a.contains { $0.hasPrefix("   0 ┤") } && b.contains { $0.hasPrefix(" 0.1 ┤") }, "\(a) \(b)")
        #expect(Chart.label(-2.4e-17, low: -2.4e-17, high: 1.25) == "0" && Chart.label(1e-6, low: 1e-6, high: 2) == "1e-06")
    }
}
