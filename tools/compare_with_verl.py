#!/usr/bin/env python3
"""Check `grpo-repl explain --json` against verl 0.9.1's own code, on seeded random batches.

For N seeded random batches, each with a random verl option set, this script
  1. writes the batch as a batch file in our format, exactly the layout of the `batch` objects
     in Tests/GRPOTests/Fixtures/verl_terms.json (every verl option written out under "verl",
     groups of completions with logp / old_logp / ref_logp / entropy / sampler_logp / mask), with
     tools/verl_terms_golden.py's own `make_batch`;
  2. runs `grpo-repl explain FILE --json`;
  3. runs verl 0.9.1's own code on the same batch with tools/verl_terms_golden.py's `run_case`
     (imported: nothing of verl's arithmetic is rewritten here). In float64, as ONE mini-batch on
     ONE GPU, in the trainer's order: the rollout-correction helper (when the completions carry
     sampler_logp), ray_trainer.compute_advantage (exec'd from the installed file), then
     verl.workers.utils.losses.ppo_loss with a hydra-instantiated ActorConfig, and loss.backward();
  4. compares, on both of our paths (naive, vectorized): the loss, the advantages (one per
     completion; verl's are per token, constant along a row's loss tokens, and absent for a row
     without loss tokens), d loss / d logp at every token, and every metric verl logs under its
     name (`kl_loss` / `kl_coef` with the `actor/` prefix the trainer adds), relative to
     max(1, |verl|), against --tol (1e-9).

The draw: 1-5 groups (verl's uids) of 1..6 completions, lengths 1..12, tool-style masks of 0/1 with
rows whose mask is all 0 (never the whole batch), on-policy batches (no old_logp) and off-policy
ones at three drifts, some with log-ratios, ref log-ratios and sampler log-ratios beyond +-20, ref
log-probs (also without use_kl_loss), entropies, sampler log-probs; and every verl option from its
full list (random_option_set, random_rollout_options). The draw is organized along four dimensions
in which explain computed only part of verl when this was written (loss_mode vanilla/cispo,
adv_estimator grpo, no entropy term, no sampler_logp / rollout correction): a batch is "inside"
(--inside-share, 40%: all four kept to those), "one-off" (45%: one of the four from verl's full
list) or "free" (all four from the full lists); the other options are drawn in full in every batch.
As grpo-swift computes more, more batches agree, with no change here.

Every batch lands in one class:
  agree        both compute, every number within --tol;
  refused      verl raises (a refusal, or a crash inside verl's code), and explain refuses too
               (exit status 2, whatever its reason);
  not yet      verl computes, explain exits 2 saying "grpo-swift does not compute it yet" (or
               "... cannot be reproduced here, so grpo-swift does not compute it": a random draw,
               the order of ties or float32 noise inside torch): counted per reason (the first
               option explain does not compute), not a failure;
  known        a documented difference, or nothing to compare: verl's token-mean over a batch
               with no loss tokens is 0/0; verl's float32 estimators within float32 rounding; verl's
               numbers stopped by one of run_verl's own checks (opo's baseline of a group without
               loss tokens is 0/0: NaN advantages on its rows, masked tokens included, and a NaN
               d loss / d logp there): listed, not a failure;
  FAIL         anything else: a number beyond --tol, a metric one side logs and the other does
               not, explain computing what verl refuses, explain refusing what verl computes for
               another reason, explain echoing an option differently, explain crashing, the harness
               raising.
verl's float32 metrics (the rollout_corr fractions, .float().mean()) are compared with ours rounded
to float32 as well. Exit status 1 when any batch fails.

Usage (the venv is outside the repo; tools/README.md, section verl_terms_golden.py, says how it was built):
  swift build -c release --product grpo-repl
  /work/.venv-verl/bin/python tools/compare_with_verl.py --n 800
  /work/.venv-verl/bin/python tools/compare_with_verl.py --n 800 --seed 3 --keep /tmp/verl-batches --verbose
  /work/.venv-verl/bin/python tools/compare_with_verl.py --seed 0 --batch 17 --verbose   # one batch again
"""

import os
import sys

# verl_terms_golden re-executes the interpreter with PYTHONHASHSEED=0 (verl puts sets in some error
# messages); do it here first, before anything is imported.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.dont_write_bytecode = True  # no __pycache__ in the repo
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import verl_terms_golden as G  # noqa: E402  (sets torch's default dtype to float64, imports verl)
import torch  # noqa: E402
import verl  # noqa: E402
import verl.trainer.ppo.core_algos as core_algos  # noqa: E402
import verl.trainer.ppo.rollout_corr_helper as rollout_corr_helper  # noqa: E402

NOT_YET = "grpo-swift does not compute it"  # "... it yet", or "... it" after "cannot be reproduced here"
DEFAULT_BINARY = os.path.join(REPO, ".build", "release", "grpo-repl")

# --------------------------------------------------------------------------------------------
# The option lists (checked against the installed verl in check_lists)
# --------------------------------------------------------------------------------------------

LOSS_MODES = ["vanilla", "gspo", "sapo", "cispo", "gpg", "geo_mean", "dro", "dppo_tv", "dppo_kl", "kl_cov",
              "clip_cov", "bypass_mode"]
LOSS_AGG_MODES = ["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
KL_TYPES = ["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3"]  # each also with "+"; "full" is drawn rarely
# verl's estimators that work from outcome rewards alone (gae needs a critic, remax its greedy
# baseline, the optimal-token baselines the policy's sum of squared probabilities).
ADV_ESTIMATORS = ["grpo", "grpo_vectorized", "rloo", "rloo_vectorized", "opo", "grpo_passk",
                  "reinforce_plus_plus", "reinforce_plus_plus_baseline", "gpg", "gdpo"]
RS_K1 = ["token_k1", "seq_sum_k1", "seq_mean_k1"]
RS_UPPER_ONLY = ["token_k2", "token_k3", "seq_sum_k2", "seq_sum_k3", "seq_mean_k2", "seq_mean_k3", "seq_max_k2",
                 "seq_max_k3"]
# Every key of our "verl" object (VerlOptions.keys), all written in every file.
VERL_KEYS = ["loss_mode", "loss_agg_mode", "clip_ratio", "clip_ratio_low", "clip_ratio_high", "clip_ratio_c",
             "use_kl_loss", "kl_loss_coef", "kl_loss_type", "entropy_coeff", "calculate_entropy", "loss_scale_factor",
             "tau_pos", "tau_neg", "clip_cov_ratio", "clip_cov_lb", "clip_cov_ub", "clip_cov_seed", "kl_cov_ratio",
             "ppo_kl_coef", "dro_beta", "adv_estimator", "norm_adv_by_std_in_grpo", "gdpo_reward_weights",
             "rollout_is", "rollout_is_threshold", "rollout_is_batch_normalize", "rollout_rs", "rollout_rs_threshold",
             "loss_type", "max_response_length"]


def check_lists():
    """The lists above against the installed verl: a new loss mode or estimator should be drawn."""
    G.check_defaults()
    if set(LOSS_MODES) != set(core_algos.POLICY_LOSS_REGISTRY):
        sys.exit("verl %s registers loss modes %s; LOSS_MODES is %s" % (
            verl.__version__, sorted(core_algos.POLICY_LOSS_REGISTRY), sorted(LOSS_MODES)))
    if set(RS_K1 + RS_UPPER_ONLY) != set(rollout_corr_helper.SUPPORTED_ROLLOUT_RS_OPTIONS):
        sys.exit("verl %s's rollout_rs options are %s" % (verl.__version__,
                                                           sorted(rollout_corr_helper.SUPPORTED_ROLLOUT_RS_OPTIONS)))
    names = {e.value for e in core_algos.AdvantageEstimator}
    if not set(ADV_ESTIMATORS) <= names:
        sys.exit("verl %s has no estimator %s" % (verl.__version__, sorted(set(ADV_ESTIMATORS) - names)))
    if set(G.VERL_DEFAULTS) | set(G.GDPO_DEFAULTS) | {"clip_cov_seed", "max_response_length"} != set(VERL_KEYS):
        sys.exit("verl_terms_golden's options and VERL_KEYS differ: %s" % sorted(
            (set(G.VERL_DEFAULTS) | set(G.GDPO_DEFAULTS)) ^ set(VERL_KEYS)))


# --------------------------------------------------------------------------------------------
# Random batches
# --------------------------------------------------------------------------------------------

r10 = G.r10


def negative(x, floor=0.01):
    """A log-prob: x if it is below -floor, else reflected below it."""
    return x if x < -floor else -floor - abs(x + floor)


# The four dimensions in which explain computed only part of verl when this was written (90fc150);
# each batch keeps some of them inside (INSIDE) and draws the others from verl's full lists. Every other option is always drawn
# from its full list.
DIMENSIONS = ["loss_mode", "adv_estimator", "entropy", "sampler"]
INSIDE = {"loss_mode": "vanilla or cispo", "adv_estimator": "grpo",
          "entropy": "entropy_coeff 0, calculate_entropy false", "sampler": "no sampler_logp"}
# One dimension outside ("one-off" batches): which one, by weight (a loss mode, an estimator is one
# of 12 and 10 values; the entropy term and the sampler options cover several options at once).
ONE_OFF_WEIGHTS = {"loss_mode": 0.45, "adv_estimator": 0.25, "entropy": 0.15, "sampler": 0.15}
ONE_OFF_SHARE = 0.45


def random_option_set(rng, inside):
    """One random verl option set; `inside`: the DIMENSIONS kept INSIDE.
    (The sampler dimension, sampler_logp and the rollout options, is drawn with the batch.)"""
    o = {}
    o["loss_mode"] = rng.choice(["vanilla", "cispo"]) if "loss_mode" in inside else rng.choice(LOSS_MODES)
    o["loss_agg_mode"] = rng.choice(LOSS_AGG_MODES)
    o["clip_ratio"] = rng.choice([0.2, 0.1, 0.3, r10(rng.uniform(0.05, 0.5))])
    o["clip_ratio_low"] = rng.choice([0.2, 0.2, None, 0.1, 0.3, 1.0, r10(rng.uniform(0.02, 0.6))])
    o["clip_ratio_high"] = rng.choice([0.2, 0.2, None, 0.28, 0.1, 4.0, r10(rng.uniform(0.05, 0.6))])
    if o["loss_mode"] == "gspo" and rng.random() < 0.5:  # the paper's widths
        o["clip_ratio_low"], o["clip_ratio_high"] = 3e-4, 4e-4
    high = o["clip_ratio_high"] if o["clip_ratio_high"] is not None else o["clip_ratio"]
    u = rng.random()
    if u < 0.45:
        o["clip_ratio_c"] = 3.0
    elif u < 0.65:
        o["clip_ratio_c"] = rng.choice([1.5, 10.0, 2.0])
    elif u < 0.94:  # between 1 and 1 + clip_ratio_high: the dual clip binds inside the clip range
        o["clip_ratio_c"] = r10(1.0 + rng.uniform(0.02, 0.98) * high)
    else:  # verl asserts clip_ratio_c > 1 (vanilla only)
        o["clip_ratio_c"] = rng.choice([1.0, 0.9])
    o["use_kl_loss"] = rng.random() < 0.5
    o["kl_loss_coef"] = rng.choice([0.001, 0.01, 0.1, 0.5, r10(rng.uniform(0.0, 1.0))])
    kt = rng.choice(KL_TYPES) + rng.choice(["", "+"])
    if rng.random() < 0.02:
        kt = "full"  # in verl's list, not implemented there
    o["kl_loss_type"] = kt
    if "entropy" in inside:
        o["entropy_coeff"], o["calculate_entropy"] = 0.0, False
    else:
        o["entropy_coeff"] = rng.choice([0.0, 0.0, 0.0, 0.01, 0.001, -0.05, r10(rng.uniform(-0.1, 0.1))])
        o["calculate_entropy"] = rng.random() < 0.3
    o["loss_scale_factor"] = None if rng.random() < 0.6 else rng.choice([1.0, 4.0, 12.0, r10(rng.uniform(0.5, 20.0))])
    o["tau_pos"] = rng.choice([1.0, 1.0, 0.5, r10(rng.uniform(0.1, 3.0))])
    o["tau_neg"] = rng.choice([1.05, 1.05, 2.0, r10(rng.uniform(0.1, 3.0))])
    o["clip_cov_ratio"] = rng.choice([0.0002, 0.1, 0.5, 1.0])
    lb = rng.choice([1.0, 0.1, 0.02, r10(rng.uniform(0.0, 1.0))])
    o["clip_cov_lb"], o["clip_cov_ub"] = lb, rng.choice([5.0, 0.6, 2.0, r10(lb + rng.uniform(0.1, 3.0))])
    o["clip_cov_seed"] = rng.randint(0, 9) if o["loss_mode"] == "clip_cov" else None
    o["kl_cov_ratio"] = rng.choice([0.0002, 0.05, 0.2, 0.5])
    o["ppo_kl_coef"] = rng.choice([0.1, 1.0, r10(rng.uniform(0.0, 2.0))])
    o["dro_beta"] = rng.choice([None, 0.5, 0.1, r10(rng.uniform(0.01, 2.0))])
    if o["loss_mode"] == "dro" and rng.random() < 0.9 and o["dro_beta"] is None:
        o["dro_beta"] = 0.5  # null: verl refuses (kept in one draw of ten)
    o["adv_estimator"] = "grpo" if "adv_estimator" in inside else rng.choice(ADV_ESTIMATORS)
    o["norm_adv_by_std_in_grpo"] = rng.random() < 0.7
    o["gdpo_reward_weights"] = None
    # Rollout correction: only with sampler log-probs (drawn with the batch).
    o["rollout_is"], o["rollout_is_threshold"], o["rollout_is_batch_normalize"] = None, 2.0, False
    o["rollout_rs"], o["rollout_rs_threshold"], o["loss_type"] = None, None, "ppo_clip"
    return o


def random_rollout_options(rng, o):
    """rollout_is / rollout_rs and their thresholds, for a batch with sampler_logp."""
    if o["loss_mode"] == "bypass_mode":
        o["loss_type"] = rng.choice(["ppo_clip", "reinforce"] * 12 + ["ppo"])  # "ppo": refused
    u = rng.random()
    o["rollout_is"] = None if u < 0.35 else rng.choice(["token", "sequence"] * 15 + ["tokens"])  # "tokens": refused
    o["rollout_is_threshold"] = rng.choice([2.0, 2.0, 5.0, 1.5, "1.5", "0.5_2.0", "0.5_5.0", 3.0,
                                            r10(rng.uniform(1.0, 10.0))] + ["2.0_0.5"] * (rng.random() < 0.1))
    o["rollout_is_batch_normalize"] = rng.random() < 0.25

    def threshold(opt):
        if opt in RS_K1:
            return rng.choice(["0.5_2.0", "0.3_3.0", "0.8_1.25", 2.0, 1.5,
                               "%s_%s" % (r10(rng.uniform(0.1, 0.9)), r10(rng.uniform(1.1, 5.0)))])
        return rng.choice([0.05, 0.1, 0.3, r10(rng.uniform(0.005, 1.0))])

    u = rng.random()
    if u < 0.5:
        o["rollout_rs"], o["rollout_rs_threshold"] = None, None
    elif u < 0.85:
        opt = rng.choice(RS_K1 + RS_UPPER_ONLY)
        o["rollout_rs"], o["rollout_rs_threshold"] = opt, threshold(opt)
    elif u < 0.97:
        a, b = rng.sample(RS_K1 + RS_UPPER_ONLY, 2)
        if rng.random() < 0.5:
            o["rollout_rs"], o["rollout_rs_threshold"] = "%s,%s" % (a, b), "%s,%s" % (threshold(a), threshold(b))
        else:  # one threshold shared by both (valid when both take an upper bound only)
            o["rollout_rs"], o["rollout_rs_threshold"] = "%s,%s" % (a, b), threshold(b)
    else:  # refused: no threshold, an unknown option, lower_upper for a k2 option
        o["rollout_rs"], o["rollout_rs_threshold"] = rng.choice(
            [("token_k2", None), ("seq_max_k1", 1.0), ("token_k2", "0.1_0.2")])


def random_rows(rng, n_rows, drift, extreme):
    """Per completion, as verl_terms_golden's ROWS: logp, lr = logp - old_logp, rd = ref_logp - logp,
    sd = sampler_logp - old_logp (on-policy: - logp), ent. Every log-prob is negative (our batch
    format refuses a log-prob >= 0). Lengths 1..12 (verl puts a reward at the last token)."""
    rows = {}
    sigma_r = {"on": 0.0, "near": 0.05, "mid": 0.3, "far": 1.0}[drift]
    sigma_ref = rng.choice([0.05, 0.3, 1.0])
    sigma_s = rng.choice([0.05, 0.3, 0.8])
    entropy_kind = rng.choice(["grid", "zeros", "continuous"])
    for i in range(n_rows):
        n = rng.randint(1, 12) if rng.random() < 0.7 else rng.randint(1, 3)
        logp, lr, rd, sd, ent = [], [], [], [], []
        for _ in range(n):
            kind = "normal"
            if extreme and rng.random() < 0.15:
                kind = rng.choice(["ratio_up", "ratio_down", "ref_up", "ref_down", "sampler"])
            old = -rng.uniform(0.05, 3.0)
            x = negative(old + rng.gauss(0.0, sigma_r))
            if kind == "ratio_up":  # log-ratio 20.5..30 (verl clamps at 20)
                big = rng.uniform(20.5, 30.0)
                x = -rng.uniform(0.05, 3.0)
                old = x - big
            elif kind == "ratio_down":
                x = old - rng.uniform(20.5, 30.0)
            elif kind == "ref_up":
                x = -rng.uniform(22.0, 32.0)
                old = negative(x + rng.gauss(0.0, sigma_r))
            if drift == "on":
                old = x
            ref = negative(x + rng.gauss(0.0, sigma_ref))
            if kind == "ref_up":  # ref - logp 20.5.. (k3 clamps the log-ratio at 20)
                ref = x + rng.uniform(20.5, -x - 0.05)
            elif kind == "ref_down":
                ref = x - rng.uniform(20.5, 25.0)
            base = old
            s = negative(base + rng.gauss(0.0, sigma_s))
            if kind == "sampler":  # old - sampler beyond +-20 (the IS weights clamp there)
                s = base - rng.uniform(20.5, 25.0) if rng.random() < 0.5 or base > -21.0 else \
                    base + rng.uniform(20.5, -base - 0.05)
            x, old, ref, s = r10(x), r10(old), r10(ref), r10(s)
            logp.append(x)
            lr.append(x - old)
            rd.append(ref - x)
            sd.append(s - (old if drift != "on" else x))
            if entropy_kind == "grid":
                ent.append(rng.randint(1, 320) / 64)
            elif entropy_kind == "zeros":
                ent.append(0.0 if rng.random() < 0.4 else rng.randint(1, 320) / 64)
            else:
                ent.append(r10(rng.uniform(0.0, 6.0)))
        rows["c%d" % i] = dict(logp=logp, lr=lr, rd=rd, sd=sd, ent=ent)
    return rows


def random_rewards(rng, g, kind):
    if rng.random() < 0.15:  # an equal group (std 0): dyadic, so that every mean is exact
        return [rng.choice([0.0, 0.25, 0.5, 1.0])] * g
    if kind == "grid":
        return [rng.choice([0.0, 0.25, 0.5, 0.75, 1.0]) for _ in range(g)]
    if kind == "binary":
        return [float(rng.random() < 0.4) for _ in range(g)]
    return [r10(rng.uniform(-1.0, 2.0)) for _ in range(g)]


def random_batch(rng, inside_share):
    """A random batch and option set, as verl_terms_golden.make_batch writes them. Three kinds:
    "inside" (a share of inside_share): every dimension INSIDE;
    "one-off" (ONE_OFF_SHARE): one dimension drawn from verl's full list, the others inside;
    "free" (the rest): every dimension drawn from verl's full list."""
    u = rng.random()
    if u < inside_share:
        tier, inside = "inside", set(DIMENSIONS)
    elif u < inside_share + ONE_OFF_SHARE:
        out = rng.choices(list(ONE_OFF_WEIGHTS), weights=list(ONE_OFF_WEIGHTS.values()))[0]
        tier, inside = "one-off " + out, set(DIMENSIONS) - {out}
    else:
        tier, inside = "free", set()
    o = random_option_set(rng, inside)
    n_groups = rng.randint(1, 5)
    sizes = [rng.randint(1, 6) for _ in range(n_groups)]
    n_rows = sum(sizes)
    bypass = o["loss_mode"] == "bypass_mode"
    # (bypass_mode has no old_logp: its "old" log-probs are the sampler's, drawn off-policy.)
    drift = rng.choice(["near", "mid", "mid", "far"] + ([] if bypass else ["on"]))
    extreme = drift != "on" and rng.random() < 0.25
    if "sampler" in inside:
        sampler = bypass  # bypass_mode's "old" log-probs are the sampler's
    else:
        sampler = bypass or tier != "free" or rng.random() < 0.3
    if sampler:
        random_rollout_options(rng, o)
        if bypass and o["use_kl_loss"] and o["rollout_rs"] is not None:
            # In bypass_mode the rejection happens inside the policy loss, and ppo_loss's KL term
            # keeps the response_mask: rejected tokens keep a KL gradient, which run_verl's own
            # check ("nonzero d loss / d logp outside the loss mask") stops at. Not drawn.
            o["rollout_rs"], o["rollout_rs_threshold"] = None, None
    rows = random_rows(rng, n_rows, drift, extreme)
    names = list(rows)
    reward_kind = rng.choice(["grid", "binary", "continuous"])
    groups, per_func, at = [], None, 0
    if o["adv_estimator"] == "gdpo":
        n_funcs = rng.randint(1, 3)
        per_func = [[[rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(n_funcs)] for _ in range(g)] for g in sizes]
        o["gdpo_reward_weights"] = rng.choice([None, [rng.choice([1.0, 0.5, 2.0, 0.25]) for _ in range(n_funcs)]])
    for g in sizes:
        groups.append((random_rewards(rng, g, reward_kind), names[at:at + g]))
        at += g
    masks = {}
    if rng.random() < 0.35:
        for name in names:
            if rng.random() < 0.35:
                n = len(rows[name]["logp"])
                masks[name] = [0] * n if rng.random() < 0.25 else [int(rng.random() < 0.7) for _ in range(n)]
        # At least one loss token in the batch: verl's token-mean over none is 0 / 0 (NaN), ours 0.
        if all(not any(masks.get(name, [1])) for name in names):
            masks[names[0]][0] = 1
    longest = max(len(r["logp"]) for r in rows.values())
    width = longest + (0 if rng.random() < 0.6 else rng.randint(1, 8))
    ref = o["use_kl_loss"] or rng.random() < 0.3  # ref_logp without use_kl_loss must change nothing
    opts = {k: v for k, v in o.items() if k in G.VERL_DEFAULTS or k == "clip_cov_seed"}
    if o["adv_estimator"] == "gdpo":
        opts["gdpo_reward_weights"] = o["gdpo_reward_weights"]
    batch = G.make_batch(opts, groups=groups, masks=masks or None, on_policy=drift == "on", ref=ref,
                         sampler=sampler, per_func=per_func, width=width, rows=rows)
    # Every key of our "verl" object, in every file.
    for k in VERL_KEYS:
        batch["verl"].setdefault(k, o.get(k))
    batch["verl"] = {k: batch["verl"][k] for k in VERL_KEYS}
    features = {"tier": tier, "drift": drift, "extreme": extreme, "groups": sizes, "masks": len(masks),
                "empty_rows": sum(1 for m in masks.values() if not any(m)), "sampler": sampler, "width": width,
                "longest": longest}
    return batch, features


# --------------------------------------------------------------------------------------------
# The two sides
# --------------------------------------------------------------------------------------------

def run_ours(binary, path):
    proc = subprocess.run([binary, "explain", path, "--json"], capture_output=True, text=True)
    out = {"status": proc.returncode, "stderr": proc.stderr.strip()}
    if proc.returncode == 0:
        try:
            out["json"] = json.loads(proc.stdout)
        except ValueError as e:
            out["status"], out["stderr"] = -1, "explain --json printed no JSON (%s): %s" % (e, proc.stdout[:200])
    return out


def not_yet_reason(stderr):
    """'loss_mode gspo' from 'error: FILE: verl: loss_mode gspo: verl 0.9.1 has it, grpo-swift does not ...'."""
    for line in stderr.splitlines():
        if NOT_YET not in line:
            continue
        text = re.sub(r"^error:\s*", "", line.strip())
        m = re.search(r"verl: (.*?): verl \d+\.\d+\.\d+ (?:has it|decides it)", text)
        if m:
            return m.group(1)
        return text.split(", " + NOT_YET)[0].split(": verl: ")[-1]
    return None


def explain_reason(stderr):
    """explain's error line without 'error: FILE: verl: '."""
    line = next((x for x in stderr.splitlines() if x.startswith("error:")), stderr.splitlines()[0] if stderr else "")
    return re.sub(r"^error:\s*(\S+\.json:\s*)?(verl:\s*)?", "", line.strip())


def run_theirs(batch):
    """verl_terms_golden.run_case on a copy. run_case turns verl's refusals (ValueError, AssertionError,
    NotImplementedError, TypeError, KeyError raised in verl) into {"error": ...}; here any other
    exception raised inside verl's code is a refusal too (verl crashes: e.g. a ZeroDivisionError in
    its rollout-correction metrics when every IS weight is 0). One of run_verl's own consistency
    checks (verl's advantages nonzero outside the response mask, ...) is "harness_check": verl's
    numbers are not what a trainer could use (NaN), nothing to compare. Anything else is kept as
    "harness_error" (a FAIL, with the traceback)."""
    try:
        return G.run_case(json.loads(json.dumps(batch)))
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)
        last = tb[-1] if tb else None
        verl_root = os.path.dirname(os.path.abspath(verl.__file__))
        if last and os.path.abspath(last.filename).startswith(verl_root + os.sep):
            return {"error": "%s: %s" % (type(e).__name__, e), "error_type": type(e).__name__,
                    "raised_in": G._where(e)}
        if (isinstance(e, RuntimeError) and last and last.name == "run_verl"
                and os.path.abspath(last.filename) == os.path.abspath(G.__file__)):
            return {"harness_check": str(e)}
        return {"harness_error": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()}


def verl_metric_name(key, loss_mode):
    """verl's key as the trainer logs it: the actor's keys get 'actor/' (kl_loss, kl_coef, and in
    bypass_mode the actor's rollout_corr/*); the trainer's own rollout_corr/* keep their names."""
    if key.startswith("actor/"):
        return key
    if key.startswith("rollout_corr/") and loss_mode != "bypass_mode":
        return key
    return "actor/" + key


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def rel(a, b):
    """|a - b| relative to max(1, |b|); None is NaN (both None: 0); a missing value is inf."""
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if isinstance(a, str) or isinstance(b, str):
        return 0.0 if a == b else math.inf
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    return abs(a - b) / max(1.0, abs(b))


def echo_differences(sent, echoed):
    """The options explain echoes under "verl" against the file's (numbers by value: 2 == 2.0 == "2.0")."""
    out = []
    for k, v in sent.items():
        e = echoed.get(k, "<absent>")
        same = e == v
        if not same and isinstance(v, list) and isinstance(e, list):
            same = len(v) == len(e) and all(float(x) == float(y) for x, y in zip(v, e))
        if not same and not isinstance(v, bool) and not isinstance(e, bool):
            try:
                same = float(v) == float(e)
            except (TypeError, ValueError):
                pass
        if not same:
            out.append("%s: file %r, explain %r" % (k, v, e))
    return out


def compare(ours_doc, ref, v, tol):
    """Every difference beyond tol as (quantity, ours, verl, relative difference), both paths; and
    the largest relative difference per quantity. Float32 quantities of verl (its float32 metrics,
    the advantages of its float32 estimators) are held to tol against float32(ours) as well."""
    diffs, worst = [], collections.defaultdict(float)
    paths = ours_doc.get("paths", {})
    for name in ("naive", "vectorized"):
        if name not in paths:
            diffs.append(("paths.%s" % name, "absent", "-", math.inf))
    float32_metrics = set(ref.get("float32_metrics", []))
    f32_adv = bool(ref.get("float32_advantages"))
    loss_mode = v["loss_mode"]
    theirs_metrics = {verl_metric_name(k, loss_mode): (k, x) for k, x in ref["metrics"].items()}
    for name, p in sorted(paths.items()):
        def check(quantity, a, b, as_f32=False):
            d = rel(a, b)
            if as_f32 and d > tol and a is not None and b is not None and not isinstance(a, str):
                d = min(d, rel(f32(a), b))
            kind = quantity.split("[")[0].split(" ")[0]
            worst[kind] = max(worst[kind], d)
            if d > tol:
                diffs.append(("%s %s" % (name, quantity), a, b, d))

        check("loss", p.get("loss"), ref["loss"])
        adv = p.get("advantages", [])
        if len(adv) != len(ref["advantages"]):
            diffs.append(("%s advantages (count)" % name, len(adv), len(ref["advantages"]), math.inf))
        for i, (a, b) in enumerate(zip(adv, ref["advantages"])):
            if b is not None:  # verl's row without loss tokens is all 0: no advantage to compare
                check("advantages[%d]" % i, a, b, as_f32=f32_adv)
        grad = p.get("grad_logp", [])
        if len(grad) != len(ref["grad_logp"]):
            diffs.append(("%s grad_logp (rows)" % name, len(grad), len(ref["grad_logp"]), math.inf))
        for i, (row, ref_row) in enumerate(zip(grad, ref["grad_logp"])):
            if len(row) != len(ref_row):
                diffs.append(("%s grad_logp[%d] (length)" % (name, i), len(row), len(ref_row), math.inf))
            for t, (a, b) in enumerate(zip(row, ref_row)):
                check("grad_logp[%d][%d]" % (i, t), a, b)
        ours_metrics = p.get("metrics", {})
        for key, (raw, b) in sorted(theirs_metrics.items()):
            if key not in ours_metrics:
                diffs.append(("%s metric %s (verl's %s)" % (name, key, raw), "absent", b, math.inf))
                continue
            check("metric %s" % key, ours_metrics[key], b, as_f32=raw in float32_metrics)
        for key in sorted(set(ours_metrics) - set(theirs_metrics)):
            diffs.append(("%s metric %s" % (name, key), ours_metrics[key], "verl logs none", math.inf))
    return diffs, worst


def known_difference(ref, v, diffs):
    """A documented reason for these differences, or None."""
    if ref.get("batch_num_tokens") == 0:
        return "no loss tokens in the batch (rejection sampling took them all): verl's token-mean is 0 / 0"
    if all(math.isfinite(d) and d < 1e-5 for _, _, _, d in diffs):
        if v["adv_estimator"] in G.FLOAT32_ESTIMATORS:
            return "verl's %s takes its statistics in float32 (within 1e-5)" % v["adv_estimator"]
    return None


def option_summary(v):
    """The options that differ from verl's defaults (and the padded width), for a failure line."""
    out = {}
    for k in VERL_KEYS:
        default = {**G.VERL_DEFAULTS, **G.GDPO_DEFAULTS, "clip_cov_seed": None}.get(k, "-")
        if k == "max_response_length" or v.get(k) != default:
            out[k] = v.get(k)
    return json.dumps(out, separators=(",", ":"))


def fmt(x):
    if isinstance(x, float):
        return repr(x)
    return str(x)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

def build_binary():
    print("no %s: building it (swift build -c release --product grpo-repl) ..." % DEFAULT_BINARY, flush=True)
    proc = subprocess.run(["swift", "build", "-c", "release", "--product", "grpo-repl"], cwd=REPO)
    if proc.returncode != 0 or not os.path.exists(DEFAULT_BINARY):
        sys.exit("swift build failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=800, help="random batches (one random option set each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, action="append", metavar="I",
                    help="only batch I of the seed's draw (repeatable): to look at one again")
    ap.add_argument("--tol", type=float, default=1e-9, help="relative to max(1, |verl|)")
    ap.add_argument("--inside-share", type=float, default=0.4,
                    help="share of draws kept to what explain computed when this was written (loss_mode "
                         "vanilla/cispo, grpo, no entropy term, no sampler_logp); their other options are drawn in "
                         "full (default 0.4; "
                         "%g%%%% more have one of these four outside, the rest all four)" % (100 * ONE_OFF_SHARE))
    ap.add_argument("--binary", default=None,
                    help="grpo-repl to run (default .build/release/grpo-repl, built if missing)")
    ap.add_argument("--keep", metavar="DIR", help="write every batch file here (default: only failing ones, in a temp dir)")
    ap.add_argument("--verbose", action="store_true", help="one line per batch")
    args = ap.parse_args()
    binary = args.binary or DEFAULT_BINARY
    if args.binary is None and not os.path.exists(binary):
        build_binary()
    if not os.path.exists(binary):
        sys.exit("no %s" % binary)
    if verl.__version__ != G.VERL_VERSION:
        print("warning: verl %s installed; this check was written for verl %s" % (verl.__version__, G.VERL_VERSION))
    torch.set_num_threads(1)
    check_lists()

    work = tempfile.mkdtemp(prefix="grpo-verl-")
    keep = args.keep
    if keep:
        os.makedirs(keep, exist_ok=True)
    failing_dir = keep or os.path.join(work, "failing")
    os.makedirs(failing_dir, exist_ok=True)

    counts = collections.Counter()
    not_yet = collections.Counter()
    not_yet_example = {}
    refused_verl = collections.defaultdict(collections.Counter)  # verl's refusal -> explain's -> batches
    known = collections.Counter()
    failures = []
    worst = collections.defaultdict(float)
    coverage = collections.defaultdict(collections.Counter)  # option -> value -> agreeing batches
    tiers = collections.defaultdict(collections.Counter)  # tier -> verdict -> batches
    t0 = time.time()
    t_ours = t_theirs = 0.0
    indices = args.batch if args.batch else range(args.n)
    for index in indices:
        rng = random.Random("verl/%d/%d" % (args.seed, index))
        batch, features = random_batch(rng, args.inside_share)
        v = batch["verl"]
        path = os.path.join(keep or work, "batch_%04d.json" % index)
        with open(path, "w") as f:
            json.dump(batch, f)
        t = time.time()
        ours = run_ours(binary, path)
        t_ours += time.time() - t
        t = time.time()
        ref = run_theirs(batch)
        t_theirs += time.time() - t

        verdict, detail, diffs = None, "", []
        if "harness_error" in ref:
            verdict, detail = "FAIL", "verl_terms_golden.run_case itself raised: %s" % ref["harness_error"]
        elif "harness_check" in ref:
            verdict = "known"
            detail = "verl's numbers stop verl_terms_golden.run_verl's check: %s" % ref["harness_check"]
            known[detail] += 1
        elif "error" in ref:
            if ours["status"] == 2:
                verdict = "refused"
                refused_verl["%s: %s" % (ref["raised_in"], ref["error"][:100])][explain_reason(ours["stderr"])] += 1
                detail = "verl: %s (%s); ours: %s" % (ref["error"], ref["raised_in"], ours["stderr"])
            else:
                verdict = "FAIL"
                detail = "verl refuses it (%s: %s) but explain exited %d%s" % (
                    ref["raised_in"], ref["error"], ours["status"],
                    "" if ours["status"] == 0 else ": " + ours["stderr"])
        elif ours["status"] == 2 and NOT_YET in ours["stderr"]:
            verdict = "not yet"
            reason = not_yet_reason(ours["stderr"]) or ours["stderr"]
            not_yet[reason] += 1
            not_yet_example.setdefault(reason, index)
            detail = reason
        elif ours["status"] != 0:
            verdict = "FAIL"
            detail = "verl computes it (loss %r) but explain exited %d: %s" % (ref["loss"], ours["status"], ours["stderr"])
        else:
            echo = echo_differences(v, ours["json"].get("verl", {}))
            diffs, w = compare(ours["json"], ref, v, args.tol)
            diffs += [("echo", e, "-", math.inf) for e in echo]
            if not diffs:
                verdict = "agree"
                for k, x in w.items():
                    worst[k] = max(worst[k], x)
                for k in ("loss_mode", "loss_agg_mode", "kl_loss_type", "adv_estimator"):
                    coverage[k][v[k] if k != "kl_loss_type" or v["use_kl_loss"] else "(use_kl_loss false)"] += 1
                coverage["max_response_length > longest"][features["width"] > features["longest"]] += 1
                coverage["loss_scale_factor set"][v["loss_scale_factor"] is not None] += 1
                coverage["clip_ratio_c < 1 + clip_ratio_high"][
                    v["clip_ratio_c"] < 1 + (v["clip_ratio_high"] if v["clip_ratio_high"] is not None
                                             else v["clip_ratio"])] += 1
                coverage["rows without loss tokens"][features["empty_rows"] > 0] += 1
                coverage["extreme log-ratios"][features["extreme"]] += 1
                coverage["on-policy"][features["drift"] == "on"] += 1
                coverage["a group of one"][1 in features["groups"]] += 1
                coverage["entropy term (coeff != 0 or calculate)"][v["entropy_coeff"] != 0 or v["calculate_entropy"]] += 1
                coverage["sampler_logp"][features["sampler"]] += 1
            else:
                why = known_difference(ref, v, diffs)
                if why:
                    verdict, detail = "known", why
                    known[why] += 1
                else:
                    verdict = "FAIL"
                    detail = "%d numbers differ" % len(diffs)
        counts[verdict] += 1
        tiers[features["tier"]][verdict] += 1
        if verdict == "FAIL":
            failures.append((index, path, v, detail, diffs))
            kept = os.path.join(failing_dir, os.path.basename(path))
            if kept != path:
                shutil.copy(path, kept)
            with open(kept.replace(".json", ".verl.json"), "w") as f:
                json.dump(ref, f)
            print("FAIL seed %d batch %d (%s): %s\n  options %s" % (args.seed, index, kept, detail, option_summary(v)))
            for q, a, b, d in diffs[:12]:
                print("    %-44s ours %-24s verl %-24s rel %.3g" % (q, fmt(a), fmt(b), d))
            if len(diffs) > 12:
                print("    ... %d more" % (len(diffs) - 12))
            if "traceback" in ref and args.verbose:
                print(ref["traceback"])
        elif args.verbose:
            print("batch %4d %-8s %s%s" % (index, verdict, option_summary(v) if verdict == "agree" else "",
                                          detail[:160]))
    elapsed = time.time() - t0

    n = len(indices)
    print("\nverl %s, torch %s; %s; seed %d, %d batches (1-5 groups of 1..6, lengths 1..12), tolerance %g relative "
          "to max(1, |verl|), both paths (naive, vectorized)" % (verl.__version__, torch.__version__, binary,
                                                                 args.seed, n, args.tol))
    print("%d s (explain %.0f s, verl %.0f s)\n" % (elapsed, t_ours, t_theirs))
    rows = [("batches drawn", n),
            ("computed by both, agreeing", counts["agree"]),
            ("refused by both (verl raises, explain exits 2)", counts["refused"]),
            ("not computed by grpo-swift (not yet, or not reproducible)", counts["not yet"]),
            ("known differences, or nothing to compare", counts["known"]),
            ("FAILURES", counts["FAIL"])]
    for label, k in rows:
        print("  %-50s %5d" % (label, k))
    print("\nby kind of draw (inside: %s; one-off X: X from verl's full list, the others inside; free: all four "
          "from the full lists):" % "; ".join(INSIDE.values()))
    print("  %-28s %6s %6s %8s %8s %6s %6s" % ("", "drawn", "agree", "refused", "not yet", "known", "FAIL"))
    for tier in sorted(tiers, key=lambda t: (t != "inside", t == "free", t)):
        c = tiers[tier]
        print("  %-28s %6d %6d %8d %8d %6d %6d" % (tier, sum(c.values()), c["agree"], c["refused"], c["not yet"],
                                                  c["known"], c["FAIL"]))
    if not_yet:
        print("\nnot computed by grpo-swift, by the first option explain names (batches; first batch):")
        for reason, k in not_yet.most_common():
            print("  %5d  %-70s [batch %d]" % (k, reason, not_yet_example[reason]))
    if refused_verl:
        print("\nrefused by both: verl's reason (where it raised), then explain's (batches):")
        for reason, theirs in sorted(refused_verl.items(), key=lambda kv: -sum(kv[1].values())):
            print("  %5d  verl    %s" % (sum(theirs.values()), reason))
            for ours_reason, k in theirs.most_common():
                print("  %5d    explain %s" % (k, ours_reason[:120]))
    if known:
        print("\nknown differences:")
        for reason, k in known.most_common():
            print("  %5d  %s" % (k, reason))
    if counts["agree"]:
        print("\nlargest relative difference over the agreeing batches: " + ", ".join(
            "%s %.2g" % (k, worst[k]) for k in ("loss", "advantages", "grad_logp", "metric") if k in worst))
        print("the agreeing batches cover:")
        for k, c in coverage.items():
            print("  %-36s %s" % (k, ", ".join("%s %d" % (val, m) for val, m in sorted(c.items(), key=lambda kv: -kv[1]))))
    if failures:
        print("\n%d FAILURES (batch files and verl's numbers in %s):" % (len(failures), failing_dir))
        for index, path, v, detail, diffs in failures[:40]:
            print("  seed %d batch %d: %s; %s" % (args.seed, index, detail,
                                                 "; ".join("%s ours %s verl %s" % (q, fmt(a), fmt(b))
                                                           for q, a, b, _ in diffs[:3])))
        return 1
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    print("\nno failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
