import Testing
import TinyPolicy

/// The wall-clock model of lesson 16, worked by hand.
@Suite("Time in a pipeline whose sampler runs ahead")
struct PipelineClockTests {
    @Test("k = 0: sampling and training alternate, S + mu per iteration")
    func synchronous() {
        // S = 3, mu = 1: sample [0, 3], train [3, 4]; sample [4, 7], train [7, 8]; ...
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 1, staleness: 0).finishTimes(iterations: 3) == [4, 8, 12])
        // mu = 2: sample [0, 3], train [3, 5]; sample [5, 8], train [8, 10]
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 2, staleness: 0).finishTimes(iterations: 2) == [5, 10])
    }

    @Test("k = 1, mu = 1: the next batch is sampled while the last one trains; the slower of the two sets the pace")
    func oneStepAhead() {
        // Batch 1 needs theta_0 (ready at 0): sample [3, 6], train [6, 7]; batch 2 needs theta_1 (ready at 4):
        // sample [6, 9], train [9, 10]. 3 per iteration = max(S, mu).
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 1, staleness: 1).finishTimes(iterations: 3) == [4, 7, 10])
        // Training slower than sampling (S = 0.5, mu = 1): the trainer never waits after the first batch.
        #expect(PipelineClock(generationTime: 0.5, updatesPerIteration: 1, staleness: 1).finishTimes(iterations: 3) == [1.5, 2.5, 3.5])
    }

    @Test("k below mu overlaps only part of an iteration")
    func partialOverlap() {
        // mu = 2, k = 1, S = 3. Batch 0: sample [0, 3], updates done at 4, 5. Batch 1 needs theta after
        // update 1 (at 4): sample [4, 7], updates at 8, 9. Batch 2 needs update 3 (at 8): sample [8, 11], 12, 13.
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 2, staleness: 1).finishTimes(iterations: 3) == [5, 9, 13])
        // k = 2 = mu: sample 1 needs update 0, starts at 3: [3, 6], updates 7, 8; sample 2 needs update 2 (at 5): [6, 9], 10, 11.
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 2, staleness: 2).finishTimes(iterations: 3) == [5, 8, 11])
        // mu = 4, k = 2 (lesson 16's exercise): batch 1 needs update 2 (at 5): sample [5, 8], updates 9-12;
        // batch 2 needs update 6 (at 10): sample [10, 13], updates 14-17. 5 per iteration, between 7 (k = 0) and 4.
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 4, staleness: 2).finishTimes(iterations: 3) == [7, 12, 17])
    }

    @Test("more staleness than the overlap needs buys no time when every batch takes as long")
    func noGainPastFullOverlap() {
        let one = PipelineClock(generationTime: 3, updatesPerIteration: 1, staleness: 1).finishTimes(iterations: 50)
        let many = PipelineClock(generationTime: 3, updatesPerIteration: 1, staleness: 16).finishTimes(iterations: 50)
        #expect(one == many)
        #expect(PipelineClock(generationTime: 3, updatesPerIteration: 1, staleness: 0).finishTimes(iterations: 0).isEmpty)
    }
}
