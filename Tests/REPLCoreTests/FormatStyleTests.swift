import Testing
import REPLCore

@Suite("Style and Fmt.closest")
struct FormatStyleTests {
    @Test func disabledStyleIsIdentity() {
        let style = Style(enabled: false)
        #expect(style.bold("x") == "x")
        #expect(style.red("x") == "x")
    }

    @Test func enabledStyleWrapsInEscapes() {
        let style = Style(enabled: true)
        #expect(style.bold("x") == "\u{1B}[1mx\u{1B}[22m")
        #expect(style.green("ok") == "\u{1B}[32mok\u{1B}[39m")
    }

    @Test func detect() {
        #expect(Style.detect(isTerminal: true, environment: [:]).enabled)
        #expect(!Style.detect(isTerminal: false, environment: [:]).enabled)
        #expect(!Style.detect(isTerminal: true, environment: ["NO_COLOR": "1"]).enabled)
        #expect(Style.detect(isTerminal: true, environment: ["NO_COLOR": ""]).enabled)
        #expect(!Style.detect(isTerminal: true, environment: ["TERM": "dumb"]).enabled)
    }

    @Test("did you mean", arguments: [
        ("trian", "train"),
        ("hlep", "help"),
        ("los", "loss"),
        ("QUIT", "quit"),
        ("exitt", "exit"),
        ("sohw", "show"),
    ])
    func closest(word: String, expected: String) {
        #expect(Fmt.closest(word, in: ["train", "help", "loss", "quit", "exit", "show"]) == expected)
    }

    @Test func nothingCloseEnough() {
        let commands = ["train", "help", "loss", "quit"]
        #expect(Fmt.closest("xyz", in: commands) == nil)
        #expect(Fmt.closest("plot", in: commands) == nil)
        #expect(Fmt.closest("", in: commands) == nil)
        #expect(Fmt.closest("train", in: []) == nil)
    }

    @Test func tiesGoToTheFirstCandidate() {
        #expect(Fmt.closest("kx", in: ["kl", "kv"]) == "kl")
    }
}
