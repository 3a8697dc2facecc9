import Testing
@testable import GRPO

@Suite("Options and presets")
struct ConfigTests {
    @Test("defaults follow the DeepSeekMath formula")
    func defaults() {
        let c = GRPOConfig()
        #expect(c.lossType == .grpo && c.epsilon == 0.2 && c.beta == 0.04 && c.klEstimator == .k3)
        #expect(c.stdEstimator == .sample && c.stdEpsilon == 1e-4 && c.resolvedEpsilonHigh == 0.2)
        #expect(Preset.deepseekmath.config == c)
    }

    @Test("presets")
    func presets() {
        #expect(Preset.trl.config.lossType == .dapo && Preset.trl.config.beta == 0 && Preset.trl.config.useBiasCorrectionKL)
        #expect(Preset.dapo.config.resolvedEpsilonHigh == 0.28 && Preset.dapo.config.lossType == .dapo)
        #expect(Preset.drGRPO.config.scaleRewards == .none && Preset.drGRPO.config.lossType == .drGRPO)
        #expect(Preset.gspo.config.importanceSamplingLevel == .sequence && Preset.gspo.config.epsilon == 3e-4)
        for preset in Preset.allCases { #expect((try? preset.config.validate()) != nil, "\(preset) validates") }
    }

    @Test("set validates and leaves the config unchanged on error")
    func setValidates() throws {
        var c = GRPOConfig()
        try c.set("loss_type", to: "dr_grpo")
        #expect(c.lossType == .drGRPO)
        try c.set("epsilon_high", to: "none")
        #expect(c.epsilonHigh == nil)
        try c.set("delta", to: "3")
        #expect(c.delta == 3)
        let before = c
        for (key, value, message) in [
            ("loss_type", "ppo", "loss_type must be one of grpo, bnpo, dapo, dr_grpo, cispo, sapo, luspo, vespo, not 'ppo'"),
            ("epsilon", "nan", "epsilon must be a finite number, not 'nan'"),
            ("epsilon", "101", "epsilon must be a number in [0, 100], not 101"),
            ("delta", "0", "delta must be a number in (0, 1e+300], not 0"),
            ("max_completion_length", "1e99", "max_completion_length must be a whole number in [1, 1000000], not '1e99'"),
            ("use_bias_correction_kl", "maybe", "use_bias_correction_kl must be true or false, not 'maybe'"),
        ] {
            #expect(throws: ConfigError(message)) { try c.set(key, to: value) }
            #expect(c == before)
        }
        #expect(throws: ConfigError.self) { try c.set("learning_rate", to: "1") }
    }

    @Test("every option round-trips through its text form")
    func roundTrip() throws {
        var c = Preset.gspo.config
        c.delta = 2.5
        var copy = GRPOConfig()
        for (key, value) in c.settings { try copy.set(key, to: value) }
        #expect(copy == c)
    }

    @Test("option values are decimal numbers and true/false, nothing Swift's readers also take")
    func optionText() {
        #expect(Double(decimalText: "1e-06") == 1e-6 && Double(decimalText: "-3") == -3 && Double(decimalText: ".5") == 0.5)
        for text in ["0x10", "0x1p-2", "nan", "inf", "-infinity", "", "1_000", "１"] { #expect(Double(decimalText: text) == nil, "\(text)") }
        #expect(Bool(optionText: " True ") == true && Bool(optionText: "false") == false)
        for text in ["yes", "no", "on", "off", "1", "0"] { #expect(Bool(optionText: text) == nil, "\(text)") }
    }

    @Test("TRL's retired vllm_importance_sampling_cap sets vllm_importance_sampling_clip_max, as TRL 1.16 reads it")
    func retiredName() throws {
        var config = GRPOConfig()
        try config.set("vllm_importance_sampling_cap", to: "2")
        #expect(config.vllmImportanceSamplingClipMax == 2 && config.vllmImportanceSamplingClipMin == nil)
        #expect(GRPOConfig.option(named: "vllm_importance_sampling_cap")?.key == "vllm_importance_sampling_clip_max")
        #expect(!config.settings.contains { $0.key == "vllm_importance_sampling_cap" })
    }

    @Test("sampler weight bounds: truncate clamps into [C_min, C_max], mask zeroes outside; a missing bound is none")
    func samplerBounds() {
        var c = GRPOConfig()
        c.vllmImportanceSamplingClipMin = 0.5
        c.vllmImportanceSamplingClipMax = 2
        c.vllmImportanceSamplingMode = .tokenTruncate
        #expect([0.1, 1.2, 7].map { Naive.boundedSamplerWeight($0, config: c) } == [0.5, 1.2, 2])
        c.vllmImportanceSamplingMode = .sequenceMask
        #expect([0.1, 1.2, 7].map { Naive.boundedSamplerWeight($0, config: c) } == [0, 1.2, 0])
        c.vllmImportanceSamplingClipMax = nil
        #expect([0.1, 7].map { Naive.boundedSamplerWeight($0, config: c) } == [0, 7])
    }

    @Test("TRL's warnings: luspo at token level, vespo at sequence level, the summing types at sequence level; nothing else",
          arguments: GRPOConfig.LossType.allCases)
    func trlWarnings(lossType: GRPOConfig.LossType) {
        // trl 1.16.0 GRPOTrainer.__init__: `loss_type == "luspo" and level != "sequence"`,
        // `loss_type == "vespo" and level != "token"`, `level == "sequence" and loss_type in
        // ["bnpo", "dr_grpo", "dapo", "cispo"]`: each logs a warning and training goes on.
        for level in GRPOConfig.ImportanceSamplingLevel.allCases {
            var c = GRPOConfig()
            c.lossType = lossType
            c.importanceSamplingLevel = level
            let trlWarns = (lossType.rawValue == "luspo" && level.rawValue != "sequence")
                || (lossType.rawValue == "vespo" && level.rawValue != "token")
                || (level.rawValue == "sequence" && ["bnpo", "dr_grpo", "dapo", "cispo"].contains(lossType.rawValue))
            #expect(c.trlWarnings.count == (trlWarns ? 1 : 0), "\(lossType) at \(level): \(c.trlWarnings)")
        }
        #expect(Preset.allCases.allSatisfy { $0.config.trlWarnings.isEmpty }, "a preset is a set-up TRL does not warn about")
    }
}
