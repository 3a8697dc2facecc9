/// Line charts of training metrics (reward, KL, clip fraction, ...) for a terminal.
///
///     reward
///     0.875 ┤         ⢀⣀⠤⠒⠊⠉
///           │   ⢀⡠⠔⠊⠁
///     0.125 ┤⠤⠊⠁
///           └──────────────────
///            1               50
///
/// Pure: returns lines, prints nothing.
public enum Chart {
    /// Renders `series` (one value per training step) as a chart `width` columns wide and
    /// `height` rows tall, plus the y-axis labels on the left and two lines below (the x axis
    /// and the first and last step numbers).
    ///
    /// - A single series is drawn as a braille line (2×4 dots per character) when `unicode`;
    ///   several series, or ASCII output, use one marker per series (`*`, `+`, `o`, ...).
    ///   Several series get a legend line at the bottom.
    /// - All series share one y axis, labelled with its minimum (bottom) and maximum (top).
    ///   A constant series is a flat line in the middle, labelled with its value.
    /// - With more steps than horizontal points, each point is the average of a bucket of steps.
    /// - `nan` and infinite values are skipped. Without any finite value the chart is the single
    ///   line "title: (no data)".
    /// - `firstStep` is the step number of each series' first value.
    /// - `width` and `height` are at least 2.
    /// - `labelWidth` pads the y labels to at least that many columns, so that charts printed one
    ///   above the other (`labelWidth(of:)` of each) put the same step in the same column.
    /// - `xEnds` labels the two ends of the x axis instead of step numbers (a chart against r).
    public static func render(
        title: String,
        series: [(name: String, values: [Double])],
        width: Int = 60,
        height: Int = 10,
        unicode: Bool = true,
        firstStep: Int = 1,
        labelWidth minimumLabelWidth: Int = 0,
        xEnds: (first: String, last: String)? = nil
    ) -> [String] {
        let width = max(width, 2), height = max(height, 2)
        let finite = series.flatMap(\.values).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else {
            return [title.isEmpty ? "(no data)" : "\(title): (no data)"]
        }
        let glyphs: [Character] = unicode ? ["•", "×", "+", "∘", "▪", "#"] : ["*", "+", "o", "x", "#", "@"]
        var canvas: any ChartCanvas = unicode && series.count == 1
            ? BrailleCanvas(width: width, height: height)
            : MarkerCanvas(width: width, height: height, glyphs: glyphs)
        let steps = series.map(\.values.count).max() ?? 0
        let scale = Scale(low: low, high: high, rows: canvas.rows)
        for (index, entry) in series.enumerated() {
            let points = sample(entry.values, steps: steps, columns: canvas.columns)
            canvas.draw(points.map { (x: $0.x, y: scale.row(of: $0.value)) }, series: index)
        }

        // Canvas rows are numbered from the bottom; text rows from the top.
        let labelRows = scale.isFlat
            ? [height - 1 - scale.row(of: low) * height / canvas.rows: label(low, low: low, high: high)]
            : [0: label(high, low: low, high: high), height - 1: label(low, low: low, high: high)]
        let labelWidth = max(labelRows.values.map(\.count).max() ?? 0, minimumLabelWidth)
        let axis = unicode
            ? (line: "│", tick: "┤", corner: "└", rule: "─")
            : (line: "|", tick: "+", corner: "+", rule: "-")
        let margin = String(repeating: " ", count: labelWidth + 1)

        var lines = title.isEmpty ? [] : [title]
        for (row, text) in canvas.lines().enumerated() {
            if let label = labelRows[row] {
                lines.append(trimmed(String(repeating: " ", count: labelWidth - label.count) + label + " " + axis.tick + text))
            } else {
                lines.append(trimmed(margin + axis.line + text))
            }
        }
        lines.append(margin + axis.corner + String(repeating: axis.rule, count: width))
        lines.append(margin + " " + (xEnds.map { ends(first: $0.first, last: $0.last, width: width) }
                                     ?? stepLabels(first: firstStep, count: steps, width: width)))
        if series.count > 1 {
            let legend = series.indices.map { "\(glyphs[$0 % glyphs.count]) \(series[$0].name)" }
            lines.append(trimmed(margin + " " + legend.joined(separator: "   ")))
        }
        return lines
    }

    /// The widest y label `render` would print for these series.
    public static func labelWidth(of series: [(name: String, values: [Double])]) -> Int {
        let finite = series.flatMap(\.values).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return 0 }
        return max(label(low, low: low, high: high).count, label(high, low: low, high: high).count)
    }

    /// An axis label: a value within a billionth of the axis span of 0 is rounding noise of a
    /// quantity that is 0 (an on-policy loss of -2.4e-17), and reads 0.
    static func label(_ x: Double, low: Double, high: Double) -> String {
        let span = max(high - low, abs(high), abs(low))
        return abs(x) < 1e-12 && abs(x) <= 1e-9 * span ? "0" : Fmt.num(x)
    }

    /// The first step number under the first column and the last one ending under the last.
    private static func stepLabels(first: Int, count: Int, width: Int) -> String {
        guard count > 1 else { return String(first) }
        return ends(first: String(first), last: String(first + count - 1), width: width)
    }

    /// Two labels at the ends of an axis `width` columns wide.
    private static func ends(first: String, last: String, width: Int) -> String {
        first + String(repeating: " ", count: max(width - first.count - last.count, 1)) + last
    }

    /// The points of one series: finite values spread over `columns` when there are at most
    /// that many steps, bucket averages otherwise. `steps` is the longest series' length, so
    /// that series of different lengths share the x axis.
    static func sample(_ values: [Double], steps: Int, columns: Int) -> [(x: Int, value: Double)] {
        if steps <= columns {
            return values.indices.filter { values[$0].isFinite }.map { index in
                let x = steps == 1 ? 0 : Int((Double(index) * Double(columns - 1) / Double(steps - 1)).rounded())
                return (x, values[index])
            }
        }
        return bucketAverages(values, steps: steps, buckets: columns).enumerated()
            .filter { $0.element.isFinite }
            .map { (x: $0.offset, value: $0.element) }
    }

    /// Splits `0..<steps` into `buckets` consecutive ranges of (nearly) equal length and returns
    /// the mean of the finite values in each, or `nan` for a bucket without any.
    static func bucketAverages(_ values: [Double], steps: Int, buckets: Int) -> [Double] {
        (0..<buckets).map { bucket in
            let range = (bucket * steps / buckets)..<min((bucket + 1) * steps / buckets, values.count)
            let finite = range.isEmpty ? [] : values[range].filter(\.isFinite)
            guard !finite.isEmpty else { return .nan }
            // Dividing first cannot overflow, even for values near Double.greatestFiniteMagnitude.
            return finite.reduce(0) { $0 + $1 / Double(finite.count) }
        }
    }

    private static func trimmed(_ line: String) -> String {
        var line = Substring(line)
        while line.last == " " { line.removeLast() }
        return String(line)
    }
}

/// Maps values in `low...high` to canvas rows `0..<rows` (0 at the bottom).
struct Scale {
    let low: Double
    let high: Double
    let rows: Int

    /// A constant series has no range to scale: everything goes on the middle row.
    var isFlat: Bool { low == high }

    func row(of value: Double) -> Int {
        if isFlat { return rows / 2 }
        let span = high - low
        // Halving avoids an infinite span when low and high are huge and of opposite signs.
        var t = span.isFinite ? (value - low) / span : (value / 2 - low / 2) / (high / 2 - low / 2)
        t = t.isNaN ? 0.5 : min(max(t, 0), 1)
        return Int((t * Double(rows - 1)).rounded())
    }
}
