/// A grid of character cells that chart points are drawn on.
///
/// Points are addressed in the canvas' own resolution: `columns` across, `rows` up from the
/// bottom, which may be finer than one point per character.
protocol ChartCanvas {
    var columns: Int { get }
    var rows: Int { get }

    /// Draws the points of series number `series`, in increasing x order.
    mutating func draw(_ points: [(x: Int, y: Int)], series: Int)

    /// The text rows from top to bottom, each exactly as many characters as the canvas is wide.
    func lines() -> [String]
}

/// Braille cells of 2×4 dots, with consecutive points joined by straight lines.
struct BrailleCanvas: ChartCanvas {
    let width: Int
    let height: Int
    /// Dot bits per cell, `cells[row][column]`, row 0 at the top.
    private var cells: [[UInt8]]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        cells = Array(repeating: Array(repeating: 0, count: width), count: height)
    }

    var columns: Int { width * 2 }
    var rows: Int { height * 4 }

    mutating func draw(_ points: [(x: Int, y: Int)], series: Int) {
        guard let first = points.first else { return }
        setDot(x: first.x, y: first.y)
        for (from, to) in zip(points, points.dropFirst()) {
            drawLine(from: from, to: to)
        }
    }

    func lines() -> [String] {
        cells.map { row in
            String(String.UnicodeScalarView(row.map { bits in
                bits == 0 ? " " : Unicode.Scalar(0x2800 + UInt32(bits))!
            }))
        }
    }

    /// Bresenham's line between two dots, both ends included.
    private mutating func drawLine(from: (x: Int, y: Int), to: (x: Int, y: Int)) {
        let dx = abs(to.x - from.x), dy = -abs(to.y - from.y)
        let stepX = from.x < to.x ? 1 : -1, stepY = from.y < to.y ? 1 : -1
        var (x, y) = from
        var error = dx + dy
        while true {
            setDot(x: x, y: y)
            if x == to.x && y == to.y { return }
            // Both tests use the error from before this step (testing the updated one can step
            // past the end point).
            let twice = 2 * error
            if twice >= dy { error += dy; x += stepX }
            if twice <= dx { error += dx; y += stepY }
        }
    }

    /// Sets the dot `x` from the left and `y` from the bottom.
    private mutating func setDot(x: Int, y: Int) {
        let fromTop = rows - 1 - y
        // Unicode braille numbers the dots down the left column (1, 2, 3, 7) then the right (4, 5, 6, 8).
        let bits: [[UInt8]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]
        cells[fromTop / 4][x / 2] |= bits[x % 2][fromTop % 4]
    }
}

/// One character per point, a different marker for each series; later series overwrite
/// earlier ones where they meet.
struct MarkerCanvas: ChartCanvas {
    let width: Int
    let height: Int
    let glyphs: [Character]
    /// `cells[row][column]`, row 0 at the top.
    private var cells: [[Character]]

    init(width: Int, height: Int, glyphs: [Character]) {
        self.width = width
        self.height = height
        self.glyphs = glyphs
        cells = Array(repeating: Array(repeating: " ", count: width), count: height)
    }

    var columns: Int { width }
    var rows: Int { height }

    mutating func draw(_ points: [(x: Int, y: Int)], series: Int) {
        for point in points {
            cells[height - 1 - point.y][point.x] = glyphs[series % glyphs.count]
        }
    }

    func lines() -> [String] {
        cells.map { String($0) }
    }
}
