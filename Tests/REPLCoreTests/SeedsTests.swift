import GRPO
import Testing
import TinyPolicy
@testable import REPLCore

/// `seeds` and `sweep`: one experiment over several seeds, and its statistics.
@Suite("seeds and sweep")
struct SeedsTests {
    /// [1, 2, 3, 4]: mean 2.5; sd = sqrt((1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3) = sqrt(5/3) = 1.2909944;
    /// t(0.975, 3) = 3.182, so the half-width is 3.182 * 1.2909944 / sqrt(4) = 2.0539721.
    @Test("mean, sd and the t interval by hand")
    func statistics() throws {
        let s = try #require(SeedStatistics([1, 2, 3, 4]))
        #expect(s.mean == 2.5)
        #expect(abs(s.sd - 1.2909944487) < 1e-9)
        #expect(abs(s.halfWidth - 2.0539721679) < 1e-9)
        #expect(s.min == 1 && s.max == 4)
        #expect(SeedStatistics([7]) == nil)
        #expect(SeedStatistics.t975(degreesOfFreedom: 7) == 2.365)
        #expect(SeedStatistics.t975(degreesOfFreedom: 35) == 2.042)  // the lower end of 30..40: wider
    }

    @Test("each run is the run 'new SEED' then 'train M' gives")
    func runsAreNewRuns() throws {
        let session = Session(projectRoot: ProjectFiles.root)
        let (runs, stopped) = try SeedsCommand.runs(session, SeedsCommand.Request(seeds: 2, iterations: 6))
        #expect(stopped == nil && runs.map(\.seed) == [1, 2])
        for run in runs {
            let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
            for line in ["new \(run.seed)", "train 6"] { #expect(!interpreter.execute(line).isError) }
            let history = interpreter.session.trainer.history
            #expect(run.iterations.map(\.reward) == history.map(\.meanReward))
            #expect(run.iterations.map(\.kl) == history.map(\.kl))
        }
    }

    @Test("the first iteration whose trailing mean reaches the level")
    func reached() {
        let rewards = [0.1, 0.5, 0.9, 0.7, 1.0]
        let run = SeedsCommand.Run(seed: 1, iterations: rewards.map {
            SeedsCommand.Iteration(reward: $0, length: 3, lengthWrong: nil, kl: 0, clip: nil, entropy: 1)
        })
        // Windows of 2: (0.1+0.5)/2 = 0.3, (0.5+0.9)/2 = 0.7, (0.9+0.7)/2 = 0.8, (0.7+1)/2 = 0.85.
        #expect(SeedsCommand.reached(run, level: 0.8, window: 2) == 4)
        #expect(SeedsCommand.reached(run, level: 0.85, window: 2) == 5)
        #expect(SeedsCommand.reached(run, level: 0.9, window: 2) == nil)
        #expect(SeedsCommand.reached(run, level: 0.1, window: 9) == nil)  // fewer iterations than the window
    }

    @Test("Ctrl-C stops at a run boundary and keeps the runs done")
    func stops() throws {
        let session = Session(projectRoot: ProjectFiles.root)
        var asked = 0
        session.shouldStop = {
            asked += 1
            return asked > 1
        }
        let (runs, stopped) = try SeedsCommand.runs(session, SeedsCommand.Request(seeds: 3, iterations: 4))
        #expect(runs.isEmpty)
        #expect(stopped == "stopped during seed 1: 0 run(s) done, that one left out")
    }

    @Test("sweep leaves the session's options as they were, and reports each value")
    func sweepKeepsOptions() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let before = interpreter.session.config
        let reply = interpreter.execute("sweep loss_type grpo,dapo seeds 2 train 4")
        #expect(!reply.isError, "\(reply.lines)")
        #expect(interpreter.session.config == before)
        #expect(reply.lines.contains { $0.hasPrefix("grpo ") } && reply.lines.contains { $0.hasPrefix("dapo ") })
        #expect(interpreter.execute("sweep epsilon 0.2,7000 seeds 2 train 3").lines.first
                == "error: sweep epsilon 7000: epsilon must be a number in [0, 100], not 7000")
        // Presets as the swept values: each a preset's loss options, the session's untouched.
        let presets = interpreter.execute("sweep preset dapo,cispo seeds 2 train 3")
        #expect(!presets.isError && presets.lines.contains { $0.hasPrefix("cispo ") }, "\(presets.lines)")
        #expect(interpreter.session.config == before)
        #expect(interpreter.execute("sweep preset dapo,nope seeds 2 train 3").lines.first?.hasPrefix("error: sweep preset nope: no preset 'nope'") == true)
    }

    @Test("budget C: as many whole iterations as C sampled completions make; measure and gen_time are checked")
    func budgetAndMeasure() throws {
        let request = try SeedsCommand.parse(["seeds", "4", "budget", "100", "measure", "expected_reward", "gen_time", "2.5"], command: "sweep")
        // B = 4 prompts x G = 8 = 32 completions per iteration: 100 / 32 = 3 iterations, 96 completions.
        #expect(request.iterations(TrainingSettings()) == 3 && request.measure == "expected_reward" && request.generationTime == 2.5)
        #expect(request.lengthText([TrainingSettings()])
                == "a budget of 100 sampled completions (3 iterations, 96 completions: whole iterations only)")
        #expect(SeedsCommand.Request(seeds: 2, iterations: 1).lengthText([TrainingSettings()]) == "1 iteration")
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(interpreter.execute("seeds 2 budget 64 measure nope").lines.first
                == "error: measure takes reward (the sampled completions') or expected_reward (theta's, exact), not 'nope'")
        #expect(interpreter.execute("sweep max_staleness 0,1 seeds 2 train 3 gen_time -1").lines.first?.hasPrefix("error: gen_time takes") == true)
        // seeds has no time model, so it refuses gen_time rather than ignore it.
        #expect(interpreter.execute("seeds 2 train 3 gen_time 3").lines.first?.hasPrefix("error: gen_time is for sweep") == true)
        #expect(interpreter.execute("seeds 2 budget 31").lines.first
                == "error: budget 31 is less than one iteration's 32 sampled completions (prompts_per_iteration 4 x num_generations 8)")
        #expect(interpreter.execute("seeds 100 budget 100000000").lines.first
                == "error: 100 seeds x 3125000 iterations is 312500000, more than the 400000 iterations one command runs")
    }

    @Test("a sweep over max_staleness sets the time model and the ratios' range beside the reward")
    func stalenessSweep() throws {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        let reply = interpreter.execute("sweep max_staleness 0,2,4 seeds 2 budget 192 measure expected_reward reach 0.2 window 2")
        #expect(!reply.isError, "\(reply.lines)")
        let lines = reply.lines
        // 192 / 32 = 6 iterations; gen_time 3: 4 per iteration in step, 3 once sampling overlaps.
        #expect(lines.first?.contains("a budget of 192 sampled completions (6 iterations)") == true)
        let time = try #require(lines.firstIndex { $0.hasPrefix("time in a model") })
        #expect(lines[time + 3].hasPrefix("0 ") && lines[time + 3].contains(" 4 ") && lines[time + 3].contains(" 24 "))
        // k = 2: iteration 1 at 4, then every 3: 4 + 5 * 3 = 19.
        #expect(lines[time + 4].hasPrefix("2 ") && lines[time + 4].contains(" 3 ") && lines[time + 4].contains(" 19 "))
        #expect(lines.contains { $0.hasPrefix("the ratios' range at the runs' end, pi/pi_old and pi/pi_sampler") })
        #expect(lines.contains { $0.hasPrefix("E[r] under theta at the runs' end against max_staleness") })
        // A sweep with no stale sampler has neither.
        let plain = interpreter.execute("sweep loss_type grpo,dapo seeds 2 train 3").lines
        #expect(!plain.contains { $0.hasPrefix("time in a model") || $0.hasPrefix("the ratios' range") })
    }
}

@Suite("reach's window and the run's length")
struct ReachWindowTests {
    @Test("a window longer than the run is refused with what would work, before any run")
    func windowLongerThanRun() {
        let interpreter = Interpreter(session: Session(projectRoot: ProjectFiles.root))
        #expect(interpreter.execute("seeds 2 train 5 reach 0.1").lines
                == ["error: reach averages a window of 10 iterations, longer than the run's 5: no run could reach; add 'window 5' or fewer, or train longer"])
        #expect(!interpreter.execute("seeds 2 train 5 reach 0.1 window 5").isError)
    }
}
