/// The builders of `GRPOConfig.options`: one per kind of value, each parsing text, checking the
/// range and naming the key and what it accepts when it refuses.

fileprivate func parseNumber(_ key: String, _ text: String) throws(ConfigError) -> Double {
    guard let x = Double(decimalText: text.trimmingWhitespace), x.isFinite else {
        throw ConfigError("\(key) must be a finite number, not '\(text)'")
    }
    return x
}

fileprivate func format(_ x: Double) -> String { x.optionText }

extension Double {
    /// A number written in decimal ("0.2", "-3", "1e-06"): Swift's own reader also takes hex
    /// ("0x10"), "nan" and "inf", which no option value should be.
    public init?(decimalText text: String) {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
              let x = Double(text) else { return nil }
        self = x
    }

    /// The number as an option value is written: 1 (not 1.0), 0.28, 1e-06; round-trips exactly.
    public var optionText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)"
    }
}

fileprivate func rangeText(_ lo: Double, _ hi: Double, lowerOpen: Bool, upperOpen: Bool) -> String {
    "a number in \(lowerOpen ? "(" : "[")\(format(lo)), \(format(hi))\(upperOpen ? ")" : "]")"
}

fileprivate func check(_ key: String, _ x: Double, _ lo: Double, _ hi: Double,
                   lowerOpen: Bool, upperOpen: Bool) throws(ConfigError) {
    let tooLow = lowerOpen ? x <= lo : x < lo
    let tooHigh = upperOpen ? x >= hi : x > hi
    if tooLow || tooHigh {
        throw ConfigError("\(key) must be \(rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen)), not \(format(x))")
    }
}

extension ConfigOption {
    static func number(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Double> & Sendable,
                        _ lo: Double, _ hi: Double, lowerOpen: Bool = false, upperOpen: Bool = false) -> ConfigOption {
        ConfigOption(
            key: key, kind: .number, summary: summary,
            accepted: rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen), suggestions: [],
            get: { format($0[keyPath: path]) },
            apply: { config, text throws(ConfigError) in
                let x = try parseNumber(key, text)
                try check(key, x, lo, hi, lowerOpen: lowerOpen, upperOpen: upperOpen)
                config[keyPath: path] = x
            })
    }

    static func optionalNumber(_ key: String, _ summary: String,
                                _ path: WritableKeyPath<GRPOConfig, Double?> & Sendable,
                                _ lo: Double, _ hi: Double, lowerOpen: Bool = false) -> ConfigOption {
        ConfigOption(
            key: key, kind: .optionalNumber, summary: summary,
            accepted: "none or " + rangeText(lo, hi, lowerOpen: lowerOpen, upperOpen: false), suggestions: ["none"],
            get: { $0[keyPath: path].map(format) ?? "none" },
            apply: { config, text throws(ConfigError) in
                if ["none", "null", "off"].contains(text.trimmingWhitespace.lowercased()) {
                    config[keyPath: path] = nil
                    return
                }
                let x = try parseNumber(key, text)
                try check(key, x, lo, hi, lowerOpen: lowerOpen, upperOpen: false)
                config[keyPath: path] = x
            })
    }

    static func integer(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Int> & Sendable,
                         _ lo: Int, _ hi: Int) -> ConfigOption {
        ConfigOption(
            key: key, kind: .integer, summary: summary, accepted: "a whole number in [\(lo), \(hi)]", suggestions: [],
            get: { "\($0[keyPath: path])" },
            apply: { config, text throws(ConfigError) in
                guard let n = Int(text.trimmingWhitespace) else {
                    throw ConfigError("\(key) must be a whole number in [\(lo), \(hi)], not '\(text)'")
                }
                guard n >= lo, n <= hi else {
                    throw ConfigError("\(key) must be a whole number in [\(lo), \(hi)], not \(n)")
                }
                config[keyPath: path] = n
            })
    }

    static func flag(_ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, Bool> & Sendable) -> ConfigOption {
        ConfigOption(
            key: key, kind: .flag, summary: summary, accepted: "true or false", suggestions: ["true", "false"],
            get: { $0[keyPath: path] ? "true" : "false" },
            apply: { config, text throws(ConfigError) in
                guard let value = Bool(optionText: text) else { throw ConfigError("\(key) must be true or false, not '\(text)'") }
                config[keyPath: path] = value
            })
    }

    /// `aliases` are other words for some values (another library's spelling), accepted when set.
    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, E> & Sendable, aliases: [String: String] = [:]
    ) -> ConfigOption where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        let also = aliases.sorted { $0.key > $1.key }.map { "\($0.key) = \($0.value)" }
        return ConfigOption(
            key: key, kind: .choice, summary: summary,
            accepted: "one of " + names.joined(separator: ", ") + (also.isEmpty ? "" : " (" + also.joined(separator: ", ") + ")"),
            suggestions: names,
            get: { $0[keyPath: path].rawValue },
            apply: { config, text throws(ConfigError) in
                let word = text.trimmingWhitespace
                guard let value = E(rawValue: aliases[word] ?? word) else {
                    throw ConfigError("\(key) must be one of \(names.joined(separator: ", ")), not '\(text)'")
                }
                config[keyPath: path] = value
            })
    }

    /// A choice that may be unset ("none"): `loss_agg_mode`, which overrides the loss type's.
    static func optionalChoice<E: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, _ summary: String, _ path: WritableKeyPath<GRPOConfig, E?> & Sendable
    ) -> ConfigOption where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return ConfigOption(
            key: key, kind: .choice, summary: summary,
            accepted: "none or one of " + names.joined(separator: ", "), suggestions: ["none"] + names,
            get: { $0[keyPath: path]?.rawValue ?? "none" },
            apply: { config, text throws(ConfigError) in
                let word = text.trimmingWhitespace
                if ["none", "null", "off"].contains(word.lowercased()) {
                    config[keyPath: path] = nil
                    return
                }
                guard let value = E(rawValue: word) else {
                    throw ConfigError("\(key) must be none or one of \(names.joined(separator: ", ")), not '\(text)'")
                }
                config[keyPath: path] = value
            })
    }

    /// A list of finite numbers, written "1,0.5" (or "[1, 0.5]"); "none" for nil.
    static func numberList(_ key: String, _ summary: String,
                           _ path: WritableKeyPath<GRPOConfig, [Double]?> & Sendable) -> ConfigOption {
        ConfigOption(
            key: key, kind: .numberList, summary: summary,
            accepted: "none or numbers separated by commas (1,0.5)", suggestions: ["none"],
            get: { $0[keyPath: path].map { $0.map(format).joined(separator: ",") } ?? "none" },
            apply: { config, text throws(ConfigError) in
                var body = text.trimmingWhitespace
                if ["none", "null", "off"].contains(body.lowercased()) {
                    config[keyPath: path] = nil
                    return
                }
                if body.hasPrefix("[") && body.hasSuffix("]") { body = String(body.dropFirst().dropLast()) }
                let items = body.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace }
                guard !items.isEmpty, !items.contains("") else {
                    throw ConfigError("\(key) must be none or numbers separated by commas (1,0.5), not '\(text)'")
                }
                var values: [Double] = []
                for item in items {
                    guard let x = Double(decimalText: item), x.isFinite else {
                        throw ConfigError("\(key) must be none or finite numbers separated by commas, not '\(text)'")
                    }
                    values.append(x)
                }
                config[keyPath: path] = values
            })
    }
}
