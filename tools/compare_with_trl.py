#!/usr/bin/env python3
"""Check `grpo-repl explain --json` against TRL 1.16.0's own GRPO loss, on random batches.

For N seeded random batches and configs this script
  1. writes the batch as our batch JSON, every option written out in "config" (our defaults
     differ from TRL's), and runs `grpo-repl explain FILE --json`;
  2. computes the same batch with TRL's own code, in float64:
     - advantages: the advantage lines of `GRPOTrainer._generate_and_score_completions`, taken
       from the installed trl's source at run time (inspect.getsource) and executed as they are
       (that method generates with a model, so it cannot be called on its own);
     - loss and metrics: the real `GRPOTrainer._compute_loss`, called on an instance made with
       `object.__new__(GRPOTrainer)` holding only the attributes that method reads (set as
       `GRPOTrainer.__init__` sets them from a real `GRPOConfig`), with
       `_get_per_token_logps_and_entropies` replaced by one returning our padded (B, T) logp
       (float64, requires_grad) and entropies;
     - d loss / d logp: loss.backward();
  3. compares loss, advantages and the gradient at valid tokens with both of our paths (naive,
     vectorized), and the logged metrics, and prints the largest |ours - TRL| per option family.

TRL is run three ways (see `run_trl`): "bessel64" (pass/fail), its advantage lines with torch's
default dtype float64, because TRL's `nanstd` computes Bessel's factor count / (count - 1) in the
default dtype, float32, even for float64 rewards; "asis", exactly as TRL runs (reported, and
pass/fail only with --strict-asis); "quirks", bessel64 with two TRL logging quirks taken out of
its inputs, to tell which metric differences they explain.

Exit code 0 when loss, advantages and d loss / d logp agree to --tol (default 1e-9) on every
batch, 1 otherwise. Metric differences are listed, with their known cause, but do not fail.

Usage (the venv lives outside the repo):
  python3 -m venv /work/.venv-ref && /work/.venv-ref/bin/pip install torch trl==1.16.0
  swift build --product grpo-repl
  /work/.venv-ref/bin/python tools/compare_with_trl.py --batches 400 --seed 0
  /work/.venv-ref/bin/python tools/compare_with_trl.py --repros        # the minimal batches of each difference
  /work/.venv-ref/bin/python tools/compare_with_trl.py --file B.json   # one batch, every number

Where TRL and we differ on purpose: our advantage is exactly 0 in a group whose own reward std
is <= 1e-8 (TRL's `torch.isclose(std, 0)` test, which TRL uses only for logging); TRL divides
anyway, (r - mean) / (std + 1e-4). The two agree to ~1e-11 for groups of equal rewards (TRL's
mean of equal floats can be an ulp off), but differ by up to ~1e-4 when rewards differ by less
than ~1e-8. Such groups are not generated in the main run; `--near-equal K` adds K batches with
them, reported apart from the pass/fail.
"""

import argparse
import collections
import inspect
import json
import math
import os
import random
import subprocess
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------------------------
# TRL's advantage lines, from the installed source
# --------------------------------------------------------------------------------------------

def trl_advantage_code():
    """The lines of `_generate_and_score_completions` that turn rewards into advantages, from
    `unscorable_mask = ...` to `advantages = torch.nan_to_num(advantages, nan=0.0)`, compiled
    as they are in the installed trl. They read `self.multi_objective_aggregation`,
    `self.reward_weights`, `self.scale_rewards`, `rewards_per_func` (B, n_funcs), `num_generations`
    and `device`, and set `advantages` and `is_std_zero`."""
    source = inspect.getsource(GRPOTrainer._generate_and_score_completions).splitlines()
    start = next(i for i, line in enumerate(source) if "unscorable_mask = torch.isnan(rewards_per_func)" in line)
    end = next(i for i, line in enumerate(source)
               if i > start and "advantages = torch.nan_to_num(advantages, nan=0.0)" in line)
    block = textwrap.dedent("\n".join(source[start:end + 1]))
    if "std_rewards + 1e-4" not in block or "nanstd(rewards.view(-1, num_generations), dim=1)" not in block:
        sys.exit("trl's advantage lines are not the expected ones (trl %s); read them again" % trl.__version__)
    return compile(block, "<trl _generate_and_score_completions: advantages>", "exec")


ADVANTAGE_CODE = trl_advantage_code()


def trl_advantages(trainer, rewards, group_size, bessel64=False):
    """Runs TRL's own advantage lines on float64 rewards (one reward function, weight 1).

    TRL holds rewards in float32 (`rewards_per_func = torch.zeros(...)`); here they are float64,
    to compare the arithmetic rather than the storage. Even so, TRL's `nanstd` computes Bessel's
    factor as `count / (count - 1)` with integer tensors, a true division that yields torch's
    default dtype, float32: for G = 3, 6 (or a batch of 6, 7, ...) the factor is off by up to
    ~3e-8 relative, and so are the std and A (`bessel64=False`, TRL as it is). With
    `bessel64=True` the same lines run with torch's default dtype set to float64, so that factor
    is exact: the formula TRL implements, in float64 throughout."""
    scope = dict(vars(grpo_trainer))  # TRL's module globals: torch, nanstd, ...
    scope.update(self=trainer, rewards_per_func=torch.tensor(rewards, dtype=torch.float64).unsqueeze(1),
                 num_generations=group_size, device=torch.device("cpu"))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if bessel64 else torch.float32)
    try:
        exec(ADVANTAGE_CODE, scope)
    finally:
        torch.set_default_dtype(previous)
    return scope["advantages"], scope["is_std_zero"]


# --------------------------------------------------------------------------------------------
# A GRPOTrainer that is not a full trainer
# --------------------------------------------------------------------------------------------

class SingleProcess:
    """The accelerator calls `_compute_loss` and `get_high_entropy_mask` make, for one process
    (what accelerate's Accelerator does with num_processes == 1)."""
    num_processes = 1
    process_index = 0
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x

    def pad_across_processes(self, x, dim=0, pad_index=0):
        return x


def make_trainer(args):
    """A GRPOTrainer instance without __init__, with the attributes `_compute_loss` (and the
    advantage lines) read, set as GRPOTrainer.__init__ sets them from `args` (trl 1.16.0,
    grpo_trainer.py: `self.X = args.X` lines in __init__)."""
    t = object.__new__(GRPOTrainer)
    t.args = args
    t.loss_type = args.loss_type
    t.beta = args.beta
    t.epsilon_low = args.epsilon
    t.epsilon_high = args.epsilon_high if args.epsilon_high is not None else args.epsilon
    t.importance_sampling_level = args.importance_sampling_level
    t.top_entropy_quantile = args.top_entropy_quantile
    t.max_completion_length = args.max_completion_length
    t.scale_rewards = args.scale_rewards
    t.multi_objective_aggregation = args.multi_objective_aggregation
    t.num_generations = args.num_generations
    t.num_iterations = args.num_iterations
    t.off_policy_mask_threshold = args.off_policy_mask_threshold
    t.use_vllm = args.use_vllm
    t.vllm_importance_sampling_correction = args.vllm_importance_sampling_correction
    t.entropy_coef = args.entropy_coef
    t.use_adaptive_entropy = args.use_adaptive_entropy
    t._entropy_bonus_enabled = t.entropy_coef != 0.0 or t.use_adaptive_entropy
    t.aux_loss_enabled = False  # no MoE router
    t.reward_funcs = [None]  # one reward function ...
    t.reward_weights = torch.ones(1, dtype=torch.float32)  # ... weight 1, as __init__ sets it
    t.accelerator = SingleProcess()
    t.model = types.SimpleNamespace(training=True)  # mode = "train"
    t.current_gradient_accumulation_steps = 1
    t._metrics = {"train": collections.defaultdict(list), "eval": collections.defaultdict(list)}
    return t


def trl_config(cfg, batch_size, group_size, on_policy, out_dir):
    """A real GRPOConfig (TRL's own defaults and checks) with the options under test."""
    return GRPOConfig(
        output_dir=out_dir, report_to="none", use_cpu=True,
        per_device_train_batch_size=batch_size, num_generations=group_size,
        gradient_accumulation_steps=1,
        # With gradient_accumulation_steps % (steps_per_generation * num_iterations) != 0 TRL 1.16
        # computes old_per_token_logps at generation time and passes them to _compute_loss;
        # otherwise it leaves them out and uses per_token_logps.detach() (ratio exactly 1).
        num_iterations=1 if on_policy else 2,
        loss_type=cfg["loss_type"], epsilon=cfg["epsilon"], epsilon_high=cfg["epsilon_high"],
        delta=cfg["delta"], beta=cfg["beta"], use_bias_correction_kl=cfg["use_bias_correction_kl"],
        scale_rewards=cfg["scale_rewards"], importance_sampling_level=cfg["importance_sampling_level"],
        top_entropy_quantile=cfg["top_entropy_quantile"], max_completion_length=cfg["max_completion_length"],
        use_vllm=False, vllm_importance_sampling_correction=False,
    )


def run_trl(batch, cfg, out_dir):
    """TRL's advantages, loss, d loss / d logp and metrics for `batch`, in three runs of the same
    code on slightly different inputs:
      "asis":     TRL's advantage lines as they are (float32 Bessel factor, see `trl_advantages`);
      "bessel64": the same lines with torch's default dtype float64 (exact Bessel factor);
      "quirks":   "bessel64" with two TRL quirks taken out, to tell which metric differences they
                  explain: the advantages of a group whose own reward std is ~0 (`isclose`, as
                  ours) set to exactly 0 (TRL's mean of equal floats can be an ulp off, leaving
                  A = +-1e-17..1e-12, whose sign then counts tokens as clipped), and one more
                  padding column when T = 1 (TRL's metric helper takes any (B, 1) tensor for a
                  sequence-level one and divides by B, empty completions included).
    `_compute_loss` is the same call in all three."""
    groups = batch["groups"]
    g = len(groups[0]["rewards"])
    rows = [c for grp in groups for c in grp["completions"]]
    rewards = [r for grp in groups for r in grp["rewards"]]
    b = len(rows)
    longest = max([len(c["logp"]) for c in rows] + [1])
    on_policy = all("old_logp" not in c for c in rows)
    args = trl_config(cfg, b, g, on_policy, out_dir)
    spread = torch.tensor(rewards, dtype=torch.float64).view(-1, g).std(dim=1)
    equal_group = torch.isclose(spread, torch.zeros_like(spread)).repeat_interleave(g)

    results = {}
    for variant in ("asis", "bessel64", "quirks"):
        t_max = longest + 1 if variant == "quirks" and longest == 1 else longest

        def padded(key, dtype=torch.float64):
            out = torch.zeros(b, t_max, dtype=dtype)
            for i, c in enumerate(rows):
                values = c.get(key, c["logp"])  # a missing old_logp means on-policy (logp), as in our loader
                if values:
                    out[i, :len(values)] = torch.tensor(values, dtype=dtype)
            return out

        mask = torch.zeros(b, t_max, dtype=torch.int32)  # TRL's completion_mask is int
        for i, c in enumerate(rows):
            mask[i, :len(c["logp"])] = 1
        trainer = make_trainer(args)
        logp = padded("logp").requires_grad_(True)
        # A model's entropies are float32; rounding ours to float32 makes TRL's mask (float64
        # entropies >= a float32 threshold) the float32 comparison grpo-swift makes.
        entropies = (padded("entropy").float().double() if "entropy" in rows[0]
                     else torch.zeros(b, t_max, dtype=torch.float64))

        def per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep, **kwargs):
            assert logits_to_keep == t_max and kwargs.get("compute_entropy")
            return logp, entropies, None

        trainer._get_per_token_logps_and_entropies = per_token_logps_and_entropies
        advantages, is_std_zero = trl_advantages(trainer, rewards, g, bessel64=variant != "asis")
        if variant == "quirks":
            advantages = torch.where(equal_group, torch.zeros_like(advantages), advantages)
        inputs = {
            "prompt_ids": torch.zeros(b, 1, dtype=torch.long), "prompt_mask": torch.ones(b, 1, dtype=torch.long),
            "completion_ids": torch.zeros(b, t_max, dtype=torch.long), "completion_mask": mask,
            "advantages": advantages,
            "num_items_in_batch": mask.sum(),  # TRL: accelerator.gather(loss_mask.sum()).sum()
        }
        if not on_policy:
            inputs["old_per_token_logps"] = padded("old_logp")
        if cfg["beta"] != 0.0:
            inputs["ref_per_token_logps"] = padded("ref_logp")
        loss = trainer._compute_loss(None, inputs)
        loss.backward()
        m = trainer._metrics["train"]
        metrics = {  # TRL computes these in float32
            "clip_ratio_low": m["clip_ratio/low_mean"][-1], "clip_ratio_high": m["clip_ratio/high_mean"][-1],
            "clip_ratio_region": m["clip_ratio/region_mean"][-1], "entropy": m["entropy"][-1],
            "frac_reward_zero_std": is_std_zero.float().mean().item(),
        }
        if cfg["beta"] != 0.0:
            metrics["kl"] = m["kl"][-1]
        grad = logp.grad if logp.grad is not None else torch.zeros_like(logp)
        results[variant] = {"loss": loss.item(), "advantages": advantages.tolist(),
                            "grad": [grad[i, :len(c["logp"])].tolist() for i, c in enumerate(rows)],
                            "metrics": metrics}
        if trainer.top_entropy_quantile < 1.0:  # for diagnosis: TRL's own entropy mask, as _compute_loss makes it
            keep = trainer.get_high_entropy_mask(entropies, mask, 1 - trainer.top_entropy_quantile)
            results[variant]["entropy_mask"] = [keep[i, :len(c["logp"])].tolist() for i, c in enumerate(rows)]
            valid = entropies[mask.bool()].float()
            results[variant]["entropy_threshold"] = (
                torch.quantile(valid, 1 - trainer.top_entropy_quantile).item() if valid.numel() else None)
    return results


def entropy_mask_diagnosis(ours, ref, batch):
    """Tokens where our entropy mask (explain's `entropy_mask`) and TRL's get_high_entropy_mask differ."""
    if "entropy_mask" not in ref:
        return None
    rows = [c for grp in batch["groups"] for c in grp["completions"]]
    out = []
    for name in ("naive", "vectorized"):
        mine = ours["paths"][name].get("entropy_mask")
        if mine is None:
            return "%s path reports no entropy_mask" % name
        for i, (a, b) in enumerate(zip(mine, ref["entropy_mask"])):
            for t, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    out.append("%s completion %d token %d entropy %r: ours %s, TRL %s" % (
                        name, i, t, rows[i]["entropy"][t], "keeps" if x else "drops", "keeps" if y else "drops"))
    if not out:
        return None
    return "entropy mask differs (TRL threshold torch.quantile(float32) = %r): %s" % (ref["entropy_threshold"], "; ".join(out))


def metric_cause(cfg, where):
    """The known reason for a metric difference left after the "quirks" run."""
    hi = cfg["epsilon_high"] if cfg["epsilon_high"] is not None else cfg["epsilon"]
    if where.split(": ")[-1].startswith("clip_ratio_high") or where.split(": ")[-1].startswith("clip_ratio_region"):
        if cfg["delta"] is not None and cfg["delta"] <= 1 + hi:
            return "delta <= 1 + epsilon_high: TRL tests coef_1 > 1 + epsilon_high after capping coef_1 at delta"
    return "UNEXPLAINED"


def run_ours(binary, path):
    proc = subprocess.run([binary, "explain", path, "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("grpo-repl explain %s exited %d: %s" % (path, proc.returncode, proc.stderr.strip()))
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# Random batches and configs
# --------------------------------------------------------------------------------------------

def random_config(rng, max_len):
    eps = rng.choice([0.1, 0.2, 0.3, round(rng.uniform(0.02, 0.6), 4)])
    level = rng.choice(["token", "token", "sequence"])
    if level == "sequence" and rng.random() < 0.6:
        eps = rng.choice([3e-4, 1e-3, 0.02])  # GSPO's clip widths, so that clipping fires
    eps_high = rng.choice([None, None, round(eps * rng.uniform(1.0, 2.0), 6)])
    hi = eps_high if eps_high is not None else eps
    delta = rng.choice([None, None, round(rng.uniform(1.0 + hi, 1.0 + hi + 2.0), 4),
                        round(rng.uniform(1.0001, 1.0 + hi), 6)])  # the last: a cap inside the clip range
    beta = rng.choice([0.0, 0.0, 0.04, round(rng.uniform(0.001, 1.0), 4)])
    rho = rng.choice([1.0, 1.0, 1.0, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, round(rng.uniform(0.05, 0.95), 3)])
    return {
        "loss_type": rng.choice(["grpo", "bnpo", "dapo", "dr_grpo"]),
        "epsilon": eps, "epsilon_high": eps_high, "delta": delta, "beta": beta,
        "use_bias_correction_kl": rng.random() < 0.5,
        "scale_rewards": rng.choice(["group", "batch", "none"]),
        "importance_sampling_level": level,
        "max_completion_length": max_len + rng.choice([0, 0, 1, 7]),
        "top_entropy_quantile": rho,
    }


OUR_FIXED = {  # our switches, at TRL's behaviour
    "std_estimator": "sample", "std_epsilon": 1e-4, "kl_estimator": "k3",
    "vllm_importance_sampling_correction": False, "vllm_importance_sampling_mode": "sequence_mask",
    "vllm_importance_sampling_clip_max": 3.0,
}


def random_rewards(rng, g, kind):
    if kind == "binary":
        return [float(rng.random() < 0.5) for _ in range(g)]
    if kind == "continuous":
        return [rng.uniform(-2.0, 3.0) for _ in range(g)]
    if kind == "all_equal":
        return [rng.choice([0.0, 1.0, 0.1, 0.7, rng.uniform(-5, 5)])] * g
    if kind == "discrete":
        return [rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(g)]
    if kind == "near_equal":  # documented difference: group std in (0, 1e-8]
        base = rng.uniform(-1, 1)
        return [base + rng.choice([0.0, 1.0, -1.0]) * 10 ** rng.uniform(-12, -8.5) for _ in range(g)]
    raise ValueError(kind)


def random_batch(rng, near_equal=False):
    n_groups = rng.randint(1, 5)
    g = rng.randint(2, 6)
    max_len = rng.choice([1, 3, 6, 12])
    on_policy = rng.random() < 0.15
    sigma = rng.choice([0.02, 0.1, 0.3, 0.6, 1.5])  # policy drift: log-ratio noise
    # entropies: continuous; on a coarse grid (ties); or LLM-like, many exact zeros (confident
    # tokens) and a wide dynamic range
    entropy_kind = rng.choice(["continuous", "ties", "llm_like"])

    def entropy():
        if entropy_kind == "ties":
            return float(rng.randint(0, 4)) / 2
        if entropy_kind == "llm_like":
            return 0.0 if rng.random() < 0.3 else 10 ** rng.uniform(-4.0, 0.6)
        return rng.uniform(0.0, 4.0)

    kinds = set()
    groups = []
    for _ in range(n_groups):
        kind = rng.choice(["binary", "continuous", "all_equal", "discrete"])
        if near_equal and (not groups or rng.random() < 0.5):
            kind = "near_equal"
        kinds.add(kind)
        completions = []
        for _ in range(g):
            n = 0 if rng.random() < 0.12 else rng.randint(1, max_len)
            logp = [-rng.expovariate(1.0) if rng.random() > 0.05 else 0.0 for _ in range(n)]
            c = {"logp": logp}
            if not on_policy:
                c["old_logp"] = [min(0.0, x + rng.gauss(0.0, sigma)) for x in logp]
            c["ref_logp"] = [min(0.0, x + rng.gauss(0.0, 0.3)) for x in logp]
            c["entropy"] = [entropy() for _ in range(n)]
            completions.append(c)
        groups.append({"rewards": random_rewards(rng, g, kind), "completions": completions})
    longest = max(len(c["logp"]) for grp in groups for c in grp["completions"])
    cfg = random_config(rng, max(longest, 1))
    features = {"rewards=" + k for k in kinds} | {"on_policy" if on_policy else "off_policy"}
    if any(len(c["logp"]) == 0 for grp in groups for c in grp["completions"]):
        features.add("has_empty_completion")
    features.add("entropy=" + entropy_kind)
    return {"groups": groups}, cfg, features


def families(cfg, features):
    """The option families a case belongs to, for the per-family table."""
    f = {"all", "loss_type=" + cfg["loss_type"], "scale_rewards=" + cfg["scale_rewards"],
         "importance_sampling_level=" + cfg["importance_sampling_level"],
         "beta=0" if cfg["beta"] == 0 else "beta>0",
         "epsilon_high=none" if cfg["epsilon_high"] is None else "epsilon_high=set",
         "top_entropy_quantile=1" if cfg["top_entropy_quantile"] == 1 else "top_entropy_quantile<1"}
    if cfg["beta"] != 0:
        f.add("beta>0,use_bias_correction_kl=%s" % str(cfg["use_bias_correction_kl"]).lower())
    hi = cfg["epsilon_high"] if cfg["epsilon_high"] is not None else cfg["epsilon"]
    if cfg["delta"] is None:
        f.add("delta=none")
    else:
        f.add("delta>1+epsilon_high" if cfg["delta"] > 1 + hi else "delta<=1+epsilon_high")
    return f | features


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

def diff(a, b):
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return 0.0 if a == b else math.inf
    return abs(a - b)


def first(pair):
    return pair[0]


QUANTITIES = ("loss", "advantages", "grad")


def compare(ours, ref):
    """Largest |ours - TRL| per quantity over both of our paths, and where it is. Metrics are
    measured relative to max(1, |TRL's value|), since TRL computes them in float32."""
    out = {}
    for name in ("naive", "vectorized"):
        p = ours["paths"][name]
        worst = {"loss": (diff(p["loss"], ref["loss"]), "loss"),
                 "advantages": (0.0, "-"), "grad": (0.0, "-"), "metrics": (0.0, "-")}
        for i, (x, y) in enumerate(zip(p["advantages"], ref["advantages"])):
            worst["advantages"] = max(worst["advantages"], (diff(x, y), "completion %d" % i), key=first)
        if len(p["advantages"]) != len(ref["advantages"]):
            worst["advantages"] = (math.inf, "count")
        for i, (row, ref_row) in enumerate(zip(p["grad_logp"], ref["grad"])):
            if len(row) != len(ref_row):
                worst["grad"] = (math.inf, "completion %d length" % i)
            for t, (x, y) in enumerate(zip(row, ref_row)):
                worst["grad"] = max(worst["grad"], (diff(x, y), "completion %d token %d" % (i, t)), key=first)
        for k, y in ref["metrics"].items():
            d = diff(p["metrics"].get(k), y) / max(1.0, abs(y))
            worst["metrics"] = max(worst["metrics"], (d, "%s ours %r TRL %r" % (k, p["metrics"].get(k), y)), key=first)
        for k, v in worst.items():
            if k not in out or v[0] > out[k][0]:
                out[k] = (v[0], name + ": " + str(v[1]))
    return out


def check_echo(ours, cfg):
    """The config our tool reports is the one written."""
    echoed = ours["config"]
    for k, v in {**cfg, **OUR_FIXED}.items():
        w = echoed.get(k)
        if v is None or isinstance(v, (str, bool)):
            ok = w == v
        else:
            ok = w is not None and not isinstance(w, (str, bool)) and abs(w - v) <= 1e-15 * max(1.0, abs(v))
        if not ok:
            raise RuntimeError("config %s: wrote %r, explain used %r" % (k, v, w))


COLUMNS = [("loss", "bessel64", "loss"), ("adv", "bessel64", "advantages"), ("grad", "bessel64", "grad"),
           ("adv(asis)", "asis", "advantages"), ("loss(asis)", "asis", "loss"), ("grad(asis)", "asis", "grad"),
           ("metrics", "bessel64", "metrics"), ("metrics(-q)", "quirks", "metrics")]


# --------------------------------------------------------------------------------------------
# Minimal batches for each difference found (run them with --repros)
# --------------------------------------------------------------------------------------------

def _repro(cfg, groups):
    base = {"loss_type": "dapo", "epsilon": 0.2, "epsilon_high": None, "delta": None, "beta": 0.0,
            "use_bias_correction_kl": False, "scale_rewards": "none", "importance_sampling_level": "token",
            "max_completion_length": 6, "top_entropy_quantile": 1.0}
    return {"config": {**base, **cfg, **OUR_FIXED}, "groups": groups}


def _c(logp, old=None, entropy=None):
    c = {"logp": logp, "entropy": entropy if entropy is not None else [1.0] * len(logp)}
    if old is not None:
        c["old_logp"] = old
    return c


REPROS = {
    # Loss and gradient: our entropy threshold differs from torch.quantile's in float32.
    "entropy_rank_rho0.7_zeros": (
        "loss/grad: rho = 0.7, 11 tokens, 4 of entropy 0: (1 - rho) * 10 = 3.0000000000000004 in float64, so we "
        "interpolate 0 + 4e-16 * 0.5 > 0 and drop the zero-entropy tokens; torch: float32(0.3) * 10 = 3.0 exactly, "
        "threshold 0.0, TRL keeps them",
        _repro({"top_entropy_quantile": 0.7}, [{"rewards": [1.0, 0.0], "completions": [
            _c([-0.5] * 5, entropy=[0.0, 0.0, 0.0, 0.0, 0.5]),
            _c([-0.5] * 6, entropy=[1.0, 1.5, 2.0, 2.5, 3.0, 3.5])]}])),
    "entropy_rank_rho0.8": (
        "loss/grad: rho = 0.8, 6 tokens: (1 - rho) * 5 = 0.9999999999999998 in float64, so we take "
        "v0 + 1.0f * (v1 - v0), one float32 ulp above v1, and drop the token at v1; torch: float32(0.2) * 5 = 1.0, "
        "threshold v1 exactly, TRL keeps it",
        _repro({"top_entropy_quantile": 0.8, "max_completion_length": 3}, [{"rewards": [1.0, 0.0], "completions": [
            _c([-0.5] * 3, entropy=[2.932345138014618, 2.800336928235931, 3.45503633688143]),
            _c([-0.5] * 3, entropy=[1.304377891473353, 0.9959073848217135, 0.29858313194488684])]}])),
    # Advantages (documented): near-equal rewards.
    "near_equal_rewards": (
        "advantages (documented): rewards [0, 1e-9], std 7e-10 <= 1e-8: ours A = 0, TRL (r - mean) / (std + 1e-4) = "
        "-+5e-6",
        _repro({"loss_type": "grpo", "scale_rewards": "group", "max_completion_length": 1},
               [{"rewards": [0.0, 1e-9], "completions": [_c([-0.5]), _c([-1.0])]}])),
    # Advantages, TRL as it is: float32 Bessel factor.
    "bessel_factor_float32": (
        "advantages (TRL as is): G = 4: TRL's nanstd multiplies by count / (count - 1) = 4/3 in float32, "
        "A off by ~2e-8; with that factor in float64 (bessel64) the two agree exactly",
        _repro({"loss_type": "grpo", "scale_rewards": "group", "max_completion_length": 1},
               [{"rewards": [1.0, 0.0, 0.0, 0.0], "completions": [_c([-0.5])] * 4}])),
    # Metrics only.
    "metric_delta_cap": (
        "metric clip_ratio_high: delta = 1.1 <= 1 + epsilon_high = 1.2, ratio 1.3, A > 0: TRL tests "
        "coef_1 > 1.2 after capping coef_1 at 1.1, so 0; ours 0.5",
        _repro({"delta": 1.1, "max_completion_length": 1},
               [{"rewards": [1.0, 0.0], "completions": [_c([-0.5], [-0.7623642644674911]), _c([-1.0])]}])),
    "metric_T1": (
        "metric entropy (also kl, clip ratios): padded T = 1 with an empty completion: TRL's global_masked_mean "
        "treats any (B, 1) tensor as one value per sequence and divides by B = 2: 0.5; ours 1.0",
        _repro({"max_completion_length": 1},
               [{"rewards": [1.0, 0.0], "completions": [_c([-0.5]), _c([])]}])),
    "metric_tiny_advantage": (
        "metric clip_ratio_low: rewards [0.1, 0.1, 0.1] with scale_rewards=batch: TRL's mean is 0.10000000000000002, "
        "A = -3.6e-17 < 0, so its ratio-0.74 tokens count as low-clipped: 0.5; ours A = 0: 0",
        _repro({"scale_rewards": "batch", "max_completion_length": 1}, [
            {"rewards": [0.1, 0.1, 0.1], "completions": [_c([-0.5], [-0.2])] * 3},
            {"rewards": [1.0, 0.0, 0.0], "completions": [_c([-0.5])] * 3}])),
}


def run_repros(args, work):
    """Each minimal batch: what differs, by how much (TRL with float64 Bessel factor, and as it is)."""
    failed = 0
    for name, (what, doc) in REPROS.items():
        path = os.path.join(work, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        ours = run_ours(args.binary, path)
        cfg = {k: doc["config"][k] for k in TRL_KEYS}
        ref = run_trl({"groups": doc["groups"]}, cfg, os.path.join(work, "trainer"))
        w64, wasis = compare(ours, ref["bessel64"]), compare(ours, ref["asis"])
        differs = any(w64[k][0] > args.tol for k in QUANTITIES)
        failed += differs
        print("%s (%s)\n  %s" % (name, path, what))
        print("  |ours - TRL|: loss %.3g, advantages %.3g, grad %.3g, metrics %.3g; TRL as is: advantages %.3g" % (
            w64["loss"][0], w64["advantages"][0], w64["grad"][0], w64["metrics"][0], wasis["advantages"][0]))
        why = entropy_mask_diagnosis(ours, ref["bessel64"], {"groups": doc["groups"]})
        if why:
            print("  " + why)
    return 1 if failed else 0



TRL_KEYS = ("loss_type", "epsilon", "epsilon_high", "delta", "beta", "use_bias_correction_kl", "scale_rewards",
            "importance_sampling_level", "max_completion_length", "top_entropy_quantile")


def compare_file(args, work):
    with open(args.file) as f:
        doc = json.load(f)
    cfg = {k: doc["config"][k] for k in TRL_KEYS}
    for k, v in OUR_FIXED.items():
        if doc["config"].get(k, v) != v:
            sys.exit("%s: config %s must be %r to compare with TRL" % (args.file, k, v))
    ours = run_ours(args.binary, args.file)
    ref = run_trl({"groups": doc["groups"]}, cfg, os.path.join(work, "trainer"))
    for name in ("naive", "vectorized"):
        p = ours["paths"][name]
        print("%s: loss %r, advantages %r" % (name, p["loss"], p["advantages"]))
        print("  grad %r" % (p["grad_logp"],))
        print("  metrics %r" % (p["metrics"],))
    for variant in ref:
        r = ref[variant]
        print("TRL %s: loss %r, advantages %r" % (variant, r["loss"], r["advantages"]))
        print("  grad %r" % (r["grad"],))
        print("  metrics %r" % (r["metrics"],))
    bad = False
    for variant in ref:
        worst = compare(ours, ref[variant])
        print("max |ours - TRL %s|: %s" % (variant, ", ".join("%s %.3g (%s)" % (k, v[0], v[1]) for k, v in worst.items())))
        bad |= variant != "asis" and any(worst[k][0] > args.tol for k in QUANTITIES)
    why = entropy_mask_diagnosis(ours, ref["bessel64"], {"groups": doc["groups"]})
    if why:
        print(why)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=300, help="random batches (one random config each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-9, help="for loss, advantages and grad")
    ap.add_argument("--metric-tol", type=float, default=1e-6,
                    help="for the metrics, relative to max(1, |value|): TRL computes them in float32")
    ap.add_argument("--strict-asis", action="store_true",
                    help="also fail when TRL's advantages as they are (float32 Bessel factor) differ by more than --tol")
    ap.add_argument("--near-equal", type=int, default=0, metavar="K",
                    help="also K batches with near-equal rewards (documented difference, not pass/fail)")
    ap.add_argument("--binary", default=os.path.join(REPO, ".build", "debug", "grpo-repl"))
    ap.add_argument("--keep", metavar="DIR", help="write every batch file here (default: only differing ones, to a temp dir)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--repros", action="store_true",
                    help="run the built-in minimal batches of each difference found, and print what differs")
    ap.add_argument("--file", metavar="BATCH.json",
                    help="compare one batch file (every TRL option in its config) and print every difference")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit("no %s: run `swift build --product grpo-repl` first" % args.binary)
    if trl.__version__ != "1.16.0":
        print("warning: trl %s installed; this check was written for trl 1.16.0" % trl.__version__)

    work = tempfile.mkdtemp(prefix="grpo-trl-")
    if args.file:
        return compare_file(args, work)
    if args.repros:
        return run_repros(args, work)
    keep = args.keep or os.path.join(work, "differing")
    os.makedirs(keep, exist_ok=True)
    table = collections.defaultdict(lambda: collections.defaultdict(float))
    failures, metric_notes = [], []
    cases = [(i, False) for i in range(args.batches)] + [(args.batches + i, True) for i in range(args.near_equal)]
    for index, near_equal in cases:
        rng = random.Random("%d/%d" % (args.seed, index))
        batch, cfg, features = random_batch(rng, near_equal=near_equal)
        doc = {"config": {**cfg, **OUR_FIXED}, **batch}
        path = os.path.join(args.keep or work, "batch_%04d.json" % index)
        with open(path, "w") as f:
            json.dump(doc, f)
        ours = run_ours(args.binary, path)
        check_echo(ours, cfg)
        ref = run_trl(batch, cfg, os.path.join(work, "trainer"))
        worst = {variant: compare(ours, ref[variant]) for variant in ref}
        fams = families(cfg, features)
        if near_equal:
            fams = {"DOCUMENTED near_equal rewards: " + f for f in ("all", "scale_rewards=" + cfg["scale_rewards"])}
        for fam in fams:
            row = table[fam]
            row["n"] += 1
            for label, variant, k in COLUMNS:
                row[label] = max(row[label], worst[variant][k][0])
        bad = {"%s (%s)" % (k, variant): worst[variant][k] for variant in worst for k in QUANTITIES
               if worst[variant][k][0] > args.tol and (variant != "asis" or args.strict_asis)}
        metric_bad = worst["quirks"]["metrics"][0] > args.metric_tol
        if (bad or metric_bad) and not near_equal:
            kept = os.path.join(keep, os.path.basename(path))
            if kept != path:
                with open(kept, "w") as f:
                    json.dump(doc, f)
            if bad:
                failures.append((index, kept, bad, entropy_mask_diagnosis(ours, ref["bessel64"], batch)))
            if metric_bad:
                metric_notes.append((index, kept, worst["quirks"]["metrics"], metric_cause(cfg, worst["quirks"]["metrics"][1])))
        if args.verbose or (bad and not near_equal):
            print("batch %d %s: %s" % (index, "DIFFERS" if bad else "ok", ", ".join(
                "%s/%s %.3g (%s)" % (k, variant, v[0], v[1]) for variant in worst for k, v in worst[variant].items())))

    print("\ntrl %s, torch %s; %d random batches (seed %d), one random config each; tolerance %g"
          % (trl.__version__, torch.__version__, args.batches, args.seed, args.tol))
    print("max |ours - TRL| over both of our paths (naive, vectorized). TRL = its own advantage lines + _compute_loss;")
    print("  loss, adv, grad: TRL's advantage lines with Bessel's factor count/(count-1) in float64 (default dtype float64)")
    print("  (asis): TRL's advantage lines as they are, whose nanstd computes that factor in float32")
    print("  metrics: clip ratios, kl, entropy, frac_reward_zero_std, relative to max(1, |TRL|) (TRL logs them in float32)")
    print("  metrics(-q): the same with two TRL quirks taken out of its inputs (see run_trl): tiny A of equal-reward")
    print("    groups set to 0, and T = 1 padded to 2")
    print("%-40s %4s" % ("family", "n") + "".join(" %10s" % label for label, _, _ in COLUMNS))
    for fam in sorted(table, key=lambda f: (f.startswith("DOCUMENTED"), f != "all", f)):
        r = table[fam]
        print("%-40s %4d" % (fam, r["n"]) + "".join(" %10.2e" % r[label] for label, _, _ in COLUMNS))
    if metric_notes:
        print("\n%d batches whose metrics differ by more than %g (relative) even without those quirks (files in %s):"
              % (len(metric_notes), args.metric_tol, keep))
        causes = collections.Counter(cause for _, _, _, cause in metric_notes)
        for cause, n in causes.most_common():
            print("  %d: %s" % (n, cause))
        for index, kept, (d, where), cause in metric_notes[:15]:
            print("  batch %d %s: %.3g, %s [%s]" % (index, os.path.basename(kept), d, where, cause.split(":")[0]))
    if failures:
        print("\n%d of %d batches differ by more than %g (files in %s):" % (len(failures), args.batches, args.tol, keep))
        for index, kept, bad, why in failures[:20]:
            print("  batch %d %s: %s" % (index, kept, "; ".join("%s %.3g at %s" % (k, v[0], v[1]) for k, v in bad.items())))
            if why:
                print("    " + why)
        print("\n%d passed, %d failed" % (args.batches - len(failures), len(failures)))
        return 1
    print("\nall %d batches agree to %g on loss, advantages and d loss / d logp: %d passed, 0 failed"
          % (args.batches, args.tol, args.batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
