import ExerciseChecks
import GRPO

extension Mine {
    /// Exercise ClipMin (lesson 04). PPO's clipped objective of one token (the objective, not
    /// yet the loss: do not negate it here):
    ///
    ///     min( r A, clip(r, 1 - epsilon_low, 1 + epsilon_high) A )
    ///
    /// Hint: `Scalar.clamp(r, min:, max:)` and `Scalar.minimum(a, b)`. Work out lesson 04's four
    /// cases (sign of A, side of the range) before you trust it.
    public static func clippedObjective(ratio: Scalar, advantage: Double, epsilonLow: Double, epsilonHigh: Double) throws -> Scalar {
        throw NotWrittenYet(.clipMin)
    }
}
