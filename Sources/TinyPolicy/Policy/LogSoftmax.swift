#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// log softmax(logits / T), the one routine that turns logits into log-probabilities, used by the
/// trainer and the sampler alike: with the same parameters and temperature it gives bit-identical
/// numbers, which is why the ratio pi_theta / pi_old is exactly 1 on the first inner update.
///
///     z_v = logit_v / T,   logp_v = z_v - m - log( sum_k exp(z_k - m) ),   m = max_k z_k
///
/// Subtracting the largest z keeps every exp() in (0, 1]. Returns the entropy of the distribution,
///
///     H = -sum_v p_v logp_v,   p_v = exp(logp_v)
///
/// Lesson 01 (log-probabilities) and 10 (entropy, forking tokens).
@inline(__always)
func logSoftmax(_ logits: [Double], temperature: Double, into logp: inout [Double]) -> Double {
    var m = -Double.infinity
    for z in logits { m = max(m, z / temperature) }
    var total = 0.0
    for z in logits { total += exp(z / temperature - m) }
    let shift = m + log(total)
    var entropy = 0.0
    for v in logits.indices {
        logp[v] = logits[v] / temperature - shift
        entropy -= exp(logp[v]) * logp[v]
    }
    return entropy
}
