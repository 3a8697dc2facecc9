extension Naive {
    /// w_it, the weight of one token's loss in the batch loss (loss = sum_it w_it L_it), for a
    /// batch of B completions holding N valid tokens in all:
    ///
    ///     grpo          1 / (B |o_i|)      each completion weighs the same, its tokens share it
    ///     bnpo, dapo    1 / N              each token weighs the same
    ///     dr_grpo       1 / (B L)          a constant, L = max_completion_length
    ///
    /// Under `grpo` a token of a short completion weighs more than one of a long completion: the
    /// length bias of lesson 06. (|o_i| and N are taken as at least 1, as TRL does.)
    public static func tokenWeight(length: Int, completionCount: Int, tokenCount: Int, config: GRPOConfig) -> Double {
        let b = Double(completionCount)
        switch config.lossType {
        case .grpo: return 1 / (b * Double(max(length, 1)))
        case .bnpo, .dapo: return 1 / Double(max(tokenCount, 1))
        case .drGRPO: return 1 / (b * Double(config.maxCompletionLength))
        }
    }
}
