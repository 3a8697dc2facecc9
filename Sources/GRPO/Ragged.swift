/// Rows of different lengths stored back to back: row i is `values[offsets[i] ..< offsets[i+1]]`.
/// Both loss paths store per-token quantities this way, one row per completion.
public struct Ragged<Element: Sendable>: Sendable {
    public var values: [Element]
    /// `rowCount + 1` offsets, starting at 0.
    public var offsets: [Int]

    public init(values: [Element], offsets: [Int]) {
        precondition(offsets.first == 0 && offsets.last == values.count, "offsets must span values")
        self.values = values
        self.offsets = offsets
    }

    /// Rows of `repeating` with the lengths of `lengths`.
    public init(repeating value: Element, lengths: [Int]) {
        var offsets = [0]
        offsets.reserveCapacity(lengths.count + 1)
        for n in lengths { offsets.append(offsets.last! + n) }
        self.init(values: Array(repeating: value, count: offsets.last!), offsets: offsets)
    }

    public var rowCount: Int { offsets.count - 1 }
    public subscript(row: Int) -> ArraySlice<Element> { values[offsets[row]..<offsets[row + 1]] }
    public subscript(row: Int, token: Int) -> Element {
        get { values[offsets[row] + token] }
        set { values[offsets[row] + token] = newValue }
    }
    public var rows: [[Element]] { (0..<rowCount).map { Array(self[$0]) } }
    /// The same rows with `transform` applied to every value.
    public func map<T>(_ transform: (Element) -> T) -> Ragged<T> {
        Ragged<T>(values: values.map(transform), offsets: offsets)
    }
}

extension Ragged: Equatable where Element: Equatable {}
