/// The numeric precision in which the sampler (an inference engine such as vLLM) holds its logits.
/// Anything but `exact` makes the sampler's distribution differ slightly from pi_old's, so the
/// tokens it picks and the log-probabilities it reports are not quite the trainer's. Lesson 09.
public enum SamplerPrecision: String, Sendable, Codable, CaseIterable {
    /// Float64, the trainer's own numbers: no mismatch.
    case exact
    /// IEEE half precision: 11 significant bits (a logit near 5 moves by up to 0.002).
    case float16
    /// bfloat16, the usual inference format: 8 significant bits (a logit near 5 moves by up to 0.016).
    case bfloat16

    /// The logit as the sampler stores it: rounded to nearest (ties to even) in this format.
    public func round(_ x: Double) -> Double {
        switch self {
        case .exact:
            return x
        case .float16:
            return Double(Float16(x))
        case .bfloat16:
            // The top 16 bits of a Float32, rounded to nearest even on the 16 bits dropped.
            let bits = Float(x).bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            return Double(Float(bitPattern: rounded))
        }
    }
}
