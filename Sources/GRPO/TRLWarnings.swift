/// The combinations TRL 1.16's `GRPOTrainer.__init__` warns about and then trains with anyway.
/// grpo-swift computes them too, as TRL does; the REPL's `set`, `preset` and `explain` repeat
/// the warning so that a learner who copies a TRL config sees what TRL's log would say.
/// Lessons 05 (luspo, vespo) and 10 (the sequence level).
extension GRPOConfig {
    /// One line per warning TRL would log for these options (none for most configs).
    public var trlWarnings: [String] {
        [lossType.trlWarning(at: importanceSamplingLevel)].compactMap { $0 }
    }
}

extension GRPOConfig.LossType {
    /// TRL's warning for this `loss_type` at that `importance_sampling_level`, in our words.
    func trlWarning(at level: GRPOConfig.ImportanceSamplingLevel) -> String? {
        switch (self, level) {
        case (.luspo, .token):
            return "luspo is meant for importance_sampling_level sequence (the LUSPO paper's set-up; 'preset luspo' has it)"
        case (.vespo, .sequence):
            return "vespo builds its own sequence weight from the token ratios; importance_sampling_level should be token"
        case (.bnpo, .sequence), (.dapo, .sequence), (.drGRPO, .sequence), (.cispo, .sequence):
            return "\(rawValue) sums the token terms, so at importance_sampling_level sequence each completion "
                + "weighs by its length; GSPO's own set-up is loss_type grpo ('preset gspo')"
        case (.grpo, _), (.sapo, _), (.luspo, .sequence), (.vespo, .token),
             (.bnpo, .token), (.dapo, .token), (.drGRPO, .token), (.cispo, .token):
            return nil
        }
    }
}
