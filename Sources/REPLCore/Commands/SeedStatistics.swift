/// The mean, sample standard deviation, range and 95% interval of the mean (Student's t) of a
/// few runs' numbers; nil for fewer than two.
struct SeedStatistics {
    let mean: Double, sd: Double, min: Double, max: Double, halfWidth: Double

    init?(_ xs: [Double]) {
        guard xs.count >= 2 else { return nil }
        let n = Double(xs.count)
        let m = xs.reduce(0, +) / n
        mean = m
        sd = (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)).squareRoot()
        min = xs.min()!
        max = xs.max()!
        halfWidth = Self.t975(degreesOfFreedom: xs.count - 1) * sd / n.squareRoot()
    }

    var intervalText: String { "[\(Fmt.num(mean - halfWidth)), \(Fmt.num(mean + halfWidth))]" }

    /// Student's t at 0.975 (two-sided 95%) for `df` degrees of freedom: the table's values up
    /// to 30; past it the value at the lower end of each range (30, 40, 60, 120), which errs
    /// towards a wider interval.
    static func t975(degreesOfFreedom df: Int) -> Double {
        let table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                     2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        if df >= 1 && df <= 30 { return table[df - 1] }
        if df <= 40 { return 2.042 }
        if df <= 60 { return 2.021 }
        if df <= 120 { return 2.000 }
        return 1.980
    }
}
