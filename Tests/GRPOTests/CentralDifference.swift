/// A central difference with its own error bound, derived for the quantity at hand instead of
/// a fixed 1e-6 * max(1, |g|) (about four orders looser than the method needs):
///
///     f'(x) ~ D = (f(x + h) - f(x - h)) / 2h
///     |D - f'(x)| <= h^2 |f'''| / 6          (truncation; f''' from the same f at x +- 2h:
///                                             (f(2h) - 2 f(h) + 2 f(-h) - f(-2h)) / 2h^3)
///                  + 2 e / 2h                 (rounding: each evaluation off by up to e, the
///                                             loss's own rounding bound, `Breakdown.lossRoundingBound`)
///
/// `tolerance` is that bound, doubled for the error in the f''' estimate itself. Near a kink
/// (a clip end, a mask threshold) f''' is not small and the bound widens on its own, but the
/// tests still skip kinks, where no derivative exists.
struct CentralDifference {
    let value: Double
    let tolerance: Double

    /// `f(shift)` is the quantity with the input moved by `shift`; `rounding` bounds the error of
    /// one evaluation of it.
    init(h: Double, rounding: Double, _ f: (Double) throws -> Double) rethrows {
        let up = try f(h), down = try f(-h), up2 = try f(2 * h), down2 = try f(-2 * h)
        value = (up - down) / (2 * h)
        let third = abs(up2 - 2 * up + 2 * down - down2) / (2 * h * h * h)
        tolerance = 2 * (h * h * third / 6 + rounding / h)
    }

    /// True when `analytic` is within the bound, allowing a few ulps of `analytic`'s own rounding.
    func agrees(with analytic: Double) -> Bool {
        abs(analytic - value) <= tolerance + 8 * analytic.magnitude.ulp
    }
}
