/// ANSI bold and colors, or nothing at all.
///
/// A disabled style returns its input unchanged, so callers can style unconditionally.
/// Every helper switches its attribute off with the matching code (not a full reset), so
/// styles nest: `style.bold(style.red("x") + " y")` keeps " y" bold.
public struct Style: Sendable {
    /// Whether escape sequences are emitted.
    public let enabled: Bool

    public init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Colors only for a terminal, and never when `NO_COLOR` is set to a non-empty value
    /// (https://no-color.org) or `TERM` is `dumb`.
    public static func detect(isTerminal: Bool, environment: [String: String]) -> Style {
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let dumb = environment["TERM"] == "dumb"
        return Style(enabled: isTerminal && !noColor && !dumb)
    }

    public func bold(_ text: String) -> String { wrap(text, on: "1", off: "22") }
    public func dim(_ text: String) -> String { wrap(text, on: "2", off: "22") }
    public func red(_ text: String) -> String { wrap(text, on: "31", off: "39") }
    public func green(_ text: String) -> String { wrap(text, on: "32", off: "39") }
    public func yellow(_ text: String) -> String { wrap(text, on: "33", off: "39") }
    public func blue(_ text: String) -> String { wrap(text, on: "34", off: "39") }
    public func magenta(_ text: String) -> String { wrap(text, on: "35", off: "39") }
    public func cyan(_ text: String) -> String { wrap(text, on: "36", off: "39") }

    private func wrap(_ text: String, on: String, off: String) -> String {
        enabled ? "\u{1B}[\(on)m\(text)\u{1B}[\(off)m" : text
    }
}
