extension Chart {
    /// A one-line chart, one block per value from `▁` (minimum) to `█` (maximum):
    /// `Chart.sparkline([1, 2, 3, 4])` is `"▁▃▆█"`.
    ///
    /// A constant series is all `▄`; `nan` and infinite values are spaces. With `width` and more
    /// values than that, each block is the average of a bucket of consecutive values.
    public static func sparkline(_ values: [Double], width: Int? = nil) -> String {
        let values = width.map { values.count > $0 ? bucketAverages(values, steps: values.count, buckets: max($0, 1)) : values } ?? values
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else {
            return String(repeating: " ", count: values.count)
        }
        let scale = Scale(low: low, high: high, rows: blocks.count)
        return String(values.map { value in
            guard value.isFinite else { return " " }
            return scale.isFlat ? "▄" : blocks[scale.row(of: value)]
        })
    }
}
