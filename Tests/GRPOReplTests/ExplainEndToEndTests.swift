import Foundation
import Testing

@Suite("grpo-repl explain, end to end")
struct ExplainEndToEndTests {
    /// The example batch of the issue: grpo, epsilon 0.2, beta 0.04, two completions.
    let batch = """
    {"config": {"loss_type": "grpo", "epsilon": 0.2, "beta": 0.04},
     "groups": [{"rewards": [1.0, 0.0],
                 "completions": [{"logp": [-0.2, -1.3], "old_logp": [-0.5, -1.2], "ref_logp": [-0.6, -1.0], "entropy": [2.0, 0.5]},
                                 {"logp": [-2.3], "old_logp": [-2.0], "ref_logp": [-2.3]}]}]}
    """

    @Test("--json: both paths, numbers worked by hand")
    func json() throws {
        let path = try Executable.temporaryFile("b.json", batch)
        let result = try Executable.run(["explain", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let paths = doc["paths"] as! [String: Any]
        for name in ["naive", "vectorized"] {
            let p = paths[name] as! [String: Any]
            // A = (1 - 0.5) / (0.70711 + 1e-4) = 0.70700, and its negative.
            let a = p["advantages"] as! [Double]
            #expect(abs(a[0] - 0.5 / (0.5.squareRoot() + 1e-4)) < 1e-12 && abs(a[1] + a[0]) < 1e-15)
            // Token (0,0): ratio exp(0.3) = 1.3499 > 1.2 with A > 0: clipped, so only the KL
            // gradient is left: w * beta * (1 - exp(ref - logp)) = 0.25 * 0.04 * (1 - exp(-0.4)) = 0.0032968
            let grad = p["grad_logp"] as! [[Double]]
            #expect(abs(grad[0][0] - 0.25 * 0.04 * (1 - exp(-0.4))) < 1e-12)
            #expect((p["ratio"] as! [[Double]])[0][0] == exp(0.3) || abs((p["ratio"] as! [[Double]])[0][0] - exp(0.3)) < 1e-15)
            #expect(abs((p["loss"] as! Double) - (-0.08802908274)) < 1e-10)
            let metrics = p["metrics"] as! [String: Any]
            #expect(Set(metrics.keys).isSuperset(of: ["clip_ratio/low_mean", "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean", "kl", "frac_reward_zero_std"]))
        }
        #expect((doc["max_abs_diff"] as! Double) < 1e-12)
        #expect((doc["config"] as! [String: Any])["loss_type"] as? String == "grpo")
    }

    @Test("text output names every quantity")
    func text() throws {
        let path = try Executable.temporaryFile("b.json", batch)
        let result = try Executable.run(["explain", path])
        #expect(result.status == 0)
        for word in ["A_i", "ratio", "clip(ratio)", "min takes", "KL", "L_t", "w_t", "dloss/dlogp", "loss = -0.08802908274", "they agree"] {
            #expect(result.stdout.contains(word), "missing \(word)")
        }
    }

    @Test("malformed input: exit code 2 and one line on stderr naming the problem", arguments: [
        ("not json", "not valid JSON"),
        (#"{"groups": [{"rewards": [1], "completions": [{"logp": [-1]}]}]}"#, "G >= 2"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [-1, -2], "old_logp": [-1]}, {"logp": [-1]}]}], "config": {"beta": 0}}"#, "old_logp: 1 values, but logp has 2"),
        (#"{"config": {"beta": 0, "gamma": 1}, "groups": []}"#, #"unknown option "gamma""#),
        (#"{"config": {"loss_type": "ppo"}, "groups": []}"#, "loss_type must be one of"),
        (#"{"groups": [{"rewards": [1, 0], "completions": [{"logp": [NaN]}, {"logp": [-1]}]}]}"#, "NaN and Infinity are not JSON"),
    ])
    func malformed(input: String, expected: String) throws {
        let path = try Executable.temporaryFile("bad.json", input)
        let result = try Executable.run(["explain", path])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("missing file, directory and bad arguments: exit code 2")
    func badArguments() throws {
        for args in [["explain", "/nonexistent/b.json"], ["explain", "/tmp"], ["explain"], ["explain", "b.json", "--preset", "nope"]] {
            let result = try Executable.run(args)
            #expect(result.status == 2, "\(args)")
            #expect(result.stderr.hasPrefix("error: "), "\(args): \(result.stderr)")
        }
    }
}
