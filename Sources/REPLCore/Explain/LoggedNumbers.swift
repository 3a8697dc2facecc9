import GRPO

/// What a library logged for a batch, kept in the batch file next to it so that `explain` can
/// print those numbers beside ours:
///
///     "logged": {"source": "TRL 1.16.0, step 2", "loss": -0.0123, "clip_ratio/region_mean": 0.05, "kl": 0.002}
///
/// Names are TRL's logging names (plus `loss`); every key but `source` is optional. A practitioner
/// who dumps a step of their own run records the loss and metrics the trainer logged for it, and
/// `explain` says whether our loss, computed from the same per-token numbers, agrees.
public struct LoggedNumbers: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: Double
    }

    /// Where the numbers come from (library, version, run, step), as the file says.
    public var source: String?
    /// In the file's order.
    public var entries: [Entry]

    /// The names a file may log, and how each is read from a breakdown.
    static let known: [(name: String, ours: @Sendable (Breakdown) -> Double?)] = [
        ("loss", { $0.loss }),
        ("kl", { $0.metrics.kl }),
        ("entropy", { $0.metrics.entropy }),
        ("clip_ratio/low_mean", { $0.metrics.clipRatioLow }),
        ("clip_ratio/high_mean", { $0.metrics.clipRatioHigh }),
        ("clip_ratio/region_mean", { $0.metrics.clipRatioRegion }),
        ("frac_reward_zero_std", { $0.metrics.fracRewardZeroStd }),
    ]

    /// Logged numbers are often float32 (TRL logs its metrics in float32): a difference within
    /// 1e-5 of the larger value, or 1e-8 outright, counts as agreeing.
    static func agree(_ logged: Double, _ ours: Double) -> Bool {
        abs(logged - ours) <= 1e-5 * max(abs(logged), abs(ours)) + 1e-8
    }

    /// Reads the file's `logged` object; `at` names it in messages.
    static func decode(_ value: JSONValue, at path: String) throws(InputError) -> LoggedNumbers {
        guard case .object(let object) = value else { throw InputError("\(path): expected an object, found \(value.kind)") }
        var logged = LoggedNumbers(source: nil, entries: [])
        for (key, item) in object.pairs {
            if key == "source" {
                guard case .string(let text) = item else { throw InputError("\(path).source: expected a string, found \(item.kind)") }
                logged.source = text
                continue
            }
            guard known.contains(where: { $0.name == key }) else {
                throw InputError("\(path): unknown key \"\(key)\"; logged numbers are source, "
                                 + known.map(\.name).joined(separator: ", "))
            }
            guard case .number(let x) = item else { throw InputError("\(path).\(key): expected a number, found \(item.kind)") }
            logged.entries.append(Entry(name: key, value: x))
        }
        return logged
    }

    /// Ours for one logged name; nil when the batch has no such number (e.g. kl without ref_logp).
    static func ours(_ name: String, _ b: Breakdown) -> Double? {
        known.first { $0.name == name }?.ours(b)
    }

    /// A table of logged vs ours and a one-line verdict.
    public func lines(_ b: Breakdown) -> [String] {
        var table = Table(title: "logged by \(source ?? "the library") vs ours",
                          columns: [.text("quantity"), .number("logged"), .number("ours"), .number("|difference|"), .text("")])
        var differing: [String] = [], missing: [String] = []
        for entry in entries {
            guard let ours = Self.ours(entry.name, b) else {
                table.add([entry.name, Fmt.num(entry.value, digits: 10), "-", "", "not in this batch"])
                missing.append(entry.name)
                continue
            }
            let agrees = Self.agree(entry.value, ours)
            if !agrees { differing.append(entry.name) }
            table.add([entry.name, Fmt.num(entry.value, digits: 10), Fmt.num(ours, digits: 10),
                       Fmt.num(abs(entry.value - ours), digits: 2), agrees ? "" : "DIFFERS"])
        }
        var verdict = differing.isEmpty
            ? "every logged number we have agrees with ours (to 1e-5 relative, the precision of float32 logs)"
            : "\(differing.joined(separator: ", ")) \(differing.count == 1 ? "differs" : "differ"): check that the file's config has every option the run used"
        if !missing.isEmpty {
            verdict += "; this batch has no \(missing.joined(separator: ", ")) (no ref_logp, entropy or rewards for it)"
        }
        return table.render() + [verdict]
    }

    /// For `explain --json`: per name the logged value, ours and the difference.
    public func json(_ b: Breakdown) -> JSONValue {
        var values = JSONObject()
        for entry in entries {
            let ours = Self.ours(entry.name, b)
            values[entry.name] = .object(JSONObject([
                ("logged", .number(entry.value)),
                ("ours", ours.map(JSONValue.number) ?? .null),
                ("difference", ours.map { .number(abs(entry.value - $0)) } ?? .null),
                ("agrees", .bool(ours.map { Self.agree(entry.value, $0) } ?? false)),
            ]))
        }
        return .object(JSONObject([("source", source.map(JSONValue.string) ?? .null), ("values", .object(values))]))
    }
}
