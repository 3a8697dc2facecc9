import GRPO
import TinyPolicy

/// What `grpo-bench` was asked to do: `BenchArguments.options()` builds it from the command line,
/// checking every value; a bad one stops the run with one line on stderr (see `main.swift`).
struct Options {
    /// Shape of the vectorized runs (and of `torch_bench.py`): B completions padded to T tokens.
    var completions = 512
    var maxLen = 1024
    /// Shape of the naive runs and of the `explain` check: the naive path builds a graph of
    /// heap-allocated `Scalar`s, so it gets a smaller batch; tokens per second still compare.
    var naiveCompletions = 64
    var naiveMaxLen = 256
    var beta = 0.04
    var lossType = GRPOConfig.LossType.grpo
    var epsilon = 0.2
    var seed: UInt64 = 0
    /// Timed runs after `warmup` untimed ones; the naive path has its own (smaller) count.
    var repeats = 20
    var warmup = 3
    var naiveRepeats = 5
    var json = false
    var sections: Set<Section> = Set(Section.allCases)
    /// Optional side-by-side run of `torch_bench.py` with this Python (a venv outside the repo).
    var torchPython: String? = nil
    var torchScript = "bench/torch_bench.py"
    /// The training run of the tiny policy: which loss path drives it, and how many iterations.
    var trainingPath = LossPath.vectorized
    var trainingIterations = 500

    enum Section: String, CaseIterable {
        case lossGrad = "loss_grad", naive, breakdown, explain, training
    }

    /// The loss configuration every path uses: `torch_bench.py`'s (epsilon 0.2, k3, no bias
    /// correction, `max_completion_length` = T so `dr_grpo` divides by B * T as it does).
    func config(maxLen t: Int) -> GRPOConfig {
        var c = GRPOConfig()
        c.lossType = lossType
        c.beta = beta
        c.epsilon = epsilon
        c.maxCompletionLength = max(t, 1)
        return c
    }
}

