import Testing
import REPLCore

@Suite("Fmt.num and Fmt.column")
struct FormatNumberTests {
    @Test("significant digits, trailing zeros dropped", arguments: [
        (0.1234567, "0.1235"),
        (-0.5, "-0.5"),
        (1.0, "1"),
        (100.0, "100"),
        (123456.0, "123456"),
        (9.99995, "10"),
        (0.0001234, "0.0001234"),
    ])
    func fixed(value: Double, expected: String) {
        #expect(Fmt.num(value) == expected)
    }

    @Test("scientific notation for very large and very small magnitudes", arguments: [
        (1e-9, "1e-09"),
        (12345678.0, "1.235e+07"),
        (-1e300, "-1e+300"),
        (0.00001234, "1.234e-05"),
    ])
    func scientific(value: Double, expected: String) {
        #expect(Fmt.num(value) == expected)
    }

    @Test func specialValues() {
        #expect(Fmt.num(.infinity) == "inf")
        #expect(Fmt.num(-.infinity) == "-inf")
        #expect(Fmt.num(.nan) == "nan")
        #expect(Fmt.num(-0.0) == "0")
        #expect(Fmt.num(0) == "0")
    }

    @Test func digits() {
        #expect(Fmt.num(.pi, digits: 2) == "3.1")
        #expect(Fmt.num(.pi, digits: 8) == "3.1415927")
        #expect(Fmt.num(123456789, digits: 10) == "123456789")
        #expect(Fmt.num(2.0 / 3.0, digits: 0) == "0.7")
    }

    @Test func columnAlignsMixedSignsOnThePoint() {
        #expect(Fmt.column([1.5, -0.25, 10]) == [" 1.5 ", "-0.25", "10   "])
    }

    @Test func columnPutsNonNumbersFlushRight() {
        #expect(Fmt.column([0.5, .nan, -.infinity, 1e-9]) == ["0.5  ", "  nan", " -inf", "1e-09"])
        #expect(Fmt.column([]) == [])
    }

    @Test func alignDecimalOfEqualWidths() {
        let cells = Fmt.alignDecimal(["-12.5", "3", "0.125"])
        #expect(cells == ["-12.5  ", "  3    ", "  0.125"])
    }

    @Test("fit wraps prose wider than the terminal at spaces, and an aligned line that is no table's (a chart's legend) too")
    func fitToWidth() {
        let prose = "it runs in a fresh session (default options, no run); yours comes back when it ends"
        let legend = "• pi/pi_old min   × pi/pi_old max   + pi/pi_sampler min   ∘ pi/pi_sampler max"
        #expect(Fmt.fit([prose, legend, "short"], width: 40)
                == ["it runs in a fresh session (default", "  options, no run); yours comes back", "  when it ends",
                    "• pi/pi_old min × pi/pi_old max +", "  pi/pi_sampler min ∘ pi/pi_sampler max", "short"])
    }
}
