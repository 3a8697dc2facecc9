extension Fmt {
    /// Formats a column of numbers with `num(_:digits:)` and aligns them on the decimal point.
    ///
    /// All strings have the same width; integer parts are padded on the left and fractions on
    /// the right with spaces, so negatives line up with positives:
    ///
    ///     Fmt.column([1.5, -0.25, 10])  // [" 1.5 ", "-0.25", "10   "]
    public static func column(_ values: [Double], digits: Int = 4) -> [String] {
        alignDecimal(values.map { num($0, digits: digits) })
    }

    /// Aligns already formatted numbers on their decimal point (or exponent), padding with
    /// spaces to a common width. Integers end where the others' points are; cells without
    /// digits, such as `nan` or `-inf`, are flush right.
    public static func alignDecimal(_ cells: [String]) -> [String] {
        let fractions = cells.map(fraction)
        let fractionWidth = fractions.compactMap { $0?.count }.max() ?? 0
        // Pad every fraction to the same width; then right-aligning everything aligns the points.
        let padded = zip(cells, fractions).map { cell, fraction in
            guard let fraction else { return cell }
            return cell + String(repeating: " ", count: fractionWidth - fraction.count)
        }
        let width = padded.map(\.count).max() ?? 0
        return padded.map { String(repeating: " ", count: width - $0.count) + $0 }
    }

    /// The part of a formatted number from its decimal point or exponent on ("" for an
    /// integer), or `nil` for a cell without digits.
    private static func fraction(of cell: String) -> Substring? {
        guard cell.contains(where: \.isNumber) else { return nil }
        return cell[(cell.firstIndex { $0 == "." || $0 == "e" } ?? cell.endIndex)...]
    }
}
