extension Fmt {
    /// The widest line the REPL's prose (help, notes under tables) is wrapped to.
    public static let lineWidth = 150

    /// `line` with every control character but the tab shown as "?": text a batch or session
    /// file brought (a key, a `logged.source`) may hold escape sequences that would retitle the
    /// window, clear the screen or write the clipboard (OSC 52), or a NUL; C1 controls too.
    public static func printable(_ line: String) -> String {
        guard line.unicodeScalars.contains(where: { $0 != "\t" && Interpreter.isControl($0) }) else { return line }
        return String(line.unicodeScalars.map { $0 != "\t" && Interpreter.isControl($0) ? "?" : Character($0) })
    }

    /// What a terminal `width` columns wide shows of `lines`: tables fitted (`fitTables`), then
    /// every line still longer than `width` wrapped at spaces, each piece keeping the line's own
    /// indentation (continuations two more; a run of spaces inside, such as a chart's legend,
    /// becomes one).
    public static func fit(_ lines: [String], width: Int) -> [String] {
        fitTables(lines, width: width).flatMap { line -> [String] in
            guard line.count > width else { return [line] }
            let spaces = String(line.prefix { $0 == " " })
            // An indentation that leaves fewer than 20 columns is given up.
            let leading = width - spaces.count >= 20 ? spaces : ""
            return wrap(String(line.dropFirst(spaces.count)), width: width - leading.count, indent: "  ").map { leading + $0 }
        }
    }

    /// Splits `text` at spaces into lines of at most `width` characters (a single longer word
    /// stays whole on its own line); every line after the first starts with `indent`. Text that
    /// fits is returned as it is.
    ///
    ///     Fmt.wrap("a b c d", width: 5, indent: "  ")  // ["a b c", "  d"]

    public static func wrap(_ text: String, width: Int = lineWidth, indent: String = "") -> [String] {
        guard text.count > width else { return [text] }
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = indent + word
            }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// `text` wrapped to `width` with every line indented by two (continuations by four): a
    /// note under another line that still fits the terminal.
    public static func indented(_ text: String, width: Int) -> [String] {
        wrap(text, width: width - 2, indent: "  ").map { "  " + $0 }
    }
}
