/// A model of wall-clock time for a run whose sampler may run ahead of the trainer, to set beside
/// what the run learned: asynchronous RL buys time by overlapping sampling with training, and
/// pays in staleness. Time is counted in optimizer updates (one update takes 1); sampling one
/// batch takes `generationTime`. Lesson 16.
///
/// Batch j (0-based) is sampled by the weights after max(0, j mu - k) updates, so its sampling
/// can start once those exist and the sampler is free; its mu updates start once it is sampled
/// and the trainer is free:
///
///     sample_j = max(sampled_{j-1}, done(j mu - k)) + generationTime
///     done(j mu + i) = max(sample_j, done(j mu)) + i,   i = 1 ... mu
///
/// With k = 0 nothing overlaps: an iteration takes generationTime + mu. With k >= mu the
/// sampler never waits and an iteration takes max(generationTime, mu). What the model leaves out:
/// generation times that vary from batch to batch (long completions, stragglers), where a larger
/// k keeps the trainer busy too; the cost of moving weights; in-flight updates, which it counts by
/// each batch's first weights.
public struct PipelineClock: Sendable, Equatable {
    public var generationTime: Double
    public var updatesPerIteration: Int
    public var staleness: Int

    public init(generationTime: Double, updatesPerIteration: Int, staleness: Int) {
        self.generationTime = generationTime
        self.updatesPerIteration = updatesPerIteration
        self.staleness = staleness
    }

    /// The time at which each of `iterations` iterations has finished its updates. Memory is one
    /// start time per iteration: update m (1-based) of iteration i = (m - 1) / mu ends at
    /// start_i + (m - 1) % mu + 1.
    public func finishTimes(iterations: Int) -> [Double] {
        let mu = updatesPerIteration
        var starts: [Double] = []  // when each iteration's first update starts
        starts.reserveCapacity(max(0, iterations))
        func done(_ m: Int) -> Double { m <= 0 ? 0 : starts[(m - 1) / mu] + Double((m - 1) % mu + 1) }
        var sampled = 0.0
        for j in 0..<max(0, iterations) {
            sampled = max(sampled, done(j * mu - staleness)) + generationTime
            starts.append(max(sampled, done(j * mu)))
        }
        return starts.map { $0 + Double(mu) }
    }
}
