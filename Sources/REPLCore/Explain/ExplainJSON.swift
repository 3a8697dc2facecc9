import GRPO

/// `explain --json`: both paths' breakdowns in the fixed format practitioners compare against:
///
///     {"config": {...resolved...}, "paths": {"naive": P, "vectorized": P}, "max_abs_diff": x,
///      "logged": {...}}
///
/// Each P has `loss`, `policy_loss` (before the entropy bonus), `advantages` and `weight` (one per
/// completion), per-token lists of lists `ratio`, `clipped_ratio`, `kl`, `per_token_loss`,
/// `grad_logp` (d loss / d logp, loss = -objective), and `metrics` under TRL's logging names;
/// plus `branch`, `group_mean`, `group_std` (empty when the batch gives its advantages), and
/// `entropy_bonus`, `loss_mask`, `off_policy_mask`, `entropy_mask`, `sampler_weight`,
/// `vespo_phi` when those are on. A batch too
/// big for the naive path has only `vectorized`, and `max_abs_diff` is null; `logged` is there
/// when the file logged numbers (`LoggedNumbers.json`). Non-finite numbers are written as null.
public enum ExplainJSON {
    /// Without the naive path (a big batch), `paths` has only `vectorized` and `max_abs_diff` is null.
    public static func document(config: GRPOConfig, naive: Breakdown?, vectorized: Breakdown,
                                logged: LoggedNumbers? = nil) -> JSONValue {
        document(BatchFile.Contents(config: config, batch: Batch(groups: []), logged: logged), naive: naive, vectorized: vectorized)
    }

    /// A batch file's contents. For a file with `"verl"` options the document also has `"verl"`
    /// (every option, verl's defaults filled in), and each path's `metrics` are verl's names.
    public static func document(_ contents: BatchFile.Contents, naive: Breakdown?, vectorized: Breakdown) -> JSONValue {
        func metrics(_ b: Breakdown) -> JSONObject {
            guard let verl = contents.verl else { return JSONObject(b.metrics.named.map { ($0.name, JSONValue.number($0.value)) }) }
            return JSONObject(VerlMetrics.metrics(b, batch: contents.responseBatch ?? contents.batch, options: verl).map { ($0.name, JSONValue.number($0.value)) })
        }
        var paths = JSONObject()
        if let naive { paths["naive"] = path(naive, metrics: metrics(naive)) }
        paths["vectorized"] = path(vectorized, metrics: metrics(vectorized))
        var document = JSONObject([("config", BatchFile.configJSON(contents.config))])
        if let verl = contents.verl { document["verl"] = BatchFile.verlJSON(verl) }
        document["paths"] = .object(paths)
        document["max_abs_diff"] = naive.map { .number($0.maxDifference(from: vectorized)) } ?? .null
        if let logged = contents.logged { document["logged"] = logged.json(contents.ours(naive ?? vectorized)) }
        return .object(document)
    }

    static func numbers(_ xs: [Double]) -> JSONValue { .array(xs.map(JSONValue.number)) }

    static func rows<T>(_ r: Ragged<T>, _ convert: (T) -> JSONValue) -> JSONValue {
        .array((0..<r.rowCount).map { .array(r[$0].map(convert)) })
    }

    /// `metrics`: the library's logging names; a metric it does not log for these options is left out.
    static func path(_ b: Breakdown, metrics: JSONObject) -> JSONValue {
        var p = JSONObject([
            ("loss", .number(b.loss)),
            ("policy_loss", .number(b.policyLoss)),
            ("advantages", numbers(b.advantages)),
            ("group_mean", numbers(b.groupMean)),
            ("group_std", numbers(b.groupStd)),
            ("ratio", rows(b.ratio, JSONValue.number)),
            ("clipped_ratio", rows(b.clippedRatio, JSONValue.number)),
            ("branch", rows(b.branch) { .string($0.rawValue) }),
            ("kl", b.kl.map { rows($0, JSONValue.number) } ?? .null),
            ("per_token_loss", rows(b.perTokenLoss, JSONValue.number)),
            ("weight", numbers(b.weight)),
            ("grad_logp", rows(b.gradLogp, JSONValue.number)),
            ("metrics", .object(metrics)),
        ])
        if let bonus = b.entropyBonus {
            p["entropy_bonus"] = .object(JSONObject([("entropy_coef", .number(bonus.coefficient)),
                                                     ("entropy", .number(bonus.entropy)),
                                                     ("tokens", .number(Double(bonus.tokens))), ("value", .number(bonus.value))]))
        }
        if let mask = b.lossMask { p["loss_mask"] = rows(mask) { .bool($0) } }
        if let keep = b.offPolicyMask { p["off_policy_mask"] = .array(keep.map(JSONValue.bool)) }
        if let mask = b.entropyMask { p["entropy_mask"] = rows(mask) { .bool($0) } }
        if let w = b.samplerWeight { p["sampler_weight"] = rows(w, JSONValue.number) }
        if let phi = b.vespoWeight { p["vespo_phi"] = numbers(phi) }
        return .object(p)
    }
}
