#!/usr/bin/env python3
"""Golden values for grpo-swift's newer loss terms, computed by TRL 1.16.0's own code.

Writes Tests/GRPOTests/Fixtures/trl_terms.json: named cases, each a small fixed batch in our
explain JSON (every option written out in "config") and what TRL makes of it: the loss that
`GRPOTrainer._compute_loss` returns, d loss / d logp from `loss.backward()`, the advantages of
TRL's own advantage lines and the metrics TRL logged.

Nothing here reimplements TRL. The script runs, in float64 and with torch's default dtype
float64 (see DEFAULT_DTYPE), these pieces of the installed trl:
  - four blocks of `GRPOTrainer._generate_and_score_completions`, read with inspect.getsource and
    exec'd as they are, in the order that method runs them (it generates with a model, so it
    cannot be called): the truncation lines (`if self.mask_truncated_completions:` ...
    `num_items_in_batch = ...`), the vLLM importance-sampling-ratio lines
    (`per_token_logps_diff = ...` ... masked_fill / clamp), the advantage lines
    (`unscorable_mask = ...` ... `advantages = torch.nan_to_num(advantages, nan=0.0)`) and the
    sampling metric lines (`delta = torch.abs(old_per_token_logps - sampling_per_token_logps)` ...);
  - the real `GRPOTrainer._compute_loss` (with its `get_off_policy_mask`, `get_gamma_weights`,
    `get_high_entropy_mask`), on a trainer made with `object.__new__` holding the attributes
    `__init__` sets from a real `GRPOConfig` (tools/compare_with_trl.py's `make_trainer`, plus the
    attributes the newer terms read), with `_get_per_token_logps_and_entropies` replaced by one
    returning our padded logp and entropies (both requires_grad).

Every case is also run a second time with two extra padding columns and junk (nonzero) values in
the padded positions of logp / old_logp / ref_logp / entropy (a model's log-probs at pad tokens
are not 0). Results that change are a padding artefact of TRL: allowed only in cases named
`artefact_*`, which then record the re-padded numbers too; anywhere else the script fails.

Usage (the venv is outside the repo):
  /work/.venv-trl/bin/python tools/trl_terms_golden.py            # writes the fixture
  /work/.venv-trl/bin/python tools/trl_terms_golden.py --check    # regenerates, compares bytes
  /work/.venv-trl/bin/python tools/trl_terms_golden.py --out /tmp/x.json --case sapo_token
"""

import copy
import inspect
import json
import math
import os
import sys
import tempfile
import textwrap
import types
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import trl  # noqa: E402
from trl import GRPOConfig  # noqa: E402
from trl.trainer import grpo_trainer  # noqa: E402
from trl.trainer.grpo_trainer import GRPOTrainer  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.dont_write_bytecode = True  # importing compare_with_trl leaves no __pycache__ in the repo
sys.path.insert(0, TOOLS)
from compare_with_trl import make_trainer  # noqa: E402  (and its SingleProcess accelerator)
import golden_cli  # noqa: E402

DEFAULT_OUT = os.path.join(REPO, "Tests", "GRPOTests", "Fixtures", "trl_terms.json")
TRL_VERSION = "1.16.0"
# torch's default dtype while TRL's code runs. float64 makes the dtype-less tensors TRL creates
# float64: nanstd's Bessel factor count / (count - 1), and the torch.where over Python scalars
# that hold SAPO's temperatures and VESPO's k / lambda (float32 in a default run: 1.05 becomes
# 1.0499999523). What stays float32 is what TRL casts explicitly (FLOAT32_METRICS).
DEFAULT_DTYPE = torch.float64
# Metrics TRL computes from `.float()` tensors, so in float32 whatever the inputs: k / n in
# float32 (1/3 -> 0.3333333432674408). Compare them at ~1e-7 relative, or round yours to float32.
FLOAT32_METRICS = ["clip_ratio/low_mean", "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max",
                   "clip_ratio/region_mean", "cispo_clip_ratio", "frac_reward_zero_std"]
EOS_ID, PAD_ID, TOKEN_ID = 1, 0, 7  # made-up token ids: a completion ends in EOS unless truncated
JUNK_PAD = {"logp": -2.5, "old_logp": -2.0, "ref_logp": -3.0, "entropy": 1.5}
EXTRA_COLUMNS = 2


# --------------------------------------------------------------------------------------------
# TRL's own lines, from the installed source
# --------------------------------------------------------------------------------------------

GENERATE_SOURCE = inspect.getsource(GRPOTrainer._generate_and_score_completions).splitlines()


def _index(pred, start=0, what=""):
    for i in range(start, len(GENERATE_SOURCE)):
        if pred(GENERATE_SOURCE[i]):
            return i
    sys.exit("trl %s: cannot find %s in _generate_and_score_completions; read it again" % (trl.__version__, what))


def _compile(start, end, name, must_contain):
    block = textwrap.dedent("\n".join(GENERATE_SOURCE[start:end + 1]))
    for s in must_contain:
        if s not in block:
            sys.exit("trl %s: the %s lines no longer contain %r; read them again" % (trl.__version__, name, s))
    return block, compile(block, "<trl _generate_and_score_completions: %s>" % name, "exec")


def trl_blocks():
    s = GENERATE_SOURCE
    # 1. mask_truncated_completions and the loss-token count.
    a = _index(lambda l: l.strip() == "if self.mask_truncated_completions:", what="truncation lines")
    b = _index(lambda l: "num_items_in_batch = self.accelerator.gather(loss_mask.sum()).sum()" in l, a, "num_items")
    truncation = _compile(a, b, "truncation", [
        "completion_mask = completion_mask * (~is_truncated).unsqueeze(1).int()",
        "tool_mask = tool_mask * (~is_truncated).unsqueeze(1).int()",
        "loss_mask = completion_mask if tool_mask is None else completion_mask * tool_mask"])
    # 2. the vLLM importance-sampling ratio (inside the no_grad block, after old_per_token_logps).
    a = _index(lambda l: "per_token_logps_diff = (old_per_token_logps - sampling_per_token_logps) * mask" in l,
               what="importance sampling lines")
    a = max(i for i in range(a) if s[i].strip() == "if self.use_vllm and self.vllm_importance_sampling_correction:")
    b = _index(lambda l: "Unknown vLLM importance sampling level" in l, a, "end of importance sampling lines")
    b = _index(lambda l: l.strip() == ")", b, "closing parenthesis")
    is_ratio = _compile(a, b, "importance sampling ratio", [
        "mask = completion_mask if tool_mask is None else completion_mask * tool_mask",
        "per_token_logps_diff = torch.nan_to_num(per_token_logps_diff, nan=0.0)",
        "vllm_importance_sampling_ratio = torch.exp(logps_diff)", "masked_fill"])
    # 3. rewards -> advantages.
    a = _index(lambda l: "unscorable_mask = torch.isnan(rewards_per_func)" in l, what="advantage lines")
    b = _index(lambda l: "advantages = torch.nan_to_num(advantages, nan=0.0)" in l, a, "end of advantage lines")
    advantages = _compile(a, b, "advantages", ["std_rewards + 1e-4", "nanstd(rewards.view(-1, num_generations), dim=1)",
                                               "normalize_then_sum", "is_std_zero = torch.isclose"])
    # 4. the sampling/* metrics (logged by the generation method).
    a = _index(lambda l: "delta = torch.abs(old_per_token_logps - sampling_per_token_logps)" in l, what="sampling metrics")
    a = max(i for i in range(a) if s[i].strip() == "if self.use_vllm and self.vllm_importance_sampling_correction:")
    b = _index(lambda l: "nanmax(self.accelerator.gather(max_importance_sampling_ratio)).item()" in l, a, "sampling max")
    b = _index(lambda l: l.strip() == ")", b, "closing parenthesis")
    sampling = _compile(a, b, "sampling metrics", ["sampling/importance_sampling_ratio/mean", "flat_is_ratio"])
    # frac_reward_zero_std: TRL's own line, evaluated after the advantage lines.
    line = GENERATE_SOURCE[_index(lambda l: '"frac_reward_zero_std"' in l, what="frac_reward_zero_std")]
    frac_expr = line.strip()[line.strip().index(".append(") + len(".append("):-1]
    if frac_expr != "is_std_zero.float().mean().item()":
        sys.exit("trl %s: frac_reward_zero_std is now %r; read it again" % (trl.__version__, frac_expr))
    return {"truncation": truncation[1], "is_ratio": is_ratio[1], "advantages": advantages[1],
            "sampling": sampling[1], "frac": compile(frac_expr, "<trl frac_reward_zero_std>", "eval")}


BLOCKS = trl_blocks()


# --------------------------------------------------------------------------------------------
# Running one batch through TRL
# --------------------------------------------------------------------------------------------

def trl_config(cfg, batch_size, group_size, off_policy, use_vllm, out_dir):
    """A real GRPOConfig, TRL's own defaults and checks, with every option of the case."""
    return GRPOConfig(
        output_dir=out_dir, report_to="none", use_cpu=True, bf16=False,
        per_device_train_batch_size=batch_size, num_generations=group_size, gradient_accumulation_steps=1,
        # num_iterations 2: TRL computes old_per_token_logps at generation time and passes them to
        # _compute_loss; with 1 (on-policy, no vLLM correction) it uses per_token_logps.detach().
        num_iterations=2 if off_policy else 1,
        use_vllm=use_vllm,
        loss_type=cfg["loss_type"], epsilon=cfg["epsilon"], epsilon_high=cfg["epsilon_high"], delta=cfg["delta"],
        beta=cfg["beta"], use_bias_correction_kl=cfg["use_bias_correction_kl"], scale_rewards=cfg["scale_rewards"],
        importance_sampling_level=cfg["importance_sampling_level"],
        max_completion_length=cfg["max_completion_length"], top_entropy_quantile=cfg["top_entropy_quantile"],
        vllm_importance_sampling_correction=cfg["vllm_importance_sampling_correction"],
        vllm_importance_sampling_mode=cfg["vllm_importance_sampling_mode"],
        vllm_importance_sampling_clip_min=cfg["vllm_importance_sampling_clip_min"],
        vllm_importance_sampling_clip_max=cfg["vllm_importance_sampling_clip_max"],
        sapo_temperature_pos=cfg["sapo_temperature_pos"], sapo_temperature_neg=cfg["sapo_temperature_neg"],
        vespo_k_pos=cfg["vespo_k_pos"], vespo_lambda_pos=cfg["vespo_lambda_pos"],
        vespo_k_neg=cfg["vespo_k_neg"], vespo_lambda_neg=cfg["vespo_lambda_neg"],
        off_policy_mask_threshold=cfg["off_policy_mask_threshold"], entropy_coef=cfg["entropy_coef"],
        use_adaptive_entropy=cfg["use_adaptive_entropy"], mask_truncated_completions=cfg["mask_truncated_completions"],
        reward_weights=cfg["reward_weights"], multi_objective_aggregation=cfg["multi_objective_aggregation"],
    )


def build_trainer(args, n_funcs):
    """compare_with_trl's trainer, plus the attributes the newer terms read, as __init__ sets them."""
    t = make_trainer(args)
    # __init__: the reward functions and their weights (float32, as TRL stores them).
    t.reward_funcs = [None] * n_funcs
    if args.reward_weights is not None:
        if len(args.reward_weights) != n_funcs:
            raise ValueError("Number of reward weights (%d) must match number of reward functions (%d)"
                             % (len(args.reward_weights), n_funcs))
        t.reward_weights = torch.tensor(args.reward_weights, dtype=torch.float32)
    else:
        t.reward_weights = torch.ones(n_funcs, dtype=torch.float32)
    t.vllm_importance_sampling_mode = args.vllm_importance_sampling_mode
    t.vllm_importance_sampling_clip_max = args.vllm_importance_sampling_clip_max
    t.vllm_importance_sampling_clip_min = args.vllm_importance_sampling_clip_min
    t.mask_truncated_completions = args.mask_truncated_completions
    t._last_world_entropy = float("inf")
    t._entropy_window_stats = None
    # What the truncation lines read: EOS and pad ids (a completion is truncated when its last
    # token is neither).
    t.eos_token_ids = [EOS_ID]
    t._tokenizer = types.SimpleNamespace(pad_token_id=PAD_ID)
    # __init__'s check for VESPO with the vLLM correction.
    if t.loss_type == "vespo" and t.use_vllm and t.vllm_importance_sampling_correction:
        if t.vllm_importance_sampling_mode not in ["token_truncate", "token_mask"]:
            raise ValueError("VESPO loss requires vllm_importance_sampling_mode token_truncate or token_mask")
    return t


def clean(x):
    """JSON-ready float: NaN -> None, -0.0 -> 0.0 (full repr otherwise)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return x + 0.0


def generation_lines(trainer, g, completion_ids_list, completion_ids, completion_mask, tool_mask,
                     sampling_per_token_logps, old_per_token_logps, table, advantages=None):
    """Runs TRL's own lines of _generate_and_score_completions on the given tensors, in its order:
      if self.mask_truncated_completions: completion_mask (and tool_mask) *= ~is_truncated
      loss_mask = completion_mask [* tool_mask]; num_items_in_batch = loss_mask.sum()
      with torch.no_grad(): the vLLM importance-sampling ratio (clamped / masked)
      advantages from rewards_per_func (when `table` is given; else the `advantages` given)
      the sampling-level lines that follow.
    Returns the scope the lines ran in (their variables) and frac_reward_zero_std (None when
    the advantages were given: TRL logs no such metric for them)."""
    scope = dict(vars(grpo_trainer))  # TRL's module globals: torch, nanstd, nanmin, math, ...
    scope.update(self=trainer, device=torch.device("cpu"), mode="train",
                 completion_ids_list=completion_ids_list, completion_ids=completion_ids,
                 completion_mask=completion_mask, tool_mask=tool_mask,
                 sampling_per_token_logps=sampling_per_token_logps, old_per_token_logps=old_per_token_logps,
                 rewards_per_func=torch.tensor(table, dtype=torch.float64) if table else None,
                 num_generations=g)
    exec(BLOCKS["truncation"], scope)
    with torch.no_grad():
        exec(BLOCKS["is_ratio"], scope)
    frac_reward_zero_std = None
    if table:
        exec(BLOCKS["advantages"], scope)
        frac_reward_zero_std = eval(BLOCKS["frac"], scope)
    else:
        scope["advantages"] = advantages
    exec(BLOCKS["sampling"], scope)
    return scope, frac_reward_zero_std


def compute_loss(trainer, scope, completion_ids, advantages, logp, entropies, ref_per_token_logps):
    """TRL's _compute_loss on the inputs _generate_and_score_completions would hand it (a
    one-token prompt), with the model's log-probs and entropies replaced by `logp` and
    `entropies`; backward() runs. Returns the loss and the inputs."""
    b, t_max = completion_ids.shape

    def per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep, **kwargs):
        assert logits_to_keep == t_max and kwargs.get("compute_entropy")
        return logp, entropies, None

    trainer._get_per_token_logps_and_entropies = per_token_logps_and_entropies
    inputs = {
        "prompt_ids": torch.full((b, 1), TOKEN_ID, dtype=torch.long),
        "prompt_mask": torch.ones(b, 1, dtype=torch.long),
        "completion_ids": completion_ids, "completion_mask": scope["completion_mask"],
        "advantages": advantages, "num_items_in_batch": scope["num_items_in_batch"],
    }
    if scope["old_per_token_logps"] is not None:
        inputs["old_per_token_logps"] = scope["old_per_token_logps"]
    if trainer.use_vllm and trainer.vllm_importance_sampling_correction:
        inputs["importance_sampling_ratio"] = scope["vllm_importance_sampling_ratio"]
    if scope["sampling_per_token_logps"] is not None:
        inputs["sampling_per_token_logps"] = scope["sampling_per_token_logps"]
    if ref_per_token_logps is not None:
        inputs["ref_per_token_logps"] = ref_per_token_logps
    if scope["tool_mask"] is not None:
        inputs["tool_mask"] = scope["tool_mask"]
    loss = trainer._compute_loss(None, inputs)
    loss.backward()
    return loss, inputs



def run_trl(batch, out_dir, extra_columns=0, junk=False):
    cfg = batch["config"]
    groups = batch["groups"]
    g = len(groups[0]["completions"])
    if any(len(grp["completions"]) != g for grp in groups):
        raise ValueError("every group needs the same number of completions")
    rows = [c for grp in groups for c in grp["completions"]]
    b = len(rows)
    lengths = [len(c["logp"]) for c in rows]
    if min(lengths) < 1:
        raise ValueError("empty completions are not in this fixture's family")

    if "rewards_per_func" in groups[0]:
        table = [[math.nan if v is None else float(v) for v in row] for grp in groups for row in grp["rewards_per_func"]]
    else:
        table = [[float(r)] for grp in groups for r in grp["rewards"]]
    n_funcs = len(table[0])

    def given(key):
        n = sum(key in c for c in rows)
        if n not in (0, b):
            raise ValueError("%s is given for %d of %d completions" % (key, n, b))
        return n == b

    off_policy, has_sampler, has_tool = given("old_logp"), given("sampler_logp"), any("mask" in c for c in rows)
    use_vllm = has_sampler  # vLLM is the sampler whose log-probs sampler_logp are
    args = trl_config(cfg, b, g, off_policy, use_vllm, out_dir)
    trainer = build_trainer(args, n_funcs)
    # vLLM with the correction: TRL always computes old_per_token_logps (= logp on-policy).
    pass_old = off_policy or (trainer.use_vllm and trainer.vllm_importance_sampling_correction)

    t_max = max(lengths) + extra_columns

    def padded(key, fallback="logp"):
        value = JUNK_PAD.get(key, 0.0) if junk else 0.0
        out = torch.full((b, t_max), value, dtype=torch.float64)
        for i, c in enumerate(rows):
            out[i, :lengths[i]] = torch.tensor(c.get(key, c[fallback]), dtype=torch.float64)
        return out

    previous = torch.get_default_dtype()
    torch.set_default_dtype(DEFAULT_DTYPE)
    try:
        # The generation method's tensors, built as it builds them (right padding, TRL's pad);
        # completion_ids_list ends in EOS unless the completion is truncated.
        completion_ids_list = [[TOKEN_ID] * (n - 1) + [TOKEN_ID if c.get("truncated", False) else EOS_ID]
                               for n, c in zip(lengths, rows)]
        pad = grpo_trainer.pad
        extend = (lambda x, v: torch.cat([x, torch.full((b, extra_columns), v, dtype=x.dtype)], dim=1)
                  if extra_columns else x)
        ids = [torch.tensor(x) for x in completion_ids_list]
        completion_ids = extend(pad(ids, padding_value=PAD_ID, padding_side="right"), PAD_ID)
        completion_mask = extend(pad([torch.ones_like(x, dtype=torch.long) for x in ids], padding_value=0,
                                     padding_side="right"), 0)
        tool_mask = None
        if has_tool:
            tool_mask = extend(pad([torch.tensor(c.get("mask", [1] * n)) for n, c in zip(lengths, rows)],
                                   padding_value=1, padding_side="right"), 1)
        sampling_per_token_logps = None
        if has_sampler:  # TRL pads these with 0.0, whatever the padding of the rest
            sampling_per_token_logps = extend(pad([torch.tensor(c["sampler_logp"], dtype=torch.float64) for c in rows],
                                                  padding_value=0.0, padding_side="right"), 0.0)
        old_per_token_logps = padded("old_logp") if pass_old else None

        scope, frac_reward_zero_std = generation_lines(
            trainer, g, completion_ids_list, completion_ids, completion_mask, tool_mask,
            sampling_per_token_logps, old_per_token_logps, table)

        logp = padded("logp")
        logp.requires_grad_(True)
        entropies = padded("entropy")
        entropies.requires_grad_(True)
        loss, inputs = compute_loss(trainer, scope, completion_ids, scope["advantages"], logp, entropies,
                                    padded("ref_logp") if trainer.beta != 0.0 else None)
    finally:
        torch.set_default_dtype(previous)

    metrics = {k: clean(v[-1]) for k, v in trainer._metrics["train"].items()}
    metrics["frac_reward_zero_std"] = clean(frac_reward_zero_std)
    grad = logp.grad if logp.grad is not None else torch.zeros_like(logp)
    loss_mask = (inputs["completion_mask"] * inputs.get("tool_mask", 1)).bool()
    # d loss / d logp at positions outside the loss mask is 0 (TRL multiplies by the mask).
    if (grad[~loss_mask] != 0).any():
        raise RuntimeError("nonzero d loss / d logp outside the loss mask")
    out = {
        "loss": clean(loss.item()),
        "grad_logp": [[clean(x) for x in grad[i, :n].tolist()] for i, n in enumerate(lengths)],
        "advantages": [clean(x) for x in scope["advantages"].tolist()],
        "metrics": dict(sorted(metrics.items())),
    }
    if trainer._entropy_bonus_enabled:
        ge = entropies.grad if entropies.grad is not None else torch.zeros_like(entropies)
        out["grad_entropy"] = [[clean(x) for x in ge[i, :n].tolist()] for i, n in enumerate(lengths)]
    return out


# --------------------------------------------------------------------------------------------
# The batch family
# --------------------------------------------------------------------------------------------

def f32(x):
    """x, checked to be a float32 value (TRL's entropy quantile is float32, as a model's entropies are)."""
    if float(torch.tensor(x, dtype=torch.float32).item()) != x:
        raise ValueError("entropy %r is not a float32 value" % x)
    return x


# 3 prompts x G = 3, lengths 3 5 1 | 4 2 5 | 2 3 4. Per completion: logp; lr = logp - old_logp
# (spread past log 0.8 / log 1.28, and past log 5 where the advantage is positive); rd = ref_logp -
# logp; entropies, multiples of 1/64 (float32 values, no ties); sd = sampler_logp - old_logp
# (sampler ratio exp(old - sampler) from 0.30 to 3.7). Every log-prob is negative.
BASE = [
    # group 0: rewards 1, 0, 0.25 -> A +, -, -
    dict(logp=[-0.4, -1.2, -0.35], lr=[0.35, 1.8, -0.1], rd=[0.1, -0.3, 0.05],
         ent=[0.8125, 2.40625, 0.140625], sd=[0.2, -0.9, 0.05]),
    dict(logp=[-2.1, -1.7, -1.6, -0.6, -2.8], lr=[-0.45, -1.4, 0.2, -0.3, -0.75], rd=[-0.2, 0.4, 0.0, 0.15, -0.5],
         ent=[1.578125, 0.046875, 2.921875, 1.203125, 0.65625], sd=[0.8, -0.1, 0.3, 0.1, -0.2]),
    dict(logp=[-0.9], lr=[-0.8], rd=[0.3], ent=[2.0], sd=[-1.3]),
    # group 1: rewards 0.2, 0.9, 0.4 -> A -, +, -
    dict(logp=[-1.0, -0.45, -1.9, -0.6], lr=[0.1, -0.25, 0.3, -0.05], rd=[-0.1, 0.2, 0.25, -0.05],
         ent=[0.375, 1.46875, 2.234375, 0.90625], sd=[0.1, 0.0, -0.2, 0.15]),
    dict(logp=[-0.6, -1.4], lr=[1.7, 0.26], rd=[0.45, -0.15], ent=[2.75, 0.515625], sd=[-0.4, -0.5]),
    dict(logp=[-0.8, -2.4, -1.1, -1.1, -0.9], lr=[-0.1, 0.4, -0.2, 0.05, -0.6], rd=[0.0, -0.35, 0.1, 0.2, -0.25],
         ent=[1.125, 0.265625, 1.828125, 2.578125, 0.734375], sd=[0.3, -0.2, 0.75, -0.1, 0.05]),
    # group 2: rewards all 0.5 -> A = 0
    dict(logp=[-0.3, -1.7], lr=[0.5, -0.3], rd=[0.05, 0.3], ent=[0.96875, 1.34375], sd=[0.0, 0.1]),
    dict(logp=[-1.3, -0.2, -0.9], lr=[-0.4, 0.15, 1.65], rd=[-0.2, 0.1, 0.4], ent=[2.109375, 0.59375, 1.6875],
         sd=[-0.3, 0.2, 0.1]),
    dict(logp=[-0.6, -1.5, -1.75, -2.2], lr=[0.05, -0.7, 0.25, -0.15], rd=[0.15, -0.1, -0.3, 0.05],
         ent=[0.21875, 2.46875, 1.046875, 0.828125], sd=[0.05, -0.05, 1.2, 0.0]),
]
BASE_REWARDS = [[1.0, 0.0, 0.25], [0.2, 0.9, 0.4], [0.5, 0.5, 0.5]]
# Two reward functions, (B, 2) per group; None = the function could not score it (TRL's NaN).
# Row 2 is unscorable (all None); in group 2 the first function is constant. No group has equal
# summed rewards: normalize_then_sum's batch mean of such a batch is ~1e-17, not 0, which would give
# an equal group A = +-1e-17 and make its ratios count in the clip metrics (see tools/README.md).
BASE_REWARDS_PER_FUNC = [
    [[1.0, 0.5], [0.0, None], [None, None]],
    [[0.2, 1.0], [0.9, 0.0], [None, 0.25]],
    [[0.5, 0.0], [0.5, 1.0], [0.5, 0.25]],
]
# The same with group 2 equal in both functions (for the artefact case).
REWARDS_PER_FUNC_EQUAL_GROUP = BASE_REWARDS_PER_FUNC[:2] + [[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]]
TOOL_MASKS = {0: [1, 0, 1], 5: [1, 1, 0, 0, 1]}  # rows with tokens outside the loss (tool output)
TRUNCATED_TWO = (1, 5)  # the two completions of length max_completion_length = 5
TRUNCATED_ONE = (1,)

# 2 prompts x G = 3, every completion of length 1 (padded T = 1).
T1 = [
    dict(logp=[-0.5], lr=[0.4], rd=[0.1], ent=[0.90625], sd=[0.0]),
    dict(logp=[-1.1], lr=[-0.5], rd=[-0.2], ent=[1.703125], sd=[0.0]),
    dict(logp=[-0.6], lr=[0.1], rd=[0.3], ent=[0.40625], sd=[0.0]),
    dict(logp=[-0.8], lr=[-0.35], rd=[0.05], ent=[1.203125], sd=[0.0]),
    dict(logp=[-0.2], lr=[0.3], rd=[-0.1], ent=[0.59375], sd=[0.0]),
    dict(logp=[-1.4], lr=[0.2], rd=[0.2], ent=[2.09375], sd=[0.0]),
]
T1_REWARDS = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.5]]

TRL_DEFAULTS = {  # TRL 1.16.0 GRPOConfig defaults, except max_completion_length (ours: 5)
    "loss_type": "dapo", "epsilon": 0.2, "epsilon_high": None, "delta": None, "beta": 0.0,
    "use_bias_correction_kl": True, "scale_rewards": "group", "importance_sampling_level": "token",
    "max_completion_length": 5, "top_entropy_quantile": 1.0,
    # Off here unless the case has sampler_logp (TRL's default True acts only with vLLM).
    "vllm_importance_sampling_correction": False, "vllm_importance_sampling_mode": "sequence_mask",
    "vllm_importance_sampling_clip_min": None, "vllm_importance_sampling_clip_max": 3.0,
    "sapo_temperature_pos": 1.0, "sapo_temperature_neg": 1.05,
    "vespo_k_pos": 2.0, "vespo_lambda_pos": 3.0, "vespo_k_neg": 3.0, "vespo_lambda_neg": 2.0,
    "off_policy_mask_threshold": None, "entropy_coef": 0.0, "use_adaptive_entropy": False,
    "mask_truncated_completions": False, "reward_weights": None, "multi_objective_aggregation": "sum_then_normalize",
}
OUR_FIXED = {"std_epsilon": 0.0001, "std_estimator": "sample", "kl_estimator": "k3"}


def r10(x):
    return round(x, 10) + 0.0


def make_batch(config, rows=BASE, rewards=BASE_REWARDS, g=3, on_policy=False, ref=False, sampler=False,
               tool=False, truncated=(), rewards_per_func=None, drift=1.0):
    """One case's batch: the rows above, old_logp = logp - drift * lr (and so on), config in full."""
    cfg = dict(TRL_DEFAULTS)
    unknown = set(config) - set(cfg)
    if unknown:
        raise KeyError("unknown config keys %s" % sorted(unknown))
    cfg.update(config)
    cfg.update(OUR_FIXED)
    groups = []
    for k in range(len(rows) // g):
        completions = []
        for j in range(g):
            i = k * g + j
            r = rows[i]
            c = {"logp": list(r["logp"])}
            old = [r10(x - drift * d) for x, d in zip(r["logp"], r["lr"])]
            if not on_policy:
                c["old_logp"] = old
            if ref:
                c["ref_logp"] = [r10(x + d) for x, d in zip(r["logp"], r["rd"])]
            c["entropy"] = [f32(x) for x in r["ent"]]
            if sampler:
                base = old if not on_policy else r["logp"]
                c["sampler_logp"] = [r10(x + d) for x, d in zip(base, r["sd"])]
            if i in truncated:
                c["truncated"] = True
            if tool and i in TOOL_MASKS:
                c["mask"] = list(TOOL_MASKS[i])
            for key in ("logp", "old_logp", "ref_logp", "sampler_logp"):
                if any(x >= 0 for x in c.get(key, [])):
                    raise ValueError("row %d: %s has a value >= 0" % (i, key))
            completions.append(c)
        grp = {"rewards_per_func": rewards_per_func[k]} if rewards_per_func else {"rewards": list(rewards[k])}
        grp["completions"] = completions
        groups.append(grp)
    ents = [e for grp in groups for c in grp["completions"] for e in c["entropy"]]
    if len(set(ents)) != len(ents):
        raise ValueError("tied entropies")
    return {"config": cfg, "groups": groups}


CASES = []


def case(name, what, config, **batch):
    # VESPO's weight of a completion with a summed log-ratio of 2 is ~1e-7: the VESPO cases take a
    # quarter of the drift, so that every completion's weight is of order 1.
    if config.get("loss_type") == "vespo":
        batch.setdefault("drift", 0.25)
    CASES.append((name, what, make_batch(config, **batch)))


CLIP = {"vllm_importance_sampling_clip_min": 0.5, "vllm_importance_sampling_clip_max": 2.0}
VLLM = {"vllm_importance_sampling_correction": True}

# Every loss type with TRL's defaults for its parameters, token level.
for lt in ["grpo", "bnpo", "dapo", "dr_grpo"]:
    case(lt + "_token", "%s, token level, TRL defaults (epsilon 0.2 both sides), off-policy" % lt, {"loss_type": lt})
case("cispo_token_eps_high_5", "cispo with epsilon_high 5.0 (ScaleRL's cap): caps the ratio 6.05 and 5.47 tokens",
     {"loss_type": "cispo", "epsilon_high": 5.0})
case("cispo_token_eps_high_1.1", "cispo with cap 1.1: binds on most tokens (weight min(r, 1.1), no lower bound)",
     {"loss_type": "cispo", "epsilon_high": 1.1})
case("cispo_token_default_cap", "cispo with epsilon_high null: TRL's cap is then epsilon = 0.2 itself, so every "
     "weight is min(r, 0.2)", {"loss_type": "cispo"})
case("sapo_token", "sapo, temperatures 1.0 (A > 0) / 1.05 (A <= 0), token level", {"loss_type": "sapo"})
case("luspo_token", "luspo at token level (TRL warns; the loss is sum over tokens, mean over completions)",
     {"loss_type": "luspo"})
case("vespo_token", "vespo, k/lambda 2/3 (A >= 0) and 3/2 (A < 0), no sampler (log-ratios x 0.25, as in every "
     "vespo case but the next)", {"loss_type": "vespo"})
case("vespo_token_full_drift", "vespo on the full log-ratios: completions 0 and 4 (summed log-ratio ~2) get "
     "phi ~1e-7", {"loss_type": "vespo"}, drift=1.0)

# Sequence level (GSPO ratio: exp of the mean log-ratio over the loss tokens).
case("grpo_sequence", "grpo at sequence level (GSPO), TRL's epsilon 0.2",
     {"loss_type": "grpo", "importance_sampling_level": "sequence"})
case("luspo_sequence", "luspo at sequence level: the GSPO term times the completion's length",
     {"loss_type": "luspo", "importance_sampling_level": "sequence"})
case("sapo_sequence", "sapo at sequence level", {"loss_type": "sapo", "importance_sampling_level": "sequence"})
case("cispo_sequence_eps_high_1.1", "cispo at sequence level, cap 1.1",
     {"loss_type": "cispo", "epsilon_high": 1.1, "importance_sampling_level": "sequence"})

# On-policy (no old_logp): SAPO's gradient is PPO's there.
case("grpo_on_policy", "grpo on-policy (old_logp omitted: TRL uses logp.detach(), every ratio 1)",
     {"loss_type": "grpo"}, on_policy=True)
case("sapo_on_policy", "sapo on-policy: loss -2/tau * A per token, gradient equal to grpo_on_policy's",
     {"loss_type": "sapo"}, on_policy=True)
case("sapo_token_temps_0.5_2.0", "sapo with asymmetric temperatures 0.5 (A > 0) and 2.0 (A <= 0)",
     {"loss_type": "sapo", "sapo_temperature_pos": 0.5, "sapo_temperature_neg": 2.0})

# VESPO.
case("vespo_token_k_lambda_custom", "vespo with k_pos 1.5, lambda_pos 4.0, k_neg 2.5, lambda_neg 0.5",
     {"loss_type": "vespo", "vespo_k_pos": 1.5, "vespo_lambda_pos": 4.0, "vespo_k_neg": 2.5, "vespo_lambda_neg": 0.5})
case("vespo_vllm_token_truncate", "vespo with sampler_logp and the correction, token_truncate [0.5, 2.0]: the log of "
     "each token's truncated sampler ratio is added to the sequence log-weight",
     {"loss_type": "vespo", **VLLM, "vllm_importance_sampling_mode": "token_truncate", **CLIP}, sampler=True)
case("vespo_vllm_token_mask", "vespo with sampler_logp, token_mask (C_max 3.0): a masked token's ratio 0 enters "
     "as log(1e-8), which all but zeroes that completion's weight",
     {"loss_type": "vespo", **VLLM, "vllm_importance_sampling_mode": "token_mask"}, sampler=True)

# The vLLM sampler correction, every mode, under dapo and grpo.
for lt in ["dapo", "grpo"]:
    for mode in ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"]:
        case("%s_vllm_%s" % (lt, mode), "%s with the sampler correction %s, clip [0.5, 2.0]" % (lt, mode),
             {"loss_type": lt, **VLLM, "vllm_importance_sampling_mode": mode, **CLIP}, sampler=True)
case("dapo_vllm_defaults", "dapo with the correction at TRL's defaults: sequence_mask, C_min none, C_max 3.0",
     {"loss_type": "dapo", **VLLM}, sampler=True)

# Off-policy sequence mask (DeepSeek-V3.2): drop A < 0 completions whose mean KL exceeds the threshold.
case("dapo_opsm_0.05", "off_policy_mask_threshold 0.05 from old_logp: drops the A < 0 completions 1, 2 and 5",
     {"loss_type": "dapo", "off_policy_mask_threshold": 0.05})
case("dapo_opsm_0.5", "off_policy_mask_threshold 0.5 from old_logp: drops completions 1 and 2",
     {"loss_type": "dapo", "off_policy_mask_threshold": 0.5})
case("dapo_opsm_0.5_sampler", "off_policy_mask_threshold 0.5 with sampler_logp (correction off): the KL is "
     "sampler_logp - logp, so completion 1 is dropped and completion 2 kept (its one token is clipped anyway)",
     {"loss_type": "dapo", "off_policy_mask_threshold": 0.5}, sampler=True)
case("grpo_opsm_0.05_sampler_vllm", "off_policy_mask_threshold 0.05 from sampler_logp with the correction "
     "(sequence_mask, TRL defaults)", {"loss_type": "grpo", "off_policy_mask_threshold": 0.05, **VLLM}, sampler=True)

# Entropy bonus: each coefficient and each quantile under each of dapo and grpo.
for lt, coef, q in [("dapo", 0.01, 1.0), ("dapo", 0.1, 0.5), ("grpo", 0.1, 1.0), ("grpo", 0.01, 0.5)]:
    case("%s_entropy_coef_%s_top_%s" % (lt, coef, q),
         "%s with entropy_coef %s: the bonus is the mean entropy over the loss tokens%s" % (
             lt, coef, "" if q == 1.0 else " that top_entropy_quantile 0.5 keeps"),
         {"loss_type": lt, "entropy_coef": coef, "top_entropy_quantile": q})

# Truncated completions.
case("dapo_mask_truncated_two", "mask_truncated_completions with completions 1 and 5 truncated: their grad is 0 "
     "and their tokens leave N", {"loss_type": "dapo", "mask_truncated_completions": True}, truncated=TRUNCATED_TWO)
case("dapo_truncated_flags_unmasked", "the same truncated flags with mask_truncated_completions false: equal to "
     "dapo_token", {"loss_type": "dapo"}, truncated=TRUNCATED_TWO)
case("grpo_mask_truncated_one", "grpo, mask_truncated_completions with completion 1 truncated: it still counts "
     "in the mean over the B completions", {"loss_type": "grpo", "mask_truncated_completions": True},
     truncated=TRUNCATED_ONE)
case("dr_grpo_mask_truncated_two", "dr_grpo, mask_truncated_completions, two truncated (denominator stays B * 5)",
     {"loss_type": "dr_grpo", "mask_truncated_completions": True}, truncated=TRUNCATED_TWO)

# Tool masks (per-token loss mask inside a completion).
for lt in ["grpo", "dapo", "dr_grpo"]:
    case("%s_tool_mask" % lt, "%s with tool masks on completions 0 ([1,0,1]) and 5 ([1,1,0,0,1])" % lt,
         {"loss_type": lt}, tool=True)
case("luspo_sequence_tool_mask", "luspo at sequence level with tool masks (mean log-ratio and length over "
     "the loss tokens)", {"loss_type": "luspo", "importance_sampling_level": "sequence"}, tool=True)
case("grpo_sequence_tool_mask", "grpo at sequence level with tool masks",
     {"loss_type": "grpo", "importance_sampling_level": "sequence"}, tool=True)
case("dapo_tool_mask_top_entropy_0.5", "tool masks with top_entropy_quantile 0.5 (the quantile over loss tokens only)",
     {"loss_type": "dapo", "top_entropy_quantile": 0.5}, tool=True)
case("dapo_tool_mask_vllm_sequence_truncate", "tool masks with the sampler correction sequence_truncate [0.5, 2.0] "
     "(the sequence ratio sums over loss tokens only)",
     {"loss_type": "dapo", **VLLM, "vllm_importance_sampling_mode": "sequence_truncate", **CLIP},
     sampler=True, tool=True)
case("dapo_tool_mask_opsm_0.05", "tool masks with off_policy_mask_threshold 0.05 (mean KL over loss tokens)",
     {"loss_type": "dapo", "off_policy_mask_threshold": 0.05}, tool=True)
case("dapo_tool_mask_truncated", "tool masks and mask_truncated_completions (completion 5 has both)",
     {"loss_type": "dapo", "mask_truncated_completions": True}, tool=True, truncated=TRUNCATED_TWO)

# KL (k3, beta 0.04) with the newer losses, with and without the ratio on the KL term.
for lt, extra in [("cispo", {"epsilon_high": 5.0}), ("sapo", {}), ("vespo", {}),
                  ("luspo", {"importance_sampling_level": "sequence"})]:
    for bias in [True, False]:
        case("%s_beta_0.04_%s" % (lt, "bias_corr" if bias else "no_bias_corr"),
             "%s with beta 0.04, use_bias_correction_kl %s" % (lt, str(bias).lower()),
             {"loss_type": lt, "beta": 0.04, "use_bias_correction_kl": bias, **extra}, ref=True)

# Several reward functions.
W = {"reward_weights": [1.0, 0.5]}
case("rewards_sum_then_normalize", "2 reward functions, weights [1, 0.5], null entries, completion 2 unscorable; "
     "sum_then_normalize, group scaling", {"loss_type": "grpo", **W}, rewards_per_func=BASE_REWARDS_PER_FUNC)
case("rewards_sum_then_normalize_batch", "the same, scale_rewards batch",
     {"loss_type": "grpo", "scale_rewards": "batch", **W}, rewards_per_func=BASE_REWARDS_PER_FUNC)
case("rewards_sum_then_normalize_none", "the same, scale_rewards none",
     {"loss_type": "grpo", "scale_rewards": "none", **W}, rewards_per_func=BASE_REWARDS_PER_FUNC)
case("rewards_normalize_then_sum", "the same rewards, normalize_then_sum (GDPO): per-function group "
     "normalization, weighted sum, batch normalization",
     {"loss_type": "grpo", "multi_objective_aggregation": "normalize_then_sum", **W},
     rewards_per_func=BASE_REWARDS_PER_FUNC)
case("rewards_normalize_then_sum_scale_none", "normalize_then_sum with scale_rewards none: TRL ignores "
     "scale_rewards there (same numbers as rewards_normalize_then_sum)",
     {"loss_type": "grpo", "multi_objective_aggregation": "normalize_then_sum", "scale_rewards": "none", **W},
     rewards_per_func=BASE_REWARDS_PER_FUNC)
case("rewards_sum_then_normalize_unweighted", "2 reward functions, reward_weights null (all 1), dapo",
     {"loss_type": "dapo"}, rewards_per_func=BASE_REWARDS_PER_FUNC)

# Combinations.
case("combo_luspo_sequence_tool_opsm_entropy_beta", "luspo, sequence level, tool masks, off-policy mask 0.05, "
     "entropy_coef 0.01, beta 0.04 with bias correction",
     {"loss_type": "luspo", "importance_sampling_level": "sequence", "off_policy_mask_threshold": 0.05,
      "entropy_coef": 0.01, "beta": 0.04}, ref=True, tool=True)
case("combo_dapo_vllm_opsm_truncated_entropy", "dapo epsilon_high 0.28, sampler token_truncate [0.5, 2.0], "
     "off-policy mask 0.5 (from sampler_logp), mask_truncated_completions, top_entropy_quantile 0.5, entropy_coef 0.1",
     {"loss_type": "dapo", "epsilon_high": 0.28, **VLLM, "vllm_importance_sampling_mode": "token_truncate", **CLIP,
      "off_policy_mask_threshold": 0.5, "mask_truncated_completions": True, "top_entropy_quantile": 0.5,
      "entropy_coef": 0.1}, sampler=True, truncated=TRUNCATED_ONE)
case("combo_grpo_sequence_delta_beta_rewards_tool", "grpo sequence level, delta 1.5, beta 0.04 without bias "
     "correction, 2 reward functions normalize_then_sum, tool masks",
     {"loss_type": "grpo", "importance_sampling_level": "sequence", "delta": 1.5, "beta": 0.04,
      "use_bias_correction_kl": False, "multi_objective_aggregation": "normalize_then_sum", **W},
     ref=True, tool=True, rewards_per_func=BASE_REWARDS_PER_FUNC)
case("combo_cispo_vllm_sequence_mask_beta_tool_truncated", "cispo cap 5.0, sampler sequence_mask [0.5, 2.0], "
     "beta 0.04, tool masks, mask_truncated_completions (completion 1)",
     {"loss_type": "cispo", "epsilon_high": 5.0, **VLLM, "vllm_importance_sampling_mode": "sequence_mask", **CLIP,
      "beta": 0.04, "mask_truncated_completions": True}, sampler=True, ref=True, tool=True, truncated=TRUNCATED_ONE)
case("combo_vespo_vllm_token_truncate_tool_beta_entropy", "vespo custom k/lambda, sampler token_truncate [0.5, 2.0], "
     "tool masks, beta 0.04, entropy_coef 0.01, top_entropy_quantile 0.5, off-policy mask 0.5",
     {"loss_type": "vespo", "vespo_k_pos": 1.5, "vespo_lambda_pos": 4.0, "vespo_k_neg": 2.5, "vespo_lambda_neg": 0.5,
      **VLLM, "vllm_importance_sampling_mode": "token_truncate", **CLIP, "beta": 0.04, "entropy_coef": 0.01,
      "top_entropy_quantile": 0.5, "off_policy_mask_threshold": 0.5}, sampler=True, ref=True, tool=True)
case("combo_sapo_sequence_vllm_sequence_truncate_opsm_batch", "sapo 0.5/2.0 at sequence level, sampler "
     "sequence_truncate [0.5, 2.0], off-policy mask 0.05, scale_rewards batch, beta 0.04",
     {"loss_type": "sapo", "importance_sampling_level": "sequence", "sapo_temperature_pos": 0.5,
      "sapo_temperature_neg": 2.0, **VLLM, "vllm_importance_sampling_mode": "sequence_truncate", **CLIP,
      "off_policy_mask_threshold": 0.05, "scale_rewards": "batch", "beta": 0.04}, sampler=True, ref=True)

# TRL artefacts: numbers an implementation without padding (or that drops fully masked completions)
# would not give. Each is explained in tools/README.md.
case("artefact_normalize_then_sum_equal_group_tiny_advantage", "normalize_then_sum with group 2 equal in both "
     "functions: its A is -(batch mean) / std with a batch mean of ~1e-17 rather than 0, so A = +-1e-17 and its "
     "tokens with ratio > 1.2 count in clip_ratio/high_mean; loss and gradient are right to ~1e-17",
     {"loss_type": "grpo", "multi_objective_aggregation": "normalize_then_sum", **W},
     rewards_per_func=REWARDS_PER_FUNC_EQUAL_GROUP)
case("artefact_T1_metrics_ignore_mask", "padded T = 1 (every completion of length 1), completion 1 truncated and "
     "masked: TRL's metric helper takes the (B, 1) tensors for per-sequence values and averages them over all B "
     "rows without the mask (entropy, clip ratios); the loss is right",
     {"loss_type": "dapo", "max_completion_length": 1, "mask_truncated_completions": True},
     rows=T1, rewards=T1_REWARDS, truncated=(1,))
case("artefact_sequence_metrics_count_masked_rows", "sequence level with completion 1 truncated and masked: "
     "the clip-ratio means divide by B (the masked row's ratio is exp(0) = 1, never clipped) and low_min sees its 0",
     {"loss_type": "grpo", "importance_sampling_level": "sequence", "mask_truncated_completions": True,
      "epsilon": 0.1}, truncated=TRUNCATED_ONE)
case("artefact_vespo_phi_mean_counts_masked_rows", "vespo with completions 1 and 5 truncated and masked: "
     "vespo/phi_seq_mean averages phi over all B rows, the masked ones at phi(w = 1) = 1",
     {"loss_type": "vespo", "mask_truncated_completions": True}, truncated=TRUNCATED_TWO)
case("artefact_vespo_is_ratio_padding_clip_min_1.2", "vespo, token_truncate with C_min 1.2 > 1: padded and "
     "tool-masked positions have ratio exp(0) = 1, raised to 1.2, and get_gamma_weights sums log(1.2) over them "
     "(unmasked), so a completion's weight depends on the padded length T",
     {"loss_type": "vespo", **VLLM, "vllm_importance_sampling_mode": "token_truncate",
      "vllm_importance_sampling_clip_min": 1.2, "vllm_importance_sampling_clip_max": 3.0}, sampler=True, tool=True)
case("artefact_sampling_metrics_sequence_mode_masked_rows", "sequence_truncate [0.5, 2.0] with completion 1 "
     "truncated and masked: the sampling/importance_sampling_ratio min/mean/max include the masked row's ratio "
     "exp(0) = 1 (token modes take only loss tokens); the loss is right",
     {"loss_type": "dapo", **VLLM, "vllm_importance_sampling_mode": "sequence_truncate", **CLIP,
      "mask_truncated_completions": True}, sampler=True, truncated=TRUNCATED_ONE)


# --------------------------------------------------------------------------------------------
# Hand checks of a few cases against the formulas (independent of TRL's code)
# --------------------------------------------------------------------------------------------

def _rows(batch):
    return [c for grp in batch["groups"] for c in grp["completions"]]


def _close(a, b, tol=1e-12, what=""):
    if a is None or b is None or abs(a - b) > tol * max(1.0, abs(b)):
        raise AssertionError("hand check %s: %r vs %r" % (what, a, b))


def hand_checks(results):
    by = {name: (batch, res) for name, _, batch, res in results}

    def ratios(c):
        return [math.exp(x - o) for x, o in zip(c["logp"], c.get("old_logp", c["logp"]))]

    # cispo at token level, dapo aggregation: d/dlogp_t = -min(r_t, cap) * A / N.
    for name, cap in [("cispo_token_eps_high_5", 5.0), ("cispo_token_eps_high_1.1", 1.1), ("cispo_token_default_cap", 0.2)]:
        batch, res = by[name]
        rows = _rows(batch)
        n = sum(len(c["logp"]) for c in rows)
        for c, a, gr in zip(rows, res["advantages"], res["grad_logp"]):
            for r, g in zip(ratios(c), gr):
                _close(g, -min(r, cap) * a / n, what=name)
    # On-policy SAPO: the same gradient as PPO's (grpo aggregation for both).
    for g1, g2 in zip(by["sapo_on_policy"][1]["grad_logp"], by["grpo_on_policy"][1]["grad_logp"]):
        for x, y in zip(g1, g2):
            _close(x, y, what="sapo on-policy = grpo on-policy")
    # Truncated + masked: grad 0 on the truncated rows, and dapo's N without their tokens.
    batch, res = by["dapo_mask_truncated_two"]
    rows = _rows(batch)
    kept = [i for i, c in enumerate(rows) if not c.get("truncated")]
    n = sum(len(rows[i]["logp"]) for i in kept)
    total = 0.0
    for i, c in enumerate(rows):
        a = res["advantages"][i]
        for t, r in enumerate(ratios(c)):
            g = res["grad_logp"][i][t]
            if i not in kept:
                _close(g, 0.0, what="truncated grad")
                continue
            clipped = min(max(r, 0.8), 1.2)
            total += -min(r * a, clipped * a)
            grad = -r * a if r * a <= clipped * a else 0.0  # the unclipped branch carries the gradient
            _close(g, grad / n, what="dapo truncated grad")
    _close(res["loss"], total / n, what="dapo truncated loss")
    # mask_truncated_completions false: the flags change nothing.
    for key in ("loss", "grad_logp", "advantages", "metrics"):
        if by["dapo_truncated_flags_unmasked"][1][key] != by["dapo_token"][1][key]:
            raise AssertionError("hand check: truncated flags without masking changed %s" % key)
    # VESPO: phi = exp(lambda + k log w - lambda w), w = exp(sum_t log r_t); d/dlogp_t = -phi * A / N.
    batch, res = by["vespo_token"]
    rows = _rows(batch)
    n = sum(len(c["logp"]) for c in rows)
    phis = []
    for c, a, gr in zip(rows, res["advantages"], res["grad_logp"]):
        lw = sum(x - o for x, o in zip(c["logp"], c["old_logp"]))
        k, lam = (2.0, 3.0) if a >= 0 else (3.0, 2.0)
        phi = math.exp(lam + k * lw - lam * math.exp(lw))
        phis.append(phi)
        for g in gr:
            _close(g, -phi * a / n, what="vespo grad")
    _close(res["metrics"]["vespo/phi_seq_mean"], sum(phis) / len(phis), what="vespo phi mean")
    # Off-policy mask: the dropped rows (A < 0, mean KL > threshold) get no gradient; at least one is dropped.
    for name, thr, key in [("dapo_opsm_0.05", 0.05, "old_logp"), ("dapo_opsm_0.5", 0.5, "old_logp"),
                           ("dapo_opsm_0.5_sampler", 0.5, "sampler_logp")]:
        batch, res = by[name]
        visible = 0
        for c, a, gr, g0 in zip(_rows(batch), res["advantages"], res["grad_logp"], by["dapo_token"][1]["grad_logp"]):
            kl = sum(s - x for s, x in zip(c[key], c["logp"])) / len(c["logp"])
            drop = a < 0 and kl > thr
            for x, y in zip(gr, g0):
                _close(x, 0.0 if drop else y, what=name)
            visible += drop and any(y != 0 for y in g0)
        if not visible:
            raise AssertionError("hand check %s: no completion with a gradient dropped" % name)
    # The entropy bonus changes the loss by -coef * mean entropy and not d loss / d logp.
    for lt, coef in (("dapo", 0.01), ("grpo", 0.1)):
        batch, res = by["%s_entropy_coef_%s_top_1.0" % (lt, coef)]
        ents = [e for c in _rows(batch) for e in c["entropy"]]
        _close(res["loss"], by["%s_token" % lt][1]["loss"] - coef * sum(ents) / len(ents), what="entropy bonus")
        if res["grad_logp"] != by["%s_token" % lt][1]["grad_logp"]:
            raise AssertionError("hand check: entropy bonus changed d loss / d logp")
        for ge in res["grad_entropy"]:
            for x in ge:
                _close(x, -coef / len(ents), what="grad entropy")
    # Tool masks: 0 at the masked tokens.
    batch, res = by["grpo_tool_mask"]
    for c, gr in zip(_rows(batch), res["grad_logp"]):
        for m, g in zip(c.get("mask", []), gr):
            if not m:
                _close(g, 0.0, what="tool-masked grad")
    # Sampler token_truncate under dapo: PPO's gradient times the truncated sampler ratio.
    batch, res = by["dapo_vllm_token_truncate"]
    n = sum(len(c["logp"]) for c in _rows(batch))
    for c, a, gr in zip(_rows(batch), res["advantages"], res["grad_logp"]):
        for r, o, s, g in zip(ratios(c), c["old_logp"], c["sampler_logp"], gr):
            rho = min(max(math.exp(o - s), 0.5), 2.0)
            clipped = min(max(r, 0.8), 1.2)
            grad = -r * a if r * a <= clipped * a else 0.0
            _close(g, rho * grad / n, what="dapo token_truncate grad")
    # The masked-row artefacts: TRL divides by B.
    batch, res = by["artefact_sequence_metrics_count_masked_rows"]
    low = 0
    for c, a in zip(_rows(batch), res["advantages"]):
        if c.get("truncated"):
            continue
        r = math.exp(sum(x - o for x, o in zip(c["logp"], c["old_logp"])) / len(c["logp"]))
        low += r < 0.9 and a < 0
    _close(res["metrics"]["clip_ratio/low_mean"], low / len(res["advantages"]), tol=1e-7, what="sequence low_mean / B")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def differs(a, b, tol=1e-12):
    """Where two results differ, for the padding check."""
    out = []

    def walk(x, y, path):
        if isinstance(x, dict) or isinstance(y, dict):
            if not isinstance(x, dict) or not isinstance(y, dict):
                out.append(path)
                return
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), path + "/" + k)
        elif isinstance(x, list) or isinstance(y, list):
            if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y):
                out.append(path)
                return
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, "%s[%d]" % (path, i))
        elif x is None or y is None:
            if x is not y:
                out.append(path)
        elif abs(x - y) > tol * max(1.0, abs(y)):
            out.append(path)

    walk(a, b, "")
    return out


def dump(doc):
    """Stable text: one line per case, keys in a fixed order, floats as Python's shortest repr."""
    lines = ["{", ' "origin": ' + json.dumps(doc["origin"], allow_nan=False) + ",", ' "cases": [']
    for i, c in enumerate(doc["cases"]):
        lines.append("  " + json.dumps(c, allow_nan=False, separators=(",", ":")) + ("," if i + 1 < len(doc["cases"]) else ""))
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


def generate(selected=None):
    work = tempfile.mkdtemp(prefix="trl-terms-")
    results = []
    names = [name for name, _, _ in CASES]
    if len(set(names)) != len(names):
        sys.exit("duplicate case names")
    for name, what, batch in CASES:
        if selected and name not in selected:
            continue
        res = run_trl(copy.deepcopy(batch), os.path.join(work, "trainer"))
        again = run_trl(copy.deepcopy(batch), os.path.join(work, "trainer"), extra_columns=EXTRA_COLUMNS, junk=True)
        tiny = [a for a in res["advantages"] if a != 0 and abs(a) < 1e-12]
        if tiny and not name.startswith("artefact_"):
            sys.exit("%s: advantages %r are rounding noise, not 0: avoid (or name the case artefact_*)" % (name, tiny))
        where = differs(again, res)
        if where and not name.startswith("artefact_"):
            sys.exit("%s: TRL's result changes with %d more padding columns (junk padding values) at %s; "
                     "name it artefact_* and explain it" % (name, EXTRA_COLUMNS, ", ".join(where[:8])))
        if name.startswith("artefact_"):
            if where:
                res["with_more_padding"] = {"pad_columns": EXTRA_COLUMNS, "differs_at": where,
                                            "loss": again["loss"], "metrics": again["metrics"],
                                            "grad_logp": again["grad_logp"]}
        results.append((name, what, batch, res))
    if not selected:
        hand_checks(results)
    doc = {
        "origin": {
            "script": "tools/trl_terms_golden.py", "trl": trl.__version__, "torch": torch.__version__,
            "note": ("Computed by TRL's own code in float64, with torch's default dtype float64: the truncation, "
                     "vLLM importance-sampling, advantage and sampling-metric lines of "
                     "GRPOTrainer._generate_and_score_completions (read with inspect.getsource and exec'd unchanged), "
                     "then GRPOTrainer._compute_loss and loss.backward(). Rows are completions, group after group. "
                     "Floats are Python's shortest repr of the float64 value; null means NaN. use_vllm was true "
                     "exactly when the completions carry sampler_logp. grad_entropy (entropy-bonus cases only) is "
                     "d loss / d entropy. TRL computes the metrics in float32_metrics from float32 tensors, so "
                     "compare those at ~1e-7 relative. with_more_padding (artefact cases only) holds TRL's numbers "
                     "for the same batch padded by two more columns. See tools/README.md."),
            "float32_metrics": FLOAT32_METRICS,
        },
        "cases": [{"name": name, "what": what, "batch": batch, "trl": res} for name, what, batch, res in results],
    }
    return dump(doc)


def main():
    return golden_cli.main(__doc__.split("\n")[0], CASES, generate, "trl", trl.__version__, TRL_VERSION, DEFAULT_OUT, torch)


if __name__ == "__main__":
    sys.exit(main())
