#!/usr/bin/env python3
"""Golden values for grpo-swift's verl-style objectives, computed by verl 0.9.1's own code.

Writes Tests/GRPOTests/Fixtures/verl_terms.json: named cases, each a small fixed batch (every verl
option written out under "verl") and what verl makes of it when the batch is ONE mini-batch on ONE
GPU: the loss its actor backpropagates, d loss / d logp from `loss.backward()`, the advantages of
its estimator, the rollout-correction weights and mask, and the metrics under verl's own names.

Nothing of verl's arithmetic is rewritten here. In float64, with torch's default dtype float64
(set before anything is built), the script calls, in the trainer's order:
  1. (decoupled rollout correction, when the completions carry sampler_logp and the loss mode is
     not bypass_mode) verl.trainer.ppo.rollout_corr_helper.compute_rollout_correction_and_add_to_batch
     on a DataProto holding old_log_probs, rollout_log_probs and response_mask, with the
     algorithm.rollout_correction options as an OmegaConf DictConfig (the trainer passes its
     config node). It replaces response_mask (rejection sampling) and adds rollout_is_weights;
  2. verl.trainer.ppo.ray_trainer.compute_advantage on the (possibly rejected) response_mask, the
     token_level_rewards (each reward at the completion's last token, as verl's reward managers put
     it), uid = the group, norm_adv_by_std_in_grpo and config = the algorithm DictConfig.
     ray_trainer.py cannot be imported without the whole distributed stack (ray serve, torchdata,
     opentelemetry, ...), so compute_advantage (and compute_response_mask, which it calls) is read
     from the installed file with `ast` and exec'd unchanged with the module's own globals
     (core_algos, AdvantageEstimator, AlgoConfig, DataProto, Optional); see ADVANTAGE_SOURCE;
  3. verl.workers.utils.losses.ppo_loss itself, with a real ActorConfig made by hydra's
     `instantiate` from an actor config node with `_target_` (as the trainer's
     omega_conf_to_dataclass does), model_output = {"log_probs": a jagged nested tensor over
     prompt + response tokens, "entropy": the same when entropy is requested}, and a TensorDict
     with prompts / responses / attention_mask / response_mask / old_log_probs / advantages
     [/ ref_log_prob / rollout_is_weights] and the non-tensor dp_size = 1, batch_num_tokens = the
     loss tokens of the batch, global_batch_size = the number of completions (what the FSDP engine
     and _update_actor put there); then loss.backward().

Every case is also run a second time with two more padding columns (or, for seq-mean-token-sum-norm
without loss_scale_factor, whose horizon is the padded width, at the same width) and junk values at
the padded positions of old/ref/sampler log-probs and entropies. A case whose numbers move stops the
script.

Usage (the venv is outside the repo):
  /work/.venv-verl/bin/python tools/verl_terms_golden.py            # writes the fixture
  /work/.venv-verl/bin/python tools/verl_terms_golden.py --check    # regenerates, compares bytes
  /work/.venv-verl/bin/python tools/verl_terms_golden.py --list
  /work/.venv-verl/bin/python tools/verl_terms_golden.py --out /tmp/x.json --case gspo_token_mean
"""

import os
import sys

# verl puts sets into some of its error messages (rollout_is's valid levels); with string hashing
# randomized per process their order, hence the fixture's bytes, would change from run to run.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import ast
import copy
import json
import logging
import math
import random
import traceback
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TORCH_LOGS", "-all")
sys.dont_write_bytecode = True

import torch  # noqa: E402

# Before anything is built: every tensor verl makes without a dtype (torch.tensor(0.0) for a
# group of one, the 1e-8 of masked_mean added to an integer count, the thresholds of the IS
# metrics) is then float64, as are ours.
torch.set_default_dtype(torch.float64)
logging.disable(logging.WARNING)

import numpy as np  # noqa: E402
import verl  # noqa: E402
from hydra.errors import InstantiationException  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from typing import Optional  # noqa: E402

import verl.trainer.ppo.core_algos as core_algos  # noqa: E402
import verl.trainer.ppo.rollout_corr_helper as rollout_corr_helper  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.trainer.config import AlgoConfig  # noqa: E402
from verl.trainer.ppo.core_algos import AdvantageEstimator  # noqa: E402
from verl.utils import tensordict_utils as tu  # noqa: E402
from verl.workers.utils.losses import ppo_loss  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
DEFAULT_OUT = os.path.join(REPO, "Tests", "GRPOTests", "Fixtures", "verl_terms.json")
sys.path.insert(0, TOOLS)
import golden_cli  # noqa: E402
VERL_VERSION = "0.9.1"
PROMPT_ID, TOKEN_ID = 5, 7
JUNK_PAD = {"old_logp": -2.0, "ref_logp": -3.0, "sampler_logp": -4.0, "entropy": 1.5}
EXTRA_COLUMNS = 2

# Metrics verl computes as `.float().mean()` of a boolean tensor, i.e. k / n in float32 whatever the
# default dtype (1/3 -> 0.3333333432674408). Every other metric is float64 here. ({opt} is a
# rollout_rs option name.)
FLOAT32_METRIC_PATTERNS = [
    "rollout_corr/rollout_is_ratio_fraction_high (sequence level only)",
    "rollout_corr/rollout_is_ratio_fraction_low (sequence level only)",
    "rollout_corr/rollout_is_seq_fraction_high", "rollout_corr/rollout_is_seq_fraction_low",
    "rollout_corr/rollout_rs_{opt}_fraction_high (seq_* options only)",
    "rollout_corr/rollout_rs_{opt}_fraction_low (seq_* options only)",
    "rollout_corr/rollout_rs_{opt}_seq_fraction_high", "rollout_corr/rollout_rs_{opt}_seq_fraction_low",
    "rollout_corr/rollout_rs_seq_masked_fraction",
]


# Estimators whose statistics verl takes in float32: gdpo (np.float32 rewards, float32 score tensors
# and weights) and grpo_vectorized (group_mean_std casts to float32).
FLOAT32_ESTIMATORS = ("gdpo", "grpo_vectorized")


def is_float32_metric(name, verl_opts):
    if not name.startswith("rollout_corr/"):
        return False
    key = name[len("rollout_corr/"):]
    if key in ("rollout_is_seq_fraction_high", "rollout_is_seq_fraction_low", "rollout_rs_seq_masked_fraction"):
        return True
    if key in ("rollout_is_ratio_fraction_high", "rollout_is_ratio_fraction_low"):
        return verl_opts.get("rollout_is") == "sequence"
    if key.startswith("rollout_rs_"):
        for opt in rollout_corr_helper.SUPPORTED_ROLLOUT_RS_OPTIONS:
            p = "rollout_rs_%s_" % opt
            if key.startswith(p):
                rest = key[len(p):]
                if rest in ("seq_fraction_high", "seq_fraction_low"):
                    return True
                if rest in ("fraction_high", "fraction_low"):
                    return opt.startswith("seq_")
    return False


# --------------------------------------------------------------------------------------------
# compute_advantage, from the installed ray_trainer.py
# --------------------------------------------------------------------------------------------

RAY_TRAINER_PATH = os.path.join(os.path.dirname(verl.__file__), "trainer", "ppo", "ray_trainer.py")


def _advantage_functions():
    with open(RAY_TRAINER_PATH) as f:
        text = f.read()
    tree = ast.parse(text)
    wanted = {"compute_response_mask", "compute_advantage"}
    segments = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            segments[node.name] = ast.get_source_segment(text, node)
    if set(segments) != wanted:
        sys.exit("verl %s: ray_trainer.py no longer defines %s; read it again" % (verl.__version__, sorted(wanted)))
    src = segments["compute_response_mask"] + "\n\n\n" + segments["compute_advantage"] + "\n"
    for s in ["core_algos.compute_grpo_outcome_advantage(", "index=data.non_tensor_batch[\"uid\"]",
              "norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo", "core_algos.get_adv_estimator_fn(adv_estimator)",
              "adv_kwargs[\"non_tensor_batch\"] = data.non_tensor_batch"]:
        if s not in src:
            sys.exit("verl %s: compute_advantage no longer contains %r; read it again" % (verl.__version__, s))
    scope = {"core_algos": core_algos, "AdvantageEstimator": AdvantageEstimator, "AlgoConfig": AlgoConfig,
             "DataProto": DataProto, "Optional": Optional, "torch": torch, "np": np}
    exec(compile(src, RAY_TRAINER_PATH + " (compute_advantage)", "exec"), scope)
    return src, scope["compute_advantage"]


ADVANTAGE_SOURCE, compute_advantage = _advantage_functions()


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------

# Every option a case writes, at verl 0.9.1's default (checked against the dataclasses below in
# check_defaults): ActorConfig / PolicyLossConfig (verl/workers/config/actor.py) and
# trainer/config/actor/actor.yaml agree on the actor keys; the rollout_correction keys are the
# algorithm.rollout_correction node of trainer/config/algorithm/rollout_correction.yaml (the
# RolloutCorrectionConfig dataclass differs: its rollout_is default is "sequence"); the algorithm
# keys are AlgoConfig's, except adv_estimator, whose verl default is "gae" (needs a critic; not
# covered) and which every case sets.
VERL_DEFAULTS = {
    # actor (ActorConfig)
    "loss_agg_mode": "token-mean", "clip_ratio": 0.2, "clip_ratio_low": 0.2, "clip_ratio_high": 0.2,
    "clip_ratio_c": 3.0, "use_kl_loss": False, "kl_loss_coef": 0.001, "kl_loss_type": "low_var_kl",
    "entropy_coeff": 0.0, "calculate_entropy": False, "loss_scale_factor": None, "tau_pos": 1.0, "tau_neg": 1.05,
    # actor.policy_loss (PolicyLossConfig)
    "loss_mode": "vanilla", "clip_cov_ratio": 0.0002, "clip_cov_lb": 1.0, "clip_cov_ub": 5.0,
    "kl_cov_ratio": 0.0002, "ppo_kl_coef": 0.1, "dro_beta": None,
    # algorithm (AlgoConfig)
    "adv_estimator": "grpo", "norm_adv_by_std_in_grpo": True,
    # algorithm.rollout_correction (rollout_correction.yaml)
    "rollout_is": None, "rollout_is_threshold": 2.0, "rollout_is_batch_normalize": False,
    "rollout_rs": None, "rollout_rs_threshold": None, "loss_type": "ppo_clip",
}
GDPO_DEFAULTS = {"gdpo_reward_weights": None}
ACTOR_KEYS = ["loss_agg_mode", "clip_ratio", "clip_ratio_low", "clip_ratio_high", "clip_ratio_c", "use_kl_loss",
              "kl_loss_coef", "kl_loss_type", "entropy_coeff", "calculate_entropy", "loss_scale_factor",
              "tau_pos", "tau_neg"]
POLICY_LOSS_KEYS = ["loss_mode", "clip_cov_ratio", "clip_cov_lb", "clip_cov_ub", "kl_cov_ratio", "ppo_kl_coef",
                    "dro_beta"]
ROLLOUT_CORR_KEYS = ["rollout_is", "rollout_is_threshold", "rollout_is_batch_normalize", "rollout_rs",
                     "rollout_rs_threshold", "loss_type"]


def check_defaults():
    """VERL_DEFAULTS against the installed dataclasses and yaml."""
    from verl.workers.config import ActorConfig, PolicyLossConfig
    from verl.trainer.config import RolloutCorrectionConfig
    import dataclasses
    fields = {f.name: f for f in dataclasses.fields(ActorConfig)}
    for k in ACTOR_KEYS:
        d = fields[k].default
        if d != VERL_DEFAULTS[k] or type(d) is not type(VERL_DEFAULTS[k]) and not (d == 0 and VERL_DEFAULTS[k] == 0.0):
            if d != VERL_DEFAULTS[k]:
                sys.exit("ActorConfig.%s default is %r, not %r" % (k, d, VERL_DEFAULTS[k]))
    pl = PolicyLossConfig()
    for k in POLICY_LOSS_KEYS:
        if getattr(pl, k) != VERL_DEFAULTS[k]:
            sys.exit("PolicyLossConfig.%s default is %r, not %r" % (k, getattr(pl, k), VERL_DEFAULTS[k]))
    cfgdir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    rc = OmegaConf.load(os.path.join(cfgdir, "algorithm", "rollout_correction.yaml"))
    for k in ROLLOUT_CORR_KEYS:
        if rc[k] != VERL_DEFAULTS[k]:
            sys.exit("rollout_correction.yaml %s is %r, not %r" % (k, rc[k], VERL_DEFAULTS[k]))
    if RolloutCorrectionConfig().rollout_is != "sequence":
        sys.exit("RolloutCorrectionConfig().rollout_is changed; update the note")
    actor_yaml = OmegaConf.load(os.path.join(cfgdir, "actor", "actor.yaml"))
    for k in ACTOR_KEYS:
        if actor_yaml[k] != VERL_DEFAULTS[k]:
            sys.exit("actor.yaml %s is %r, not %r" % (k, actor_yaml[k], VERL_DEFAULTS[k]))
    for k in POLICY_LOSS_KEYS:
        if actor_yaml.policy_loss[k] != VERL_DEFAULTS[k]:
            sys.exit("actor.yaml policy_loss.%s is %r, not %r" % (k, actor_yaml.policy_loss[k], VERL_DEFAULTS[k]))
    algo = AlgoConfig()
    if algo.norm_adv_by_std_in_grpo is not True or algo.gdpo_reward_weights is not None:
        sys.exit("AlgoConfig defaults changed")


# --------------------------------------------------------------------------------------------
# Running one batch through verl
# --------------------------------------------------------------------------------------------

class VerlRefused(Exception):
    def __init__(self, exc, where):
        self.exc, self.where = exc, where


def clean(x):
    """JSON-ready float: NaN -> None, +-inf -> "inf" / "-inf", -0.0 -> 0.0."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x + 0.0


def actor_config(v, n_rows, group_size):
    node = {
        "_target_": "verl.workers.config.ActorConfig", "strategy": "fsdp", "rollout_n": group_size,
        "ppo_mini_batch_size": 1, "ppo_micro_batch_size_per_gpu": n_rows,
        **{k: v[k] for k in ACTOR_KEYS},
        "policy_loss": {"_target_": "verl.workers.config.PolicyLossConfig", **{k: v[k] for k in POLICY_LOSS_KEYS}},
    }
    if v["loss_mode"] == "bypass_mode":
        # The actor reads the rollout-correction options from its own policy_loss node in bypass mode.
        node["policy_loss"]["rollout_correction"] = {
            "_target_": "verl.trainer.config.RolloutCorrectionConfig", "bypass_mode": True,
            **{k: v[k] for k in ROLLOUT_CORR_KEYS}}
    return instantiate(OmegaConf.create(node), _convert_="partial")


def algorithm_config(v, gdpo_keys):
    node = {"adv_estimator": v["adv_estimator"], "norm_adv_by_std_in_grpo": v["norm_adv_by_std_in_grpo"],
            "gamma": 1.0, "lam": 1.0,
            "rollout_correction": {**{k: v[k] for k in ROLLOUT_CORR_KEYS},
                                   "bypass_mode": v["loss_mode"] == "bypass_mode"}}
    if gdpo_keys:
        node["gdpo_reward_keys"] = gdpo_keys
        node["gdpo_reward_weights"] = v.get("gdpo_reward_weights")
    return OmegaConf.create(node)


def _where(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    verl_root = os.path.dirname(verl.__file__)
    frames = [f for f in tb if f.filename.startswith(verl_root)]
    f = frames[-1] if frames else tb[-1]
    return "%s:%s" % (os.path.relpath(f.filename, os.path.dirname(verl_root)), f.name)


def _call(fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except InstantiationException as e:
        cause = e.__cause__ or e
        raise VerlRefused(cause, _where(cause))
    except (ValueError, AssertionError, NotImplementedError, TypeError, KeyError) as e:
        raise VerlRefused(e, _where(e))


class Capture:
    """Locals of some verl functions at their return (sys.setprofile), for what they choose internally."""

    def __init__(self, targets):
        self.targets = {fn.__code__: (fn.__name__, names) for fn, names in targets}
        self.got = {}

    def __enter__(self):
        def prof(frame, event, arg):
            if event == "return" and frame.f_code in self.targets:
                name, names = self.targets[frame.f_code]
                self.got[name] = {k: frame.f_locals.get(k) for k in names}
        self._old = sys.getprofile()
        sys.setprofile(prof)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._old)
        return False


def run_verl(batch, extra_columns=0, junk=False):
    v = batch["verl"]
    groups = batch["groups"]
    rows = [c for grp in groups for c in grp["completions"]]
    uids = np.array(["uid-%d" % k for k, grp in enumerate(groups) for _ in grp["completions"]], dtype=object)
    b = len(rows)
    lengths = [len(c["logp"]) for c in rows]
    width = v["max_response_length"] + extra_columns
    if max(lengths) > v["max_response_length"]:
        raise ValueError("a completion is longer than max_response_length")
    bypass = v["loss_mode"] == "bypass_mode"
    has_sampler = all("sampler_logp" in c for c in rows)
    if any("sampler_logp" in c for c in rows) and not has_sampler:
        raise ValueError("sampler_logp on some completions only")
    want_entropy = v["calculate_entropy"] or v["entropy_coeff"] != 0.0

    def padded(key, dtype=torch.float64, fallback=None):
        fill = JUNK_PAD.get(key, 0.0) if junk else 0.0
        out = torch.full((b, width), fill, dtype=dtype)
        for i, c in enumerate(rows):
            vals = c.get(key, c.get(fallback) if fallback else None)
            out[i, :lengths[i]] = torch.tensor(vals, dtype=dtype)
        return out

    response_mask = torch.zeros(b, width, dtype=torch.int64)
    for i, c in enumerate(rows):
        response_mask[i, :lengths[i]] = torch.tensor(c.get("mask", [1] * lengths[i]), dtype=torch.int64)
    attention_mask = torch.zeros(b, 1 + width, dtype=torch.int64)
    for i, n in enumerate(lengths):
        attention_mask[i, :1 + n] = 1
    prompts = torch.full((b, 1), PROMPT_ID, dtype=torch.int64)
    responses = (attention_mask[:, 1:] * TOKEN_ID).to(torch.int64)

    # Rewards: a scalar per completion at its last token (the reward manager's
    # reward_tensor[i, valid_response_length - 1], valid_response_length from the attention mask).
    gdpo_keys = None
    if "rewards_per_func" in groups[0]:
        table = [row for grp in groups for row in grp["rewards_per_func"]]
        n_funcs = len(table[0])
        gdpo_keys = ["reward_%d" % j for j in range(n_funcs)]
        scalar = [sum(row) for row in table]  # compute_score's "score"; GDPO reads the keys instead
    else:
        scalar = [r for grp in groups for r in grp["rewards"]]
    token_level_rewards = torch.zeros(b, width)
    for i, n in enumerate(lengths):
        token_level_rewards[i, n - 1] = scalar[i]

    old = padded("sampler_logp") if bypass else padded("old_logp", fallback="logp")
    out = {}
    algo = algorithm_config(v, gdpo_keys)

    # 1. Decoupled rollout correction (before the advantages, as in the trainer).
    rollout_is_weights = None
    corr_metrics = {}
    if has_sampler and not bypass:
        dp = DataProto.from_dict(tensors={"old_log_probs": old, "rollout_log_probs": padded("sampler_logp"),
                                          "response_mask": response_mask.clone()})
        dp, corr_metrics = _call(rollout_corr_helper.compute_rollout_correction_and_add_to_batch, dp,
                                 algo.rollout_correction)
        response_mask = dp.batch["response_mask"]
        if "rollout_is_weights" in dp.batch.keys():
            rollout_is_weights = dp.batch["rollout_is_weights"]

    # 2. Advantages.
    tensors = {"token_level_rewards": token_level_rewards, "response_mask": response_mask,
               "prompts": prompts, "responses": responses, "attention_mask": attention_mask}
    non_tensors = {"uid": uids}
    if gdpo_keys:
        for j, key in enumerate(gdpo_keys):
            non_tensors[key] = np.array([row[j] for row in table], dtype=object)
    dp = DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)
    dp = _call(compute_advantage, dp, adv_estimator=v["adv_estimator"], gamma=1.0, lam=1.0,
               num_repeat=len(groups[0]["completions"]), norm_adv_by_std_in_grpo=v["norm_adv_by_std_in_grpo"],
               config=algo)
    advantages = dp.batch["advantages"]
    if (advantages[response_mask == 0] != 0).any():
        raise RuntimeError("nonzero advantage outside the response mask")
    adv_per_row = []
    for i in range(b):
        valid = advantages[i][response_mask[i].bool()]
        if valid.numel() == 0:
            adv_per_row.append(None)
            continue
        if (valid != valid[0]).any():
            raise RuntimeError("advantages are not constant along row %d: %s" % (i, valid.tolist()))
        adv_per_row.append(clean(valid[0].item()))
    out["advantages"] = adv_per_row

    # 3. ppo_loss on one mini-batch on one GPU.
    cfg = _call(actor_config, v, b, len(groups[0]["completions"]))
    logp = torch.zeros(b, width)
    for i, c in enumerate(rows):
        logp[i, :lengths[i]] = torch.tensor(c["logp"])
    logp.requires_grad_(True)

    def nested(per_row):
        # The model's outputs over prompt + response tokens, unpadded: the output at position p
        # scores token p + 1, so the response's values sit at positions 0 .. n - 1 of the row
        # (the prompt's last token onwards); the last response token's own output is never read.
        pieces, offsets = [], [0]
        for i, n in enumerate(lengths):
            pieces += [per_row[i, :n], torch.tensor([-9.0])]
            offsets.append(offsets[-1] + 1 + n)
        return torch.nested.nested_tensor_from_jagged(torch.cat(pieces), torch.tensor(offsets))

    model_output = {"log_probs": nested(logp)}
    if want_entropy:
        ent = torch.zeros(b, width)
        for i, c in enumerate(rows):
            ent[i, :lengths[i]] = torch.tensor(c["entropy"])
        model_output["entropy"] = nested(ent)
    fields = {"prompts": prompts, "responses": responses, "attention_mask": attention_mask,
              "response_mask": response_mask, "old_log_probs": old, "advantages": advantages}
    if v["use_kl_loss"]:
        fields["ref_log_prob"] = padded("ref_logp")
    if rollout_is_weights is not None:
        fields["rollout_is_weights"] = rollout_is_weights
    td = TensorDict(fields, batch_size=[b])
    batch_num_tokens = int(response_mask.sum().item())
    tu.assign_non_tensor(td, dp_size=1, batch_num_tokens=batch_num_tokens, global_batch_size=b)

    targets = [(core_algos.compute_policy_loss_clip_cov, ["top_k_idx", "clip_num"]),
               (core_algos.compute_policy_loss_kl_cov, ["large_cov_idxs", "k"]),
               (core_algos.compute_policy_loss_bypass_mode, ["computed_is_weights", "effective_mask"])]
    seed = v.get("clip_cov_seed")
    if v["loss_mode"] == "clip_cov":
        torch.manual_seed(seed)
    with Capture(targets) as cap:
        loss, metrics = _call(ppo_loss, cfg, model_output, td)
    loss.backward()

    grad = logp.grad if logp.grad is not None else torch.zeros_like(logp)
    loss_mask = response_mask.bool()
    if bypass and "compute_policy_loss_bypass_mode" in cap.got:
        loss_mask = cap.got["compute_policy_loss_bypass_mode"]["effective_mask"].bool()
    if (grad[~loss_mask] != 0).any():
        raise RuntimeError("nonzero d loss / d logp outside the loss mask")
    out["loss"] = clean(loss.item())
    out["grad_logp"] = [[clean(x) for x in grad[i, :n].tolist()] for i, n in enumerate(lengths)]
    m = {}
    for k, val in metrics.items():
        m[k] = clean(val.aggregate() if hasattr(val, "aggregate") else val)
    for k, val in corr_metrics.items():
        if k in m:
            raise RuntimeError("metric %s from both the trainer and the actor" % k)
        m[k] = clean(val)
    out["metrics"] = dict(sorted(m.items()))
    f32 = sorted(k for k in m if is_float32_metric(k, v))
    for k in f32:
        if m[k] != float(np.float32(m[k])):
            raise RuntimeError("metric %s = %r is not a float32 value" % (k, m[k]))
    if f32:
        out["float32_metrics"] = f32
    out["batch_num_tokens"] = batch_num_tokens
    out["global_batch_size"] = b
    if v["adv_estimator"] in FLOAT32_ESTIMATORS:
        out["float32_advantages"] = True

    if bypass:
        got = cap.got["compute_policy_loss_bypass_mode"]
        if got["computed_is_weights"] is not None:
            rollout_is_weights = got["computed_is_weights"]
        response_mask = got["effective_mask"]
    if rollout_is_weights is not None:
        out["rollout_is_weights"] = [[clean(x) for x in rollout_is_weights[i, :n].tolist()]
                                     for i, n in enumerate(lengths)]
    if has_sampler:
        out["response_mask"] = [[int(x) for x in response_mask[i, :n].tolist()] for i, n in enumerate(lengths)]
    if v["loss_mode"] == "clip_cov":
        got = cap.got["compute_policy_loss_clip_cov"]
        out["clip_cov_seed"] = seed
        out["clip_cov_chosen"] = sorted([int(r), int(t)] for r, t in got["top_k_idx"].tolist())
    if v["loss_mode"] == "kl_cov":
        got = cap.got["compute_policy_loss_kl_cov"]
        idx = got["large_cov_idxs"]
        out["kl_cov_chosen"] = sorted([int(x) // width, int(x) % width] for x in idx.tolist()) if idx is not None else []
    return out


def run_case(batch, extra_columns=0, junk=False):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return run_verl(batch, extra_columns, junk)
    except VerlRefused as e:
        msg = str(e.exc)
        if isinstance(e.exc, KeyError):
            msg = repr(e.exc)
        return {"error": msg, "error_type": type(e.exc).__name__, "raised_in": e.where}
    finally:
        torch.set_default_dtype(previous)


# --------------------------------------------------------------------------------------------
# The batches
# --------------------------------------------------------------------------------------------

def r10(x):
    return round(x, 10) + 0.0


# The base rows. Per completion: logp; lr = logp - old_logp; rd = ref_logp - logp; sd = sampler_logp
# - old_logp (the decoupled IS weight is exp(old - sampler) = exp(-sd)). Every log-prob is negative.
# With the base rewards the advantage signs are (+, -, -) (-, +) (-, +, -, -), and the log-ratios
# sit on both sides of log 0.8 = -0.223, log 1.2 = 0.182, log 1.28 = 0.247 and, on A < 0 tokens,
# log 3 = 1.099 (the dual clip): 1.3, 1.15 and 1.65. Completion 6's second token (A > 0, ratio 1.221)
# lies between 1 + 0.2 and 1 + 0.28.
ROWS = {
    "r0": dict(logp=[-0.4, -1.2, -0.35], lr=[0.35, 1.8, -0.1], rd=[0.1, -0.3, 0.05], sd=[0.2, -0.9, 0.05]),
    "r1": dict(logp=[-2.1, -1.7, -1.6, -0.6, -2.8], lr=[-0.45, -1.4, 0.2, -0.3, 1.3],
               rd=[-0.2, 0.4, 0.0, 0.15, -0.5], sd=[0.8, -0.1, 0.3, 0.1, -0.2]),
    "r2": dict(logp=[-0.9], lr=[-0.8], rd=[0.3], sd=[-1.3]),
    "r3": dict(logp=[-1.0, -0.45, -1.9, -0.6], lr=[0.1, -0.25, 1.15, -0.05], rd=[-0.1, 0.2, 0.25, -0.05],
               sd=[0.1, 0.0, -0.2, 0.15]),
    "r4": dict(logp=[-0.6, -1.4], lr=[1.7, 0.26], rd=[0.45, -0.15], sd=[-0.4, -0.5]),
    "r5": dict(logp=[-0.8, -2.4, -1.1, -1.1, -0.9, -1.3], lr=[-0.1, 0.4, -0.2, 0.05, -0.6, 0.24],
               rd=[0.0, -0.35, 0.1, 0.2, -0.25, 0.3], sd=[0.3, -0.2, 0.75, -0.1, 0.05, 0.2]),
    "r6": dict(logp=[-0.3, -1.7], lr=[0.5, 0.2], rd=[0.05, 0.3], sd=[0.0, 0.1]),
    "r7": dict(logp=[-1.3, -0.2, -0.9], lr=[-0.4, 0.15, 1.65], rd=[-0.2, 0.1, 0.4], sd=[-0.3, 0.2, 0.1]),
    "r8": dict(logp=[-0.6, -1.5, -1.75, -2.2], lr=[0.05, -0.7, 0.25, -0.15], rd=[0.15, -0.1, -0.3, 0.05],
               sd=[0.05, -0.05, 1.2, 0.0]),
    # Extreme rows (for the clamps): |log-ratio| 25 and 21 (verl clamps at 20), a GSPO sequence mean
    # above 10, |ref - logp| 22 and 3.5 (k3: kl clamped at +-20, k3 itself at 10).
    "x0": dict(logp=[-1.0, -30.0, -2.0], lr=[25.0, -25.0, 0.1], rd=[-22.0, 22.0, 1.5], sd=[21.0, -0.5, 0.0]),
    "x1": dict(logp=[-12.5, -13.0], lr=[12.0, 11.0], rd=[3.5, 2.0], sd=[0.0, 0.2]),
    "x2": dict(logp=[-0.5, -25.0, -4.0], lr=[-0.2, -21.0, 0.3], rd=[0.4, 21.0, -3.5], sd=[-22.0, 0.1, -0.3]),
    "x3": dict(logp=[-11.0, -12.0], lr=[10.5, 11.5], rd=[-0.5, 4.0], sd=[0.3, 0.0]),
}
ROW_ORDER = list(ROWS)
# Entropies: distinct multiples of 1/64.
for _k, _name in enumerate(ROW_ORDER):
    ROWS[_name]["ent"] = [((37 * (6 * _k + t) + 11) % 173 + 4) / 64 for t in range(len(ROWS[_name]["logp"]))]

# Groups: (rewards, rows). BASE: sizes 3, 2, 4 (unequal); the last group has one success.
BASE = [([1.0, 0.0, 0.25], ["r0", "r1", "r2"]), ([0.2, 0.9], ["r3", "r4"]),
        ([0.0, 1.0, 0.0, 0.0], ["r5", "r6", "r7", "r8"])]
ONE = [([1.0, 0.0, 0.25], ["r0", "r1", "r2"]), ([0.9], ["r4"]), ([0.0, 1.0, 0.0, 0.0], ["r5", "r6", "r7", "r8"])]
EQUAL = [([1.0, 0.0, 0.25], ["r0", "r1", "r2"]), ([0.2, 0.9], ["r3", "r4"]),
         ([0.5, 0.5, 0.5, 0.5], ["r5", "r6", "r7", "r8"])]
ZEROS = [([1.0, 0.0, 0.0], ["r0", "r1", "r2"]), ([0.0, 0.0], ["r3", "r4"]),
         ([0.0, 1.0, 0.0, 0.5], ["r5", "r6", "r7", "r8"])]
TIES = [([1.0, 1.0, 0.25], ["r0", "r1", "r2"]), ([0.2, 0.9], ["r3", "r4"]),
        ([0.0, 1.0, 0.0, 1.0], ["r5", "r6", "r7", "r8"])]
EXTREME = [([1.0, 0.0], ["x0", "x2"]), ([0.75, 0.25], ["x1", "x3"])]
# Two reward functions (GDPO); in group 1 the first function is constant.
PER_FUNC = [[[1.0, 0.5], [0.0, 1.0], [0.25, 0.0]], [[0.5, 0.0], [0.5, 1.0]],
            [[0.0, 0.0], [1.0, 0.5], [0.0, 1.0], [0.0, 0.0]]]
MASKS = {"r1": [1, 1, 0, 1, 1], "r5": [1, 0, 0, 1, 1, 1]}
EMPTY_MASKS = {"r1": [1, 1, 0, 1, 1], "r2": [0]}  # r2 has no loss token at all


def make_batch(opts, groups=BASE, masks=None, on_policy=False, ref=None, sampler=None, per_func=None,
               width=None, rows=ROWS):
    v = dict(VERL_DEFAULTS)
    if (per_func is not None) or opts.get("adv_estimator") == "gdpo":
        v.update(GDPO_DEFAULTS)
    extra = {"max_response_length", "clip_cov_seed"}
    unknown = set(opts) - set(v) - extra
    if unknown:
        raise KeyError("unknown verl keys %s" % sorted(unknown))
    v.update(opts)
    if v["loss_mode"] == "clip_cov":
        v.setdefault("clip_cov_seed", 0)
    bypass = v["loss_mode"] == "bypass_mode"
    if ref is None:
        ref = v["use_kl_loss"]
    if sampler is None:
        sampler = bypass or v["rollout_is"] is not None or v["rollout_rs"] is not None
    want_entropy = v["calculate_entropy"] or v["entropy_coeff"] != 0.0
    out_groups = []
    longest = 0
    for k, (rewards, names) in enumerate(groups):
        completions = []
        for name in names:
            r = rows[name]
            c = {"logp": list(r["logp"])}
            old = [r10(x - d) for x, d in zip(r["logp"], r["lr"])]
            if not on_policy and not bypass:
                c["old_logp"] = old
            if ref:
                c["ref_logp"] = [r10(x + d) for x, d in zip(r["logp"], r["rd"])]
            if sampler:
                base = old if not on_policy else r["logp"]
                c["sampler_logp"] = [r10(x + d) for x, d in zip(base, r["sd"])]
            if want_entropy:
                c["entropy"] = list(r["ent"])
            if masks and name in masks:
                c["mask"] = list(masks[name])
            for key in ("logp", "old_logp", "ref_logp", "sampler_logp"):
                if any(x >= 0 for x in c.get(key, [])):
                    raise ValueError("%s: %s has a value >= 0" % (name, key))
            longest = max(longest, len(c["logp"]))
            completions.append(c)
        grp = {"rewards_per_func": per_func[k]} if per_func is not None else {"rewards": list(rewards)}
        grp["completions"] = completions
        out_groups.append(grp)
    v["max_response_length"] = width if width is not None else longest
    return {"verl": dict(sorted(v.items())), "groups": out_groups}


CASES = []


def case(name, what, opts=None, **kw):
    CASES.append((name, what, make_batch(opts or {}, **kw)))


# ---- loss_agg_mode with vanilla (PPO clip, dual clip) ------------------------------------------------
for mode in ["token-mean", "token-sum", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"]:
    case("vanilla_" + mode, "vanilla at verl's defaults (clip 0.2/0.2, dual clip 3.0), loss_agg_mode %s%s" % (
        mode, " (no loss_scale_factor: divides by the padded width, 6)" if mode.endswith("norm") else ""),
        {"loss_agg_mode": mode})
case("vanilla_seq-mean-token-sum-norm_factor_4", "seq-mean-token-sum-norm with loss_scale_factor 4",
     {"loss_agg_mode": "seq-mean-token-sum-norm", "loss_scale_factor": 4})
case("vanilla_seq-mean-token-sum-norm_width_10", "seq-mean-token-sum-norm without loss_scale_factor, responses "
     "padded to max_response_length 10: the loss is that of the width-6 case times 6/10",
     {"loss_agg_mode": "seq-mean-token-sum-norm"}, width=10)
case("vanilla_token-mean_factor_4_ignored", "loss_scale_factor 4 with token-mean: only the -norm mode reads it",
     {"loss_scale_factor": 4})
for mode in ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"]:
    case("vanilla_masked_%s" % mode, "vanilla, %s, with masked tokens inside completions 1 ([1,1,0,1,1]) and 5 "
         "([1,0,0,1,1,1])" % mode, {"loss_agg_mode": mode}, masks=MASKS)
for mode in ["seq-mean-token-mean", "seq-mean-token-sum", "token-mean"]:
    case("vanilla_empty_row_%s" % mode, "completion 2 has no loss token (mask [0]), %s: global_batch_size is "
         "the 9 completions, so the seq-mean modes still divide by 9 (its 0 counts); its reward still enters "
         "group 0's mean and std" % mode, {"loss_agg_mode": mode}, masks=EMPTY_MASKS)
case("invalid_loss_agg_mode", "an unknown loss_agg_mode: ActorConfig refuses it", {"loss_agg_mode": "seq-sum"})

# ---- clip options -----------------------------------------------------------------------------------
case("vanilla_clip_high_0.28", "DAPO's clip-higher: clip_ratio_high 0.28: the A > 0 token with ratio 1.221 "
     "(completion 6) is no longer clipped; 1.297 (completion 4) is clipped at 1.28 instead of 1.2",
     {"clip_ratio_high": 0.28})
case("vanilla_clip_ratio_0.1_only", "clip_ratio 0.1 alone: clip_ratio_low/high default to 0.2 (not null), so "
     "clip_ratio is never read and this equals vanilla_token-mean", {"clip_ratio": 0.1})
case("vanilla_clip_ratio_0.1_low_high_null", "clip_ratio 0.1 with clip_ratio_low and clip_ratio_high null: "
     "both fall back to 0.1", {"clip_ratio": 0.1, "clip_ratio_low": None, "clip_ratio_high": None})
case("vanilla_clip_ratio_0.3_low_0.1_high_0.25", "clip_ratio 0.3 with clip_ratio_low 0.1 and clip_ratio_high "
     "0.25: low/high win", {"clip_ratio": 0.3, "clip_ratio_low": 0.1, "clip_ratio_high": 0.25})
case("vanilla_clip_low_null", "clip_ratio_low null (falls back to clip_ratio 0.3), clip_ratio_high 0.2",
     {"clip_ratio": 0.3, "clip_ratio_low": None})
case("vanilla_clip_ratio_c_1.1", "clip_ratio_c 1.1, below 1 + clip_ratio_high (verl only asserts c > 1): an A < 0 "
     "token with ratio above 1.1 is held at -A * 1.1 (no gradient), even inside the clip range "
     "(completions 3 and 7, ratios 1.105 and 1.162)",
     {"clip_ratio_c": 1.1})
case("vanilla_clip_ratio_c_10", "clip_ratio_c 10: the dual clip never binds here", {"clip_ratio_c": 10.0})
case("vanilla_clip_ratio_c_1.0", "clip_ratio_c 1.0: verl refuses it (must be > 1)", {"clip_ratio_c": 1.0})
case("vanilla_on_policy", "on-policy: old_log_probs = logp (omitted in the batch), every ratio 1", on_policy=True)
case("vanilla_extreme", "log-ratios 25, -25, -21, 12, 11, 10.5, 11.5: clamped to [-20, 20] before exp; on the "
     "-25 token (A > 0, unclipped branch) the clamp zeroes the gradient -A * e^-25", groups=EXTREME)

# ---- every loss_mode --------------------------------------------------------------------------------
case("gspo_token_mean", "gspo (sequence ratio exp(mean log-ratio), clip 0.2/0.2, no dual clip), token-mean",
     {"loss_mode": "gspo"})
case("gspo_seq-mean-token-mean", "gspo with the paper's seq-mean-token-mean", {"loss_mode": "gspo",
     "loss_agg_mode": "seq-mean-token-mean"})
case("gspo_small_clip", "gspo with the paper's clip range 3e-4 / 4e-4, seq-mean-token-mean",
     {"loss_mode": "gspo", "loss_agg_mode": "seq-mean-token-mean", "clip_ratio_low": 0.0003,
      "clip_ratio_high": 0.0004})
case("gspo_masked", "gspo with masked tokens (mean log-ratio over loss tokens only)", {"loss_mode": "gspo"},
     masks=MASKS)
case("gspo_extreme_clamp_10", "gspo on the extreme rows: sequence mean log-ratios 11.5 (A > 0) and 11 (A < 0) "
     "are clamped at 10 (upper side only), which also zeroes their gradient (no dual clip: the A < 0 row's loss is "
     "|A| e^10); the means 0.03 and -6.97 are not clamped",
     {"loss_mode": "gspo"}, groups=EXTREME)
case("sapo_default", "sapo, tau_pos 1.0 / tau_neg 1.05; always seq-mean-token-mean whatever loss_agg_mode",
     {"loss_mode": "sapo"})
case("sapo_token-sum_ignored", "sapo with loss_agg_mode token-sum: ignored by the policy term (equals "
     "sapo_default)", {"loss_mode": "sapo", "loss_agg_mode": "token-sum"})
case("sapo_taus_0.5_2.0", "sapo with tau_pos 0.5, tau_neg 2.0", {"loss_mode": "sapo", "tau_pos": 0.5,
     "tau_neg": 2.0})
case("sapo_equal_group", "sapo with an equal group (A = 0 takes tau_neg)", {"loss_mode": "sapo"}, groups=EQUAL)
case("sapo_on_policy", "sapo on-policy: gate derivative 1 at ratio 1", {"loss_mode": "sapo"}, on_policy=True)
case("sapo_entropy_token-sum", "sapo with entropy_coeff 0.01 under token-sum: the policy term is "
     "seq-mean-token-mean, the entropy term token-sum", {"loss_mode": "sapo", "loss_agg_mode": "token-sum",
                                                         "entropy_coeff": 0.01})
case("cispo_default", "cispo: -sg(clip(r, 0.8, 1.2)) * A * logp, token-mean", {"loss_mode": "cispo"})
case("cispo_high_4", "cispo with clip_ratio_high 4.0 (cap 5.0) and clip_ratio_low 1.0 (floor 0: no floor)",
     {"loss_mode": "cispo", "clip_ratio_high": 4.0, "clip_ratio_low": 1.0})
case("cispo_seq-mean-token-sum", "cispo, seq-mean-token-sum", {"loss_mode": "cispo",
     "loss_agg_mode": "seq-mean-token-sum"})
case("gpg_default", "gpg policy loss: -A * logp, token-mean, no metrics of its own", {"loss_mode": "gpg"})
case("geo_mean_default", "geo_mean (GMPO): exp(mean of sign-clipped log-ratios) per sequence, mean over the "
     "9 rows; loss_agg_mode ignored", {"loss_mode": "geo_mean"})
case("geo_mean_clip_0.4_token-sum", "geo_mean with clip_ratio_low/high 0.4 and token-sum (ignored)",
     {"loss_mode": "geo_mean", "clip_ratio_low": 0.4, "clip_ratio_high": 0.4, "loss_agg_mode": "token-sum"})
case("geo_mean_empty_row", "geo_mean with completion 2 fully masked: it counts in the mean over rows",
     {"loss_mode": "geo_mean"}, masks=EMPTY_MASKS)
case("dro_beta_0.5", "dro: -(logp * A - 0.5 * beta * (logp - old)^2), beta 0.5, token-mean",
     {"loss_mode": "dro", "dro_beta": 0.5})
case("dro_beta_0.1_seq-mean-token-sum", "dro, beta 0.1, seq-mean-token-sum", {"loss_mode": "dro",
     "dro_beta": 0.1, "loss_agg_mode": "seq-mean-token-sum"})
case("dro_beta_null", "dro without dro_beta: verl refuses", {"loss_mode": "dro"})
case("dppo_tv_default", "dppo_tv: keep a token when its probability moved by at most 0.2 (in the direction A "
     "pushes), weight min(r, clip_ratio_c = 3) detached, -A * w * logp", {"loss_mode": "dppo_tv"})
case("dppo_tv_tight", "dppo_tv with clip_ratio_low 0.05, clip_ratio_high 0.1, clip_ratio_c 1.5, "
     "seq-mean-token-mean", {"loss_mode": "dppo_tv", "clip_ratio_low": 0.05, "clip_ratio_high": 0.1,
                             "clip_ratio_c": 1.5, "loss_agg_mode": "seq-mean-token-mean"})
case("dppo_kl_default", "dppo_kl: binary KL between old and new token probability against 0.2",
     {"loss_mode": "dppo_kl"})
case("kl_cov_default", "kl_cov at kl_cov_ratio 0.0002: max(1, int(n * ratio)) = 1 token (the largest "
     "covariance of A and logp) gets + ppo_kl_coef * |log-ratio|", {"loss_mode": "kl_cov"})
case("kl_cov_ratio_0.25_coef_1", "kl_cov with kl_cov_ratio 0.25 (int(30 * 0.25) = 7 tokens) and ppo_kl_coef 1.0",
     {"loss_mode": "kl_cov", "kl_cov_ratio": 0.25, "ppo_kl_coef": 1.0})
case("kl_cov_masked_seq-mean-token-mean", "kl_cov 0.2 with masked tokens, seq-mean-token-mean",
     {"loss_mode": "kl_cov", "kl_cov_ratio": 0.2, "loss_agg_mode": "seq-mean-token-mean"}, masks=MASKS)
case("clip_cov_default", "clip_cov at its defaults (ratio 0.0002, covariance bounds (1, 5)): one token's "
     "covariance lies in (1, 5) and clip_num = max(int(0.0002 * 30), 1) = 1 detaches it; no dual clip, no "
     "log-ratio clamp", {"loss_mode": "clip_cov"})
for seed in (0, 1):
    case("clip_cov_bounds_0.1_0.6_ratio_0.1_seed_%d" % seed, "clip_cov with covariance bounds (0.1, 0.6) and "
         "ratio 0.1: int(0.1 * 30) = 3 of the 5 candidates, chosen by torch.randperm after torch.manual_seed(%d)" % seed,
         {"loss_mode": "clip_cov", "clip_cov_lb": 0.1, "clip_cov_ub": 0.6, "clip_cov_ratio": 0.1,
          "clip_cov_seed": seed})
case("clip_cov_all_candidates", "clip_cov with bounds (0.1, 0.6) and ratio 1.0: every candidate is chosen "
     "(deterministic)", {"loss_mode": "clip_cov", "clip_cov_lb": 0.1, "clip_cov_ub": 0.6, "clip_cov_ratio": 1.0})
case("clip_cov_all_candidates_masked", "clip_cov, bounds (0.02, 2.0), ratio 1.0, masked tokens",
     {"loss_mode": "clip_cov", "clip_cov_lb": 0.02, "clip_cov_ub": 2.0, "clip_cov_ratio": 1.0}, masks=MASKS)
case("unknown_loss_mode", "an unregistered loss_mode", {"loss_mode": "grpo"})

# ---- bypass mode (old_log_probs = the sampler's; the actor computes the correction itself) -------------
case("bypass_ppo_clip", "bypass_mode, loss_type ppo_clip: vanilla on ratio exp(logp - sampler_logp); no IS "
     "weights; the rollout_corr metrics from the current logp", {"loss_mode": "bypass_mode"})
case("bypass_ppo_clip_rs_token_k1", "bypass ppo_clip with rollout_rs token_k1 0.5_2.0: rejected tokens leave the "
     "loss, but batch_num_tokens (computed before the loss) still counts them",
     {"loss_mode": "bypass_mode", "rollout_rs": "token_k1", "rollout_rs_threshold": "0.5_2.0"})
case("bypass_ppo_clip_is_token_ignored", "bypass ppo_clip with rollout_is token: weights computed (metrics) but "
     "not applied", {"loss_mode": "bypass_mode", "rollout_is": "token"})
case("bypass_reinforce_no_is", "bypass_mode, loss_type reinforce, no IS: -A * logp under the actor's "
     "loss_agg_mode (token-mean); actor/ppo_kl is mean(sampler - logp)", {"loss_mode": "bypass_mode",
                                                                         "loss_type": "reinforce"})
case("bypass_reinforce_is_token", "bypass reinforce with token IS weights (threshold 2.0)",
     {"loss_mode": "bypass_mode", "loss_type": "reinforce", "rollout_is": "token"})
case("bypass_reinforce_is_sequence", "bypass reinforce with sequence IS weights (threshold 2.0), "
     "seq-mean-token-sum", {"loss_mode": "bypass_mode", "loss_type": "reinforce", "rollout_is": "sequence",
                            "loss_agg_mode": "seq-mean-token-sum"})
case("bypass_reinforce_is_sequence_rs_seq_mean_k3", "bypass reinforce, sequence IS 5.0, rollout_rs seq_mean_k3 "
     "0.5 (between the current logp and the sampler's)", {"loss_mode": "bypass_mode", "loss_type": "reinforce",
                                                        "rollout_is": "sequence", "rollout_is_threshold": 5.0,
                                                        "rollout_rs": "seq_mean_k3", "rollout_rs_threshold": 0.5})
case("bypass_reinforce_is_token_batch_normalize", "bypass reinforce, token IS normalized to mean 1",
     {"loss_mode": "bypass_mode", "loss_type": "reinforce", "rollout_is": "token",
      "rollout_is_batch_normalize": True})
case("bypass_invalid_loss_type", "bypass with loss_type 'ppo': refused", {"loss_mode": "bypass_mode",
     "loss_type": "ppo"})

# ---- KL loss ----------------------------------------------------------------------------------------
case("kl_low_var_kl_default_coef", "use_kl_loss with verl's defaults: low_var_kl (k3, clamped), coef 0.001",
     {"use_kl_loss": True})
for kt in ["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3"]:
    for plus in ("", "+"):
        case("kl_%s%s" % (kt, plus.replace("+", "_plus")), "use_kl_loss, kl_loss_type %s%s, coef 0.1%s" % (
            kt, plus, " (straight-through: the value of %s, the gradient of k2)" % kt if plus else ""),
            {"use_kl_loss": True, "kl_loss_type": kt + plus, "kl_loss_coef": 0.1})
for kt in ["low_var_kl", "k3+", "abs"]:
    case("kl_extreme_%s" % kt.replace("+", "_plus"), "kl_loss_type %s on the extreme rows: ref - logp = +-22, "
         "+-21, 4, -3.5 (k3 clamps kl at +-20 and the estimate at 10)" % kt,
         {"use_kl_loss": True, "kl_loss_type": kt, "kl_loss_coef": 0.1}, groups=EXTREME)
case("kl_k3_seq-mean-token-sum_masked", "k3 KL, coef 0.1, seq-mean-token-sum, masked tokens",
     {"use_kl_loss": True, "kl_loss_type": "k3", "kl_loss_coef": 0.1, "loss_agg_mode": "seq-mean-token-sum"},
     masks=MASKS)
case("kl_full", "kl_loss_type full: not implemented", {"use_kl_loss": True, "kl_loss_type": "full"})
case("kl_unknown_k4", "kl_loss_type k4: not implemented", {"use_kl_loss": True, "kl_loss_type": "k4"})

# ---- entropy ----------------------------------------------------------------------------------------
case("entropy_0.01", "entropy_coeff 0.01, token-mean (entropies are data: no gradient)", {"entropy_coeff": 0.01})
case("entropy_-0.05_seq-mean-token-sum-norm", "entropy_coeff -0.05, seq-mean-token-sum-norm (no factor)",
     {"entropy_coeff": -0.05, "loss_agg_mode": "seq-mean-token-sum-norm"})
case("entropy_0.1_masked_seq-mean-token-mean", "entropy_coeff 0.1, masked tokens, seq-mean-token-mean",
     {"entropy_coeff": 0.1, "loss_agg_mode": "seq-mean-token-mean"}, masks=MASKS)
case("entropy_calculate_only", "calculate_entropy true with entropy_coeff 0: actor/entropy_loss is reported, "
     "the loss is unchanged", {"calculate_entropy": True})
case("combo_gspo_kl_entropy", "gspo, seq-mean-token-mean, k3 KL 0.05, entropy 0.01, masked tokens",
     {"loss_mode": "gspo", "loss_agg_mode": "seq-mean-token-mean", "use_kl_loss": True, "kl_loss_type": "k3",
      "kl_loss_coef": 0.05, "entropy_coeff": 0.01}, masks=MASKS)

# ---- advantage estimators ---------------------------------------------------------------------------
case("adv_grpo_no_std", "grpo with norm_adv_by_std_in_grpo false (Dr. GRPO): A = r - mean",
     {"norm_adv_by_std_in_grpo": False})
case("adv_grpo_group_of_one", "grpo with a group of one (completion 3, reward 0.9): mean 0, std 1, so "
     "A = 0.9 / (1 + 1e-6)", groups=ONE)
case("adv_grpo_group_of_one_no_std", "the same without std: A = 0.9", {"norm_adv_by_std_in_grpo": False},
     groups=ONE)
case("adv_grpo_equal_group", "grpo with an equal group: A = 0 (std 0 + 1e-6)", groups=EQUAL)
case("adv_grpo_vectorized", "grpo_vectorized: grpo's formula with the group mean and std taken in float32 "
     "(verl.utils.group_mean_std), so A differs from vanilla_token-mean's by float32 rounding",
     {"adv_estimator": "grpo_vectorized"})
case("adv_grpo_vectorized_group_of_one", "grpo_vectorized with a group of one: mean 0, std 1, as grpo",
     {"adv_estimator": "grpo_vectorized"}, groups=ONE)
case("adv_rloo", "rloo: A = (n r - sum) / (n - 1)", {"adv_estimator": "rloo"})
case("adv_rloo_group_of_one", "rloo with a group of one: no baseline, A = r", {"adv_estimator": "rloo"},
     groups=ONE)
case("adv_rloo_vectorized_group_of_one", "rloo_vectorized with a group of one: A = 0 (unlike rloo)",
     {"adv_estimator": "rloo_vectorized"}, groups=ONE)
case("adv_opo", "opo: baseline = length-weighted mean reward of the group", {"adv_estimator": "opo"})
case("adv_opo_masked_group_of_one", "opo with masked tokens (lengths count loss tokens) and a group of one "
     "(baseline 0)", {"adv_estimator": "opo"}, groups=ONE, masks=MASKS)
case("adv_grpo_passk", "grpo_passk: only each group's best gets (r_max - r_second) / (std + 1e-6)",
     {"adv_estimator": "grpo_passk"})
case("adv_grpo_passk_no_std_ties", "grpo_passk without std, groups with tied maxima (topk picks one)",
     {"adv_estimator": "grpo_passk", "norm_adv_by_std_in_grpo": False}, groups=TIES)
case("adv_grpo_passk_group_of_one", "grpo_passk with a group of one: refused", {"adv_estimator": "grpo_passk"},
     groups=ONE)
case("adv_reinforce_plus_plus_baseline", "reinforce_plus_plus_baseline: r - group mean, then whitened over all "
     "loss tokens of the batch (token-weighted, Bessel, + 1e-8)", {"adv_estimator": "reinforce_plus_plus_baseline"})
case("adv_reinforce_plus_plus_baseline_group_of_one_masked", "reinforce_plus_plus_baseline with a group of one "
     "(mean 0) and masked tokens", {"adv_estimator": "reinforce_plus_plus_baseline"}, groups=ONE, masks=MASKS)
case("adv_reinforce_plus_plus", "reinforce_plus_plus (gamma 1): the return r at every token, whitened over "
     "the batch's loss tokens", {"adv_estimator": "reinforce_plus_plus"}, masks=MASKS)
case("adv_gpg", "gpg estimator: alpha (r - mean) with alpha = B / number of nonzero rewards (9/5)",
     {"adv_estimator": "gpg"})
case("adv_gpg_zeros", "gpg estimator with more zero rewards (3 nonzero: alpha 9/3) and a group whose "
     "rewards are all 0", {"adv_estimator": "gpg"}, groups=ZEROS)
case("adv_gpg_with_gpg_loss", "gpg estimator with the gpg policy loss", {"adv_estimator": "gpg",
     "loss_mode": "gpg"})
case("adv_gdpo", "gdpo, two reward functions, weights [1, 0.5]: per-function group normalization, weighted sum, "
     "batch whitening (float32 throughout)", {"adv_estimator": "gdpo", "gdpo_reward_weights": [1.0, 0.5]},
     per_func=PER_FUNC)
case("adv_gdpo_unweighted", "gdpo with gdpo_reward_weights null (all 1)", {"adv_estimator": "gdpo"},
     per_func=PER_FUNC)
case("adv_gdpo_no_std_ignored", "gdpo with norm_adv_by_std_in_grpo false: compute_advantage does not pass it "
     "to gdpo, so the numbers equal adv_gdpo", {"adv_estimator": "gdpo", "gdpo_reward_weights": [1.0, 0.5],
                                               "norm_adv_by_std_in_grpo": False}, per_func=PER_FUNC)
case("adv_gdpo_masked", "gdpo with masked tokens (the whitening is over loss tokens)",
     {"adv_estimator": "gdpo", "gdpo_reward_weights": [1.0, 0.5]}, per_func=PER_FUNC, masks=MASKS)
case("adv_unknown", "an unregistered adv_estimator", {"adv_estimator": "grpo_plus"})

# ---- decoupled rollout correction (trainer side, before the advantages) ---------------------------------
case("rollout_metrics_only", "sampler_logp given, rollout_is and rollout_rs null: only the rollout_corr "
     "metrics; the loss equals vanilla_token-mean", sampler=True)
case("rollout_is_token_2", "token IS weights exp(old - sampler) truncated at 2.0 (TIS)", {"rollout_is": "token"})
case("rollout_is_token_string_1.5", "token IS with rollout_is_threshold '1.5' (a float-like string)",
     {"rollout_is": "token", "rollout_is_threshold": "1.5"})
case("rollout_is_token_icepop_0.5_2.0", "token IS with the lower_upper form '0.5_2.0' (IcePop): weights "
     "outside [0.5, 2.0] are zeroed, the rest kept", {"rollout_is": "token", "rollout_is_threshold": "0.5_2.0"})
case("rollout_is_sequence_2", "sequence IS: exp(sum of old - sampler over loss tokens) truncated at 2.0",
     {"rollout_is": "sequence"})
case("rollout_is_sequence_icepop_0.5_5.0", "sequence IS with '0.5_5.0'", {"rollout_is": "sequence",
     "rollout_is_threshold": "0.5_5.0"})
case("rollout_is_token_batch_normalize", "token IS 2.0 normalized to mean 1 over loss tokens",
     {"rollout_is": "token", "rollout_is_batch_normalize": True})
case("rollout_is_sequence_batch_normalize", "sequence IS 3.0 normalized to mean 1 over sequences",
     {"rollout_is": "sequence", "rollout_is_threshold": 3.0, "rollout_is_batch_normalize": True})
case("rollout_is_token_masked_seq-mean-token-mean", "token IS with masked tokens, seq-mean-token-mean",
     {"rollout_is": "token", "loss_agg_mode": "seq-mean-token-mean"}, masks=MASKS)
case("rollout_is_token_extreme", "token IS on the extreme rows (old - sampler = -21, 22): clamped at +-20 "
     "before exp, then truncated", {"rollout_is": "token"}, groups=EXTREME)
RS = [("token_k1", "0.5_2.0"), ("token_k1", 2.0), ("token_k2", 0.1), ("token_k3", 0.05),
      ("seq_sum_k1", "0.3_3.0"), ("seq_sum_k2", 0.3), ("seq_sum_k3", 0.2),
      ("seq_mean_k1", "0.8_1.25"), ("seq_mean_k2", 0.05), ("seq_mean_k3", 0.05),
      ("seq_max_k2", 0.2), ("seq_max_k3", 0.3)]
for opt, thr in RS:
    case("rollout_rs_%s_%s" % (opt, thr), "rejection sampling %s with threshold %r%s" % (
        opt, thr, " (one number: lower = 1/upper)" if opt.endswith("k1") and not isinstance(thr, str) else ""),
        {"rollout_rs": opt, "rollout_rs_threshold": thr})
case("rollout_rs_token_k1_seq_mean_k3_combined", "two criteria 'token_k1,seq_mean_k3' with '0.5_2.0,0.1': a token "
     "stays only if both pass", {"rollout_rs": "token_k1,seq_mean_k3", "rollout_rs_threshold": "0.5_2.0,0.1"})
case("rollout_rs_shared_threshold", "'seq_sum_k2,seq_max_k3' sharing one threshold 0.3",
     {"rollout_rs": "seq_sum_k2,seq_max_k3", "rollout_rs_threshold": 0.3})
case("rollout_is_sequence_rs_seq_mean_k3_grpo_passk", "sequence IS 2.0 with seq_mean_k3 0.05 rejection, "
     "grpo_passk (the rejected completions' tokens leave the advantages' mask)",
     {"rollout_is": "sequence", "rollout_rs": "seq_mean_k3", "rollout_rs_threshold": 0.05,
      "adv_estimator": "grpo_passk"})
case("rollout_is_token_rs_token_k1_rpp_baseline", "token IS 2.0 with token_k1 '0.5_2.0' rejection under "
     "reinforce_plus_plus_baseline (whitening over the surviving tokens) and seq-mean-token-mean",
     {"rollout_is": "token", "rollout_rs": "token_k1", "rollout_rs_threshold": "0.5_2.0",
      "adv_estimator": "reinforce_plus_plus_baseline", "loss_agg_mode": "seq-mean-token-mean"})
case("rollout_rs_seq_sum_k1_opo", "seq_sum_k1 '0.3_3.0' rejection with opo (lengths after rejection)",
     {"rollout_rs": "seq_sum_k1", "rollout_rs_threshold": "0.3_3.0", "adv_estimator": "opo"})
case("gspo_rollout_is_token", "gspo with decoupled token IS weights (each token's term times its weight)",
     {"loss_mode": "gspo", "rollout_is": "token"})
case("gspo_rollout_is_sequence_seq-mean-token-mean", "gspo with sequence IS weights, seq-mean-token-mean",
     {"loss_mode": "gspo", "rollout_is": "sequence", "loss_agg_mode": "seq-mean-token-mean"})
case("geo_mean_rollout_is_token", "geo_mean with token IS weights: their geometric mean per sequence "
     "(log(w + 1e-10))", {"loss_mode": "geo_mean", "rollout_is": "token"})
case("sapo_rollout_is_token_icepop", "sapo with IcePop token weights '0.5_2.0'", {"loss_mode": "sapo",
     "rollout_is": "token", "rollout_is_threshold": "0.5_2.0"})
case("cispo_rollout_rs_token_k2", "cispo with token_k2 0.1 rejection", {"loss_mode": "cispo",
     "rollout_rs": "token_k2", "rollout_rs_threshold": 0.1})
case("dppo_tv_rollout_is_sequence", "dppo_tv with sequence IS weights", {"loss_mode": "dppo_tv",
     "rollout_is": "sequence"})
case("rollout_rs_no_threshold", "rollout_rs without a threshold: refused", {"rollout_rs": "token_k2"})
case("rollout_rs_invalid_option", "rollout_rs seq_max_k1 (no such option): refused",
     {"rollout_rs": "seq_max_k1", "rollout_rs_threshold": 1.0})
case("rollout_rs_k2_with_lower_upper", "token_k2 with '0.1_0.2': k2/k3 take an upper bound only",
     {"rollout_rs": "token_k2", "rollout_rs_threshold": "0.1_0.2"})
case("rollout_is_threshold_lower_above_upper", "rollout_is_threshold '2.0_0.5': refused",
     {"rollout_is": "token", "rollout_is_threshold": "2.0_0.5"})
case("rollout_is_invalid_level", "rollout_is 'tokens': refused", {"rollout_is": "tokens"})
case("rollout_rs_thresholds_count", "two options, three thresholds: refused",
     {"rollout_rs": "token_k2,seq_max_k3", "rollout_rs_threshold": "0.1,0.2,0.3"})


# ---- hand-worked small case --------------------------------------------------------------------------
HAND_ROWS = {
    "h0": dict(logp=[-0.5, -1.0], lr=[0.2, 0.0], rd=[0.1, -0.2], sd=[0.0, 0.0], ent=[1.0, 0.5]),
    "h1": dict(logp=[-0.3], lr=[-0.2], rd=[0.0], sd=[0.0], ent=[0.25]),
}
case("hand_vanilla_tiny", "one group of two: 2 and 1 tokens, rewards 1 and 0 (worked by hand in hand_checks)",
     groups=[([1.0, 0.0], ["h0", "h1"])], rows=HAND_ROWS)
case("hand_vanilla_tiny_seq-mean-token-mean_k3", "the same, seq-mean-token-mean with k3 KL coef 0.5",
     {"loss_agg_mode": "seq-mean-token-mean", "use_kl_loss": True, "kl_loss_type": "k3", "kl_loss_coef": 0.5},
     groups=[([1.0, 0.0], ["h0", "h1"])], rows=HAND_ROWS)


# ---- seeded random batches --------------------------------------------------------------------------
def random_rows(rng, prefix, n_rows):
    rows = {}
    for i in range(n_rows):
        n = rng.randint(1, 6)
        logp = [r10(-rng.uniform(0.05, 3.0)) for _ in range(n)]
        old = [r10(-rng.uniform(0.05, 3.0)) for _ in range(n)]
        ref = [r10(-rng.uniform(0.05, 3.0)) for _ in range(n)]
        sampler = [r10(min(-0.01, o + rng.gauss(0.0, 0.5))) for o in old]
        rows["%s%d" % (prefix, i)] = dict(
            logp=logp, lr=[r10(x - o) for x, o in zip(logp, old)], rd=[r10(r - x) for r, x in zip(ref, logp)],
            sd=[r10(s - o) for s, o in zip(sampler, old)], ent=[rng.randint(1, 200) / 64 for _ in range(n)])
    return rows


RANDOM_OPTS = [
    {"loss_mode": "vanilla", "loss_agg_mode": "seq-mean-token-mean", "clip_ratio_high": 0.28},
    {"loss_mode": "gspo", "use_kl_loss": True, "kl_loss_type": "low_var_kl", "kl_loss_coef": 0.05},
    {"loss_mode": "cispo", "clip_ratio_high": 4.0, "entropy_coeff": 0.01, "loss_agg_mode": "token-sum"},
    {"loss_mode": "sapo", "rollout_is": "token", "adv_estimator": "rloo"},
    {"loss_mode": "vanilla", "rollout_is": "sequence", "rollout_is_threshold": 5.0, "rollout_rs": "seq_mean_k3",
     "rollout_rs_threshold": 0.5, "adv_estimator": "reinforce_plus_plus_baseline"},
    {"loss_mode": "bypass_mode", "loss_type": "reinforce", "rollout_is": "token", "loss_agg_mode":
     "seq-mean-token-sum-norm", "loss_scale_factor": 3},
    {"loss_mode": "dppo_tv", "norm_adv_by_std_in_grpo": False, "use_kl_loss": True, "kl_loss_type": "k2+",
     "kl_loss_coef": 0.2},
    {"loss_mode": "geo_mean", "adv_estimator": "opo"},
]
for _s, _opts in enumerate(RANDOM_OPTS):
    _rng = random.Random(1000 + _s)
    _n_groups = _rng.randint(2, 4)
    _sizes = [_rng.randint(1, 4) for _ in range(_n_groups)]
    if _opts.get("adv_estimator") == "grpo_passk":
        _sizes = [max(2, s) for s in _sizes]
    _rows = random_rows(_rng, "q", sum(_sizes))
    _names = list(_rows)
    _groups, _at = [], 0
    for _g in _sizes:
        _groups.append(([_rng.choice([0.0, 0.25, 0.5, 0.75, 1.0]) for _ in range(_g)], _names[_at:_at + _g]))
        _at += _g
    case("random_%d_%s" % (_s, _opts["loss_mode"]), "seeded random batch %d (random.Random(%d)): %d groups of %s, "
         "options %s" % (_s, 1000 + _s, _n_groups, _sizes, json.dumps(_opts, sort_keys=True)),
         _opts, groups=_groups, rows=_rows)


# --------------------------------------------------------------------------------------------
# Hand checks (independent of verl's code)
# --------------------------------------------------------------------------------------------

def _close(a, b, tol=1e-12, what=""):
    if a is None or b is None or abs(a - b) > tol * max(1.0, abs(b)):
        raise AssertionError("hand check %s: %r vs %r" % (what, a, b))


def _rows(batch):
    return [c for grp in batch["groups"] for c in grp["completions"]]


def hand_checks(results):
    by = {name: (batch, res) for name, _, batch, res in results}

    # hand_vanilla_tiny. Rewards 1, 0: mean 0.5, sample std sqrt(0.5) = 0.70710678, so
    # A = +-0.5 / (0.70710678 + 1e-6) = +-0.70710578.
    a = 0.5 / (math.sqrt(0.5) + 1e-6)
    batch, res = by["hand_vanilla_tiny"]
    _close(res["advantages"][0], a, what="tiny A+")
    _close(res["advantages"][1], -a, what="tiny A-")
    # Tokens: (A+, log-ratio 0.2 -> r = 1.2214 > 1.2: clipped, term -1.2 A, no gradient),
    #         (A+, r = 1: term -A, gradient -A r = -A),
    #         (A-, r = e^-0.2 = 0.8187: inside, term -A r = 0.7071 * 0.8187 = 0.5789; the dual clip
    #          -A * 3 = 2.12 does not bind; gradient -A r = +0.5789).
    # token-mean over N = 3 tokens: loss = (-1.2 a - a + a e^-0.2) / 3 = -0.32553...
    n = 3
    r2 = math.exp(-0.2)
    _close(res["loss"], (-1.2 * a - a + a * r2) / n, what="tiny loss")
    _close(res["grad_logp"][0][0], 0.0, what="tiny clipped grad")
    _close(res["grad_logp"][0][1], -a / n, what="tiny grad")
    _close(res["grad_logp"][1][0], a * r2 / n, what="tiny A<0 grad")
    # metrics: masked_mean divides by count + 1e-8: one clipped token of 3 -> 1 / (3 + 1e-8);
    # ppo_kl = mean(old - logp) = (-0.2 + 0 + 0.2) / (3 + 1e-8) = 0.
    _close(res["metrics"]["actor/pg_clipfrac"], 1 / (3 + 1e-8), what="clipfrac 1e-8")
    _close(res["metrics"]["actor/ppo_kl"], 0.0, what="tiny ppo_kl")
    _close(res["metrics"]["actor/pg_loss"], res["loss"], what="pg_loss = loss")
    # seq-mean-token-mean with k3 KL 0.5: row means / B = 2, each row mean / (tokens + 1e-8).
    # k3(ref, logp) = exp(ref - logp) - (ref - logp) - 1 with ref - logp = 0.1, -0.2 | 0.0;
    # its gradient w.r.t. logp is 1 - exp(ref - logp).
    batch, res = by["hand_vanilla_tiny_seq-mean-token-mean_k3"]
    k3 = lambda d: math.exp(d) - d - 1  # noqa: E731
    pg = [(-1.2 * a - a) / (2 + 1e-8), (a * r2) / (1 + 1e-8)]
    kl = [(k3(0.1) + k3(-0.2)) / (2 + 1e-8), k3(0.0) / (1 + 1e-8)]
    _close(res["loss"], sum(pg) / 2 + 0.5 * sum(kl) / 2, what="tiny seq-mean loss")
    _close(res["metrics"]["kl_loss"], sum(kl) / 2, what="tiny kl_loss")
    _close(res["grad_logp"][0][0], 0.5 * (1 - math.exp(0.1)) / (2 + 1e-8) / 2, what="tiny kl grad")
    _close(res["grad_logp"][0][1], (-a + 0.5 * (1 - math.exp(-0.2))) / (2 + 1e-8) / 2, what="tiny pg+kl grad")

    # The group of one: mean 0, std 1 -> 0.9 / (1 + 1e-6); without std 0.9; rloo: 0.9 itself.
    _close(by["adv_grpo_group_of_one"][1]["advantages"][3], 0.9 / (1 + 1e-6), what="group of one")
    _close(by["adv_grpo_group_of_one_no_std"][1]["advantages"][3], 0.9, what="group of one no std")
    _close(by["adv_rloo_group_of_one"][1]["advantages"][3], 0.9, what="rloo group of one")
    # The base GRPO advantages: group 2 is (0, 1, 0, 0): mean 0.25, sample std 0.5 -> 1.5 / -0.5
    # (each over 0.5 + 1e-6).
    adv = by["vanilla_token-mean"][1]["advantages"]
    _close(adv[6], 0.75 / (0.5 + 1e-6), what="grpo 1.5")
    _close(adv[5], -0.25 / (0.5 + 1e-6), what="grpo -0.5")

    # Empty row under seq-mean-token-mean: the other rows' means summed over B = 9 (not 8).
    batch, res = by["vanilla_empty_row_seq-mean-token-mean"]
    _, ref = by["vanilla_masked_seq-mean-token-mean"]
    rows = _rows(batch)
    total = 0.0
    for c, a_i in zip(rows, res["advantages"]):
        mask = c.get("mask", [1] * len(c["logp"]))
        if not any(mask):
            continue
        s = 0.0
        for x, o, m in zip(c["logp"], c["old_logp"], mask):
            if not m:
                continue
            r = math.exp(x - o)
            t = max(-a_i * r, -a_i * min(max(r, 0.8), 1.2))
            if a_i < 0:
                t = min(t, -a_i * 3.0)
            s += t
        total += s / (sum(mask) + 1e-8)
    _close(res["loss"], total / 9, what="empty row / B")

    # seq-mean-token-sum-norm without a factor divides by the padded width: width 10 = width 6 * 6/10.
    _close(by["vanilla_seq-mean-token-sum-norm_width_10"][1]["loss"],
           by["vanilla_seq-mean-token-sum-norm"][1]["loss"] * 6 / 10, what="horizon = width")
    # clip_ratio alone is dead while clip_ratio_low/high are set.
    for key in ("loss", "grad_logp", "metrics"):
        if by["vanilla_clip_ratio_0.1_only"][1][key] != by["vanilla_token-mean"][1][key]:
            raise AssertionError("hand check: clip_ratio 0.1 alone changed %s" % key)
    # sapo ignores loss_agg_mode; gdpo ignores norm_adv_by_std_in_grpo.
    if by["sapo_token-sum_ignored"][1]["loss"] != by["sapo_default"][1]["loss"]:
        raise AssertionError("hand check: sapo's aggregation is not forced")
    if by["adv_gdpo_no_std_ignored"][1]["advantages"] != by["adv_gdpo"][1]["advantages"]:
        raise AssertionError("hand check: gdpo read norm_adv_by_std_in_grpo")
    # Metrics-only rollout correction leaves the loss alone.
    if by["rollout_metrics_only"][1]["loss"] != by["vanilla_token-mean"][1]["loss"]:
        raise AssertionError("hand check: rollout metrics changed the loss")

    # k3 clamps on the extreme rows: d = ref - logp = -22 -> kl clamped to -20: e^-20 + 20 - 1 = 19
    # -> estimate clamped to 10, gradient 0. k3+ keeps the value 10 but has gradient logp - ref = 22.
    batch, res = by["kl_extreme_low_var_kl"]
    _, resp = by["kl_extreme_k3_plus"]
    _close(res["metrics"]["kl_loss"], resp["metrics"]["kl_loss"], what="k3+ value = k3 value")
    if res["grad_logp"][0][0] != 0.0:
        raise AssertionError("hand check: clamped k3 has a gradient")
    n = sum(len(c["logp"]) for c in _rows(batch))
    _close(resp["grad_logp"][0][0], 0.1 * 22.0 / n, tol=1e-9, what="k3+ gradient = coef * (logp - ref) / N")
    # gspo: the extreme rows with mean log-ratio > 10 have no gradient (clamp at 10).
    _, res = by["gspo_extreme_clamp_10"]
    for i in (2, 3):
        if any(g != 0.0 for g in res["grad_logp"][i]):
            raise AssertionError("hand check: gspo row %d above the clamp has a gradient" % i)
    # cispo: d/dlogp = -clip(r, 0.8, 1.2) * A / N.
    batch, res = by["cispo_default"]
    rows = _rows(batch)
    n = sum(len(c["logp"]) for c in rows)
    for c, a_i, gr in zip(rows, res["advantages"], res["grad_logp"]):
        for x, o, g in zip(c["logp"], c["old_logp"], gr):
            _close(g, -min(max(math.exp(x - o), 0.8), 1.2) * a_i / n, what="cispo grad")
    # Token TIS: weights min(exp(old - sampler), 2) at loss tokens.
    batch, res = by["rollout_is_token_2"]
    for c, w in zip(_rows(batch), res["rollout_is_weights"]):
        for o, s, x in zip(c["old_logp"], c["sampler_logp"], w):
            _close(x, min(math.exp(o - s), 2.0), what="token TIS")
    # clip_cov with every candidate chosen: those tokens have gradient 0.
    for name in ("clip_cov_all_candidates", "clip_cov_bounds_0.1_0.6_ratio_0.1_seed_0"):
        _, res = by[name]
        if not res["clip_cov_chosen"]:
            raise AssertionError("hand check: %s chose nothing" % name)
        for r, t in res["clip_cov_chosen"]:
            if res["grad_logp"][r][t] != 0.0:
                raise AssertionError("hand check: %s chosen token has a gradient" % name)
    if by["clip_cov_bounds_0.1_0.6_ratio_0.1_seed_0"][1]["clip_cov_chosen"] == \
            by["clip_cov_bounds_0.1_0.6_ratio_0.1_seed_1"][1]["clip_cov_chosen"]:
        raise AssertionError("hand check: seeds 0 and 1 chose the same clip_cov tokens")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def differs(a, b, tol=1e-12):
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
        elif isinstance(x, (str, type(None))) or isinstance(y, (str, type(None))):
            if x != y:
                out.append(path)
        elif abs(x - y) > tol * max(1.0, abs(y)):
            out.append(path)

    walk(a, b, "")
    return out


def dump(doc):
    """Stable text: one line per case, keys sorted, floats as Python's shortest repr."""
    lines = ["{", ' "origin": ' + json.dumps(doc["origin"], allow_nan=False, sort_keys=True) + ",", ' "cases": [']
    for i, c in enumerate(doc["cases"]):
        lines.append("  " + json.dumps(c, allow_nan=False, separators=(",", ":"), sort_keys=True)
                     + ("," if i + 1 < len(doc["cases"]) else ""))
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


NOTE = (
    "Computed by verl 0.9.1's own code in float64 with torch's default dtype float64, each batch as ONE "
    "mini-batch on ONE GPU, in the trainer's order: (1) when the completions carry sampler_logp and loss_mode is "
    "not bypass_mode, rollout_corr_helper.compute_rollout_correction_and_add_to_batch(DataProto(old_log_probs, "
    "rollout_log_probs = sampler_logp, response_mask), algorithm.rollout_correction as an OmegaConf node), which "
    "may zero response_mask (rejection) and adds rollout_is_weights; (2) ray_trainer.compute_advantage (read "
    "from the installed file with ast and exec'd unchanged: ray_trainer.py itself needs the distributed stack to "
    "import) on token_level_rewards (each completion's reward at its last token), the possibly rejected "
    "response_mask and uid = the group, with norm_adv_by_std_in_grpo and config = the algorithm node (gdpo: the "
    "per-function rewards as non_tensor_batch keys reward_0, reward_1 = gdpo_reward_keys); (3) "
    "verl.workers.utils.losses.ppo_loss itself, with an ActorConfig built by hydra instantiate from an actor node "
    "with _target_, model_output log_probs (and entropy when calculate_entropy or entropy_coeff != 0) as jagged "
    "nested tensors over prompt + response tokens, a TensorDict with dp_size 1, batch_num_tokens = the loss "
    "tokens after (1) (the count the FSDP engine takes from loss_mask before the loss; in bypass_mode the "
    "actor's own rejection comes later and is not in it) and global_batch_size = the number of completions; "
    "then loss.backward(). bypass_mode cases: old_log_probs = sampler_logp (the batch has no old_logp), "
    "loss_mode bypass_mode with the rollout_correction options under actor.policy_loss. On-policy batches "
    "(no old_logp) use old_log_probs = logp. loss is what ppo_loss returns (pg_loss - entropy_coeff * "
    "entropy_loss + kl_loss_coef * kl_loss); grad_logp is d loss / d logp per token of each completion, 0 at "
    "masked tokens (checked); advantages: verl's per-token advantage, constant along the loss tokens of a row "
    "(checked), one per completion, null for a completion without loss tokens (verl's row is all 0). metrics: "
    "the keys ppo_loss returns (Metric values aggregated; one call) and, for decoupled correction, the "
    "rollout_corr/* metrics the trainer logs; the trainer later prefixes 'actor/' to the actor's keys that lack "
    "it (kl_loss -> actor/kl_loss, rollout_corr/* from bypass -> actor/rollout_corr/*). float32_metrics (per "
    "case) lists the metrics verl takes as .float().mean() (k/n in float32); gdpo's advantages are float32 "
    "values (verl makes the per-function rewards np.float32). response_mask (cases with sampler_logp) is the "
    "mask after rejection; rollout_is_weights the weights verl applied (decoupled) or computed (bypass; applied "
    "only by loss_type reinforce). clip_cov: torch.manual_seed(clip_cov_seed) right before ppo_loss; "
    "clip_cov_chosen / kl_cov_chosen are the [row, token] pairs verl picked (read from the function's locals). "
    "error cases: verl raised; error is its message, raised_in the verl function. Defaults: actor keys from "
    "ActorConfig / PolicyLossConfig (= trainer/config/actor/actor.yaml), rollout-correction keys from "
    "trainer/config/algorithm/rollout_correction.yaml (the RolloutCorrectionConfig dataclass's rollout_is "
    "default is 'sequence', the yaml's null), norm_adv_by_std_in_grpo from AlgoConfig; adv_estimator is always "
    "set (verl's default gae needs a critic). max_response_length is the padded response width (the horizon of "
    "seq-mean-token-sum-norm without loss_scale_factor). Floats are Python's shortest repr; null is NaN or "
    "None. See tools/README.md."
)


def generate(selected=None):
    check_defaults()
    results = []
    names = [name for name, _, _ in CASES]
    if len(set(names)) != len(names):
        sys.exit("duplicate case names: %s" % sorted({n for n in names if names.count(n) > 1}))
    for name, what, batch in CASES:
        if selected and name not in selected:
            continue
        res = run_case(copy.deepcopy(batch))
        v = batch["verl"]
        same_width = v["loss_agg_mode"] == "seq-mean-token-sum-norm" and v["loss_scale_factor"] is None
        again = run_case(copy.deepcopy(batch), extra_columns=0 if same_width else EXTRA_COLUMNS, junk=True)
        if "error" in res:
            if again != res:
                sys.exit("%s: verl's refusal changes with padding" % name)
        else:
            # gdpo works in float32 (verl's np.float32 rewards): its reductions over a wider padded
            # row round differently, by ~1 float32 ulp (see tools/README.md).
            where = differs(again, res, tol=1e-6 if v["adv_estimator"] in FLOAT32_ESTIMATORS else 1e-12)
            if where:
                sys.exit("%s: verl's result changes with more padding / junk padded values at %s"
                         % (name, ", ".join(where[:8])))
        results.append((name, what, batch, res))
    if not selected:
        hand_checks(results)
    doc = {
        "origin": {"script": "tools/verl_terms_golden.py", "verl": verl.__version__, "torch": torch.__version__,
                   "note": NOTE, "float32_metric_patterns": FLOAT32_METRIC_PATTERNS},
        "cases": [{"name": name, "what": what, "batch": batch, "verl": res} for name, what, batch, res in results],
    }
    return dump(doc)


def main():
    return golden_cli.main(__doc__.split("\n")[0], CASES, generate, "verl", verl.__version__, VERL_VERSION, DEFAULT_OUT, torch)


if __name__ == "__main__":
    sys.exit(main())
