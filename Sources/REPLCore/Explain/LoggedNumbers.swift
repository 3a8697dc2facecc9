#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRPO

/// What a library logged for a batch, kept in the batch file next to it so that `explain` can
/// print those numbers beside ours:
///
///     "logged": {"source": "TRL 1.16.0, step 2", "loss": -0.0123, "clip_ratio/region_mean": 0.05, "kl": 0.002}
///
/// Names are TRL's logging names (plus `loss`), or verl's for a file with a `"verl"` object
/// (`OurNumbers`); every key but `source` is optional. A practitioner
/// who dumps a step of their own run records the loss and metrics the trainer logged for it, and
/// `explain` says whether our loss, computed from the same per-token numbers, agrees.
public struct LoggedNumbers: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: Double
        /// The text the number was logged as, when the file gave it as text (a console line's
        /// `'3.683'`): its significant digits are what agreement is judged by.
        public var text: String? = nil
    }

    /// Where the numbers come from (library, version, run, step), as the file says.
    public var source: String?
    /// The numbers we also compute, in the file's order.
    public var entries: [Entry]
    /// Other keys of the file's `logged` object (a whole log line pasted in: `reward`,
    /// `grad_norm`, ...): kept to say they were not compared.
    public var ignored: [String] = []

    /// The names a file may log, and how each is read from a breakdown: the loss and every
    /// metric under TRL's name (`Metrics.names`).
    static let known: [(name: String, ours: @Sendable (Breakdown) -> Double?)] = {
        var known: [(name: String, ours: @Sendable (Breakdown) -> Double?)] = [("loss", { @Sendable b in b.loss })]
        for (name, path) in Metrics.names { known.append((name, { @Sendable b in b.metrics[keyPath: path] })) }
        return known
    }()

    /// How a logged number compares with ours.
    enum Verdict: Equatable {
        case agrees
        /// Within the rounding of the digits the number was logged with (e.g. a console's -0.088).
        case agreesToDigits(Int)
        case differs
        /// We have no such number for this batch (kl without ref_logp, ...).
        case missing
    }

    /// Logged numbers are often float32 (TRL logs its metrics in float32): a difference within
    /// 1e-5 of the larger value, or 1e-8 outright, counts as agreeing. So does one within half a
    /// unit of the last digit the number was written with:
    ///
    ///     a JSON number    its shortest decimal form, but never more than half of 1e-4: a
    ///                      trainer's log rounds to 4 decimals (`round(x, 4)`), and "-0.09" may
    ///                      be "-0.0900", whose zeros the parsed number has lost
    ///     text ('3.683')   at least 4 significant digits: transformers prints a console line's
    ///                      floats with `%.4g`, which drops trailing zeros ("0.09" was 0.09000)
    static func verdict(_ logged: Double, _ ours: Double?, text: String? = nil) -> Verdict {
        guard let ours else { return .missing }
        let difference = abs(logged - ours)
        // An inf or NaN on either side agrees only with the same value.
        guard difference.isFinite else { return logged == ours || (logged.isNaN && ours.isNaN) ? .agrees : .differs }
        if difference <= 1e-5 * max(abs(logged), abs(ours)) + 1e-8 { return .agrees }
        if text != nil {
            if let (digits, unit) = printedPrecision(logged, minimumDigits: 4), difference <= unit / 2 { return .agreesToDigits(digits) }
            return .differs
        }
        if let (digits, unit) = writtenPrecision(logged), difference <= min(unit, 1e-4) / 2 { return .agreesToDigits(digits) }
        return .differs
    }

    /// The precision of a number printed with at least `minimumDigits` significant digits:
    /// that many, or more when its shortest form has more; the value of the last one.
    static func printedPrecision(_ x: Double, minimumDigits: Int) -> (digits: Int, unit: Double)? {
        guard x.isFinite, x != 0 else { return nil }
        let digits = max(minimumDigits, writtenPrecision(x)?.digits ?? 0)
        let exponent = Int(log10(abs(x)).rounded(.down))
        return (digits, pow(10, Double(exponent - digits + 1)))
    }

    static func agree(_ logged: Double, _ ours: Double, text: String? = nil) -> Bool {
        switch verdict(logged, ours, text: text) {
        case .agrees, .agreesToDigits: true
        case .differs, .missing: false
        }
    }

    /// The significant digits of a number's shortest decimal form and the value of its last one
    /// (-0.088: 2 digits, 0.001); nil for whole numbers, whose precision cannot be told (0 may
    /// be exact or a rounded 0.0000).
    static func writtenPrecision(_ x: Double) -> (digits: Int, unit: Double)? {
        guard x.isFinite, x != x.rounded() else { return nil }
        let text = "\(abs(x))"  // Swift prints the shortest form that reads back as x
        let parts = text.split(separator: "e")
        let mantissa = parts[0], exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let fraction = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let decimals = fraction.count > 1 ? fraction[1].count : 0
        let digits = mantissa.filter(\.isNumber).drop { $0 == "0" }.count
        return (max(digits, 1), pow(10, Double(exponent - decimals)))
    }

    /// Reads the file's `logged` object; `at` names it in messages; `names` are the numbers we
    /// compute under the file's library's names (TRL's unless the file is verl's).
    /// The object may also be a console log line, as a string (`ConsoleLogLine`); a value may be
    /// a number or the text of one.
    static func decode(_ value: JSONValue, at path: String, names: [String] = known.map(\.name)) throws(InputError) -> LoggedNumbers {
        let pairs: [(key: String, value: JSONValue)]
        switch value {
        case .object(let object): pairs = object.pairs.map { ($0.0, $0.1) }
        case .string(let line): pairs = try ConsoleLogLine.pairs(line, at: path)
        default: throw InputError("\(path): expected an object or a console log line, found \(value.kind)")
        }
        var logged = LoggedNumbers(source: nil, entries: [])
        for (key, item) in pairs {
            if key == "source" {
                guard case .string(let text) = item else { throw InputError("\(path).source: expected a string, found \(item.kind)") }
                logged.source = text
                continue
            }
            guard names.contains(key) else {
                logged.ignored.append(key)
                continue
            }
            switch item {
            case .number(let x): logged.entries.append(Entry(name: key, value: x))
            case .string(let text):
                guard let x = ConsoleLogLine.number(text) else {
                    throw InputError("\(path).\(key): expected a number or its text, found '\(text)'")
                }
                logged.entries.append(Entry(name: key, value: x, text: text))
            default: throw InputError("\(path).\(key): expected a number, found \(item.kind)")
            }
        }
        return logged
    }

    /// Ours for one logged name; nil when the batch has no such number (e.g. kl without ref_logp).
    static func ours(_ name: String, _ b: Breakdown) -> Double? {
        known.first { $0.name == name }?.ours(b)
    }

    /// A table of logged vs ours and a one-line verdict.
    public func lines(_ b: Breakdown) -> [String] { lines(OurNumbers.trl(b)) }

    /// A table of logged vs ours (under the library's names `ours` knows) and a one-line verdict.
    public func lines(_ numbers: OurNumbers) -> [String] {
        let title = "logged by \(source ?? "the library") vs ours"
        let notCompared = ignored.isEmpty ? [] : ["not compared (we do not compute them): \(ignored.joined(separator: ", "))"]
        guard !entries.isEmpty else {
            // The rejection metrics, one per option and statistic, as one pattern each.
            var shown: [String] = []
            for name in numbers.names {
                let short = name.contains("rollout_rs_") ? String(name[..<name.range(of: "rollout_rs_")!.upperBound]) + "*" : name
                if !shown.contains(short) { shown.append(short) }
            }
            return [title + ": nothing to compare; logged numbers we compute are " + shown.joined(separator: ", ")]
                + notCompared
        }
        var table = Table(title: title,
                          columns: [.text("quantity"), .number("logged"), .number("ours"), .number("|difference|"), .text("verdict")])
        var differing: [String] = [], missing: [String] = []
        for entry in entries {
            let ours = numbers.value(entry.name)
            let note: String
            switch Self.verdict(entry.value, ours, text: entry.text) {
            case .agrees: note = ""
            case .agreesToDigits(let digits): note = "(to the \(digits) digit\(digits == 1 ? "" : "s") logged)"
            case .differs: note = "DIFFERS"; differing.append(entry.name)
            case .missing: note = "not in this batch"; missing.append(entry.name)
            }
            table.add([entry.name, entry.text ?? Fmt.num(entry.value, digits: 10), ours.map { Fmt.num($0, digits: 10) } ?? "-",
                       ours.map { Fmt.num(abs(entry.value - $0), digits: 2) } ?? "", note])
        }
        var verdict = differing.isEmpty
            ? "every logged number we have agrees with ours (to 1e-5 relative, the precision of float32 logs, or to the digits logged)"
            : "\(differing.joined(separator: ", ")) \(differing.count == 1 ? "differs" : "differ"): check that the file's \(numbers.optionsName) has every option the run used"
                + (differing.contains("loss") ? ", and that the logged loss is this batch's own" + numbers.lossHint : "")
        if !missing.isEmpty {
            verdict += "; this batch has no \(missing.joined(separator: ", ")) (\(numbers.missingReason))"
        }
        return table.render() + [verdict] + notCompared
    }

    /// True when some logged number differs from ours (`explain --check` exits 1 then).
    public func hasDifferences(_ numbers: OurNumbers) -> Bool {
        entries.contains { Self.verdict($0.value, numbers.value($0.name), text: $0.text) == .differs }
    }

    /// For `explain --json`: per name the logged value, ours and the difference.
    public func json(_ numbers: OurNumbers) -> JSONValue {
        var values = JSONObject()
        for entry in entries {
            let ours = numbers.value(entry.name)
            values[entry.name] = .object(JSONObject([
                ("logged", .number(entry.value)),
                ("ours", ours.map(JSONValue.number) ?? .null),
                ("difference", ours.map { .number(abs(entry.value - $0)) } ?? .null),
                ("agrees", ours.map { .bool(Self.agree(entry.value, $0, text: entry.text)) } ?? .null),
            ]))
        }
        return .object(JSONObject([("source", source.map(JSONValue.string) ?? .null), ("values", .object(values)),
                                   ("not_compared", .array(ignored.map(JSONValue.string)))]))
    }
}

/// Our numbers for a batch under one library's logging names: TRL's (`loss` and `Metrics.names`)
/// or verl's (`loss` and `VerlMetrics`).
public struct OurNumbers {
    /// Every name we compute under this library's vocabulary.
    public let names: [String]
    /// What the file's options are called, why a number we know may be missing, and what to
    /// check when the loss differs, in this library's terms.
    let optionsName: String, missingReason: String, lossHint: String
    /// Ours for a name; nil when this batch has no such number.
    public let value: (String) -> Double?

    public static func trl(_ b: Breakdown) -> OurNumbers {
        OurNumbers(names: LoggedNumbers.known.map(\.name), optionsName: "config",
                   missingReason: "no ref_logp, entropy or rewards for it",
                   lossHint: " (TRL scales it for gradient accumulation; lesson 13)") { LoggedNumbers.ours($0, b) }
    }

    /// verl's names; `kl_loss` and `kl_coef` as `ppo_loss` returns them are the trainer's
    /// `actor/kl_loss` and `actor/kl_coef`.
    public static func verl(_ b: Breakdown, batch: Batch, options: VerlOptions) -> OurNumbers {
        let metrics = [("loss", b.loss)] + VerlMetrics.metrics(b, batch: batch, options: options).map { ($0.name, $0.value) }
        let values = Dictionary(uniqueKeysWithValues: metrics)
        return OurNumbers(names: verlNames, optionsName: "\"verl\" object",
                          missingReason: "its verl options do not compute it: actor/kl_loss needs use_kl_loss, actor/entropy_loss "
                              + "entropy_coeff or calculate_entropy, rollout_corr/* sampler_logp and the rollout_is or rollout_rs that logs it",
                          lossHint: " (one mini-batch on one GPU: verl's global batch is this file's tokens and completions)") {
            values[$0] ?? values["actor/" + $0]
        }
    }

    /// The names a verl file may log that we compute.
    public static let verlNames = ["loss"] + VerlMetrics.names + ["kl_loss", "kl_coef"]
}
