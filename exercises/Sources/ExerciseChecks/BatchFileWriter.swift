import Foundation
import GRPO

/// Writes a batch the Loss check failed on as a batch file (`grpo-repl explain`'s format), so the
/// learner can see every quantity the project computes for it.
enum BatchFileWriter {
    /// The file's path in the temporary directory, or nil when it cannot be written.
    static func write(_ batch: Batch, epsilon: Double, beta: Double, name: String) -> String? {
        let groups = batch.groups.map { group -> [String: Any] in
            ["rewards": group.completions.map(\.reward),
             "completions": group.completions.map { c -> [String: Any] in
                 ["logp": c.logp, "old_logp": c.oldLogp, "ref_logp": c.refLogp ?? c.logp]
             }]
        }
        let document: [String: Any] = ["config": ["loss_type": "grpo", "epsilon": epsilon, "beta": beta], "groups": groups]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-exercise-loss-\(name).json")
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]),
              (try? data.write(to: url)) != nil else { return nil }
        return url.path
    }
}
