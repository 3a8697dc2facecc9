extension Naive {
    /// Which of a completion's tokens the loss counts: those its `mask` keeps (TRL's `tool_mask`:
    /// tool output inside a completion is not trained on), and none of a `truncated` completion
    /// when `mask_truncated_completions` is on. A token the loss does not count adds nothing to
    /// any term, to the token counts the aggregations divide by, to the sequence ratios, or to
    /// the metrics; its reward still counts in the advantages. Lesson 05.
    public static func lossMask(_ completion: Completion, config: GRPOConfig) -> [Bool] {
        if completion.truncated && config.maskTruncatedCompletions {
            return Array(repeating: false, count: completion.length)
        }
        return completion.mask ?? Array(repeating: true, count: completion.length)
    }
}
