import GRPO

/// `GRPOConfig` in a saved session: one JSON string per option of `GRPOConfig.options`, by its
/// TRL name (`{"loss_type": "grpo", "epsilon": "0.2", ...}`), read back with
/// `GRPOConfig.set(_:to:)`, so a saved file is checked like typed input and a missing key keeps
/// its default. (The loss library has no I/O, so `GRPOConfig` itself is not `Codable`.)
struct LossConfigCoding: Sendable, Codable {
    var config: GRPOConfig

    init(_ config: GRPOConfig) { self.config = config }

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in config.settings { try container.encode(value, forKey: Key(stringValue: key)) }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var config = GRPOConfig()
        for key in container.allKeys {
            let value = try container.decode(String.self, forKey: key)
            do {
                try config.set(key.stringValue, to: value)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: error.message)
            }
        }
        self.config = config
    }
}
