#!/usr/bin/env python3
"""Dump one verl 0.9.1 actor mini-batch as a grpo-swift batch file, and check it on verl's own code.

The recipe is `dump_minibatch`: the padded (B, T) tensors of one mini-batch under verl's names
(old_log_probs, log_prob, ref_log_prob, rollout_log_probs, advantages, response_mask) and the
rows' uids become a batch file: one group per uid, each row cut to its response tokens (no
padding; a "mask" only where the response mask has zeros inside the row), one advantage per
completion (verl's advantages are per token, constant along a row for the outcome estimators:
checked), and the actor's loss options under "verl" (`verl_options`, read from the ActorConfig).
Advantages, not rewards: the trainer computes them over the whole batch before cutting it into
mini-batches, so a mini-batch may hold only part of a uid's rows.

The demonstration (`main`) does what a verl run does for one mini-batch on one GPU, with verl's
functions and nothing of its arithmetic rewritten (in float64, as tools/verl_terms_golden.py,
whose helpers it imports: the ActorConfig built by hydra, the trainer's compute_advantage):
  1. the trainer's rollout correction, rollout_corr_helper.compute_rollout_correction_and_add_to_batch
     (rollout_is "token": the weights exp(old - rollout) truncated at 2), and its rollout_corr/* metrics;
  2. the trainer's compute_advantage (grpo, the uids as groups) on rewards at each row's last token;
  3. verl.workers.utils.losses.ppo_loss, as the FSDP engine calls it (dp_size 1, batch_num_tokens
     = the mini-batch's loss tokens, global_batch_size = its rows, one micro-batch);
then dumps the mini-batch with what verl returned under "logged" and writes
lessons/data/14-verl-dump.json. `grpo-repl explain` on that file recomputes the loss from the
dumped tensors alone and compares it with "logged" (lesson 14).

In a real run the same tensors are in the actor's update: verl 0.9.1's engine workers call
`ppo_loss(config, model_output, data)` (verl/workers/utils/losses.py) once per micro-batch; inside
it `no_padding_2_padding(model_output["log_probs"], data)` is the padded log_prob, and `data` holds
response_mask, old_log_probs, advantages, ref_log_prob (with use_kl_loss) and rollout_is_weights.
rollout_log_probs and the uids are in the trainer's batch (DataProto: batch["rollout_log_probs"],
non_tensor_batch["uid"]). With several micro-batches, GPUs or ppo_epochs, each call's loss is its
share of the mini-batch's (the global batch info), so dump a whole mini-batch as one call or add
the calls up. With rollout_rs, dump the response mask from before the rejection (explain rejects
again); with a token-level advantage estimator (gae) there is no one advantage per completion.

Usage (the venv of tools/README.md):
  /work/.venv-verl/bin/python tools/verl_dump_minibatch.py                          # writes the file
  /work/.venv-verl/bin/python tools/verl_dump_minibatch.py --check .build/debug/grpo-repl
  /work/.venv-verl/bin/python tools/verl_dump_minibatch.py --out /tmp/dump.json
"""

import argparse
import json
import os
import subprocess
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import verl_terms_golden as G  # noqa: E402  (float64 default dtype, verl's imports, actor_config, compute_advantage)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.utils import tensordict_utils as tu  # noqa: E402
from verl.workers.utils.losses import ppo_loss  # noqa: E402

import verl.trainer.ppo.rollout_corr_helper as rollout_corr_helper  # noqa: E402

DEFAULT_OUT = os.path.join(G.REPO, "lessons", "data", "14-verl-dump.json")


# --------------------------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------------------------

def verl_options(actor_cfg, rollout_correction, width):
    """The batch file's "verl" object: the loss options as the actor's config holds them
    (actor_rollout_ref.actor.*, its policy_loss.*), the trainer's rollout_correction node, and the
    padded response width (what seq-mean-token-sum-norm divides by without loss_scale_factor)."""
    v = {k: getattr(actor_cfg, k) for k in G.ACTOR_KEYS}
    v.update({k: getattr(actor_cfg.policy_loss, k) for k in G.POLICY_LOSS_KEYS})
    v.update({k: rollout_correction[k] for k in G.ROLLOUT_CORR_KEYS})
    v["max_response_length"] = width
    return v


def dump_minibatch(tensors, uids, options):
    """Padded (B, T) tensors of one mini-batch, under verl's names, and its B uids -> a batch file."""
    mask = tensors["response_mask"].bool()
    names = [("logp", "log_prob"), ("old_logp", "old_log_probs"), ("ref_logp", "ref_log_prob"),
             ("sampler_logp", "rollout_log_probs")]
    groups = {}  # uid -> group, in the order the uids first appear
    for i, uid in enumerate(uids):
        loss_tokens = mask[i].nonzero().flatten()
        n = int(loss_tokens[-1]) + 1 if len(loss_tokens) else 0  # through the last loss token
        c = {ours: [float(x) for x in tensors[theirs][i, :n]] for ours, theirs in names if theirs in tensors}
        if not mask[i, :n].all():
            c["mask"] = [int(x) for x in mask[i, :n]]  # zeros inside the row (e.g. tool output)
        a = tensors["advantages"][i][mask[i]]
        if len(a) and (a != a[0]).any():
            raise ValueError("row %d: advantages vary along the row (a token-level estimator?)" % i)
        g = groups.setdefault(uid, {"advantages": [], "completions": []})
        g["advantages"].append(float(a[0]) if len(a) else 0.0)
        g["completions"].append(c)
    return {"verl": options, "groups": list(groups.values())}


def render(doc):
    """JSON with one completion per line."""
    lines = ["{"]
    for k in doc:
        if k != "groups":
            items = ",\n  ".join("%s: %s" % (json.dumps(key), json.dumps(value)) for key, value in doc[k].items())
            lines.append(" %s: {\n  %s}," % (json.dumps(k), items))
    groups = []
    for g in doc["groups"]:
        rows = ",\n    ".join(json.dumps(c) for c in g["completions"])
        groups.append('  {"advantages": %s,\n   "completions": [\n    %s]}' % (json.dumps(g["advantages"]), rows))
    lines.append(' "groups": [\n' + ",\n".join(groups) + "]")
    return "\n".join(lines) + "\n}\n"


# --------------------------------------------------------------------------------------------
# The demonstration: one mini-batch through verl's trainer steps and actor loss
# --------------------------------------------------------------------------------------------

# Five rows of two prompts, interleaved as a shuffled mini-batch may hold them, padded to T = 5.
# Per row: uid, reward, response mask, current / old / reference / rollout-engine log-probs. The
# padded positions hold junk (-9) that the dump must drop; row 3 has a masked token inside.
T = 5
ROWS = [
    ("prompt-a", 1.0, [1, 1, 1], [-0.4, -1.1, -0.7], [-0.9, -1.25, -0.2], [-0.5, -1.0, -0.9], [-0.6, -1.3, -0.25]),
    ("prompt-b", 1.0, [1, 1], [-0.3, -0.8], [-0.35, -0.5], [-0.2, -0.7], [-0.5, -0.45]),
    ("prompt-a", 0.0, [1, 1], [-0.9, -2.0], [-2.1, -1.6], [-1.0, -1.8], [-2.0, -1.9]),
    ("prompt-a", 0.0, [1, 1, 0, 1, 1], [-0.5, -1.3, -0.2, -0.8, -1.0], [-0.65, -1.3, -0.3, -0.6, -1.1],
     [-0.6, -1.2, -0.25, -0.9, -1.1], [-0.7, -1.2, -0.3, -0.5, -1.2]),
    ("prompt-b", 0.0, [1, 1, 1], [-1.5, -0.6, -3.0], [-1.2, -0.9, -3.2], [-1.4, -0.8, -0.2], [-1.1, -1.0, -2.9]),
]
OPTIONS = {"loss_agg_mode": "seq-mean-token-mean", "clip_ratio_high": 0.28, "use_kl_loss": True,
           "kl_loss_coef": 0.04, "kl_loss_type": "low_var_kl", "rollout_is": "token", "rollout_is_threshold": 2.0,
           "adv_estimator": "grpo"}


def padded(column):
    out = torch.full((len(ROWS), T), -9.0)
    for i, row in enumerate(ROWS):
        out[i, :len(row[column])] = torch.tensor(row[column])
    return out


def run_verl():
    b = len(ROWS)
    v = {**G.VERL_DEFAULTS, **OPTIONS}
    uids = np.array([row[0] for row in ROWS], dtype=object)
    lengths = [len(row[2]) for row in ROWS]
    response_mask = torch.zeros(b, T, dtype=torch.int64)
    attention_mask = torch.zeros(b, 1 + T, dtype=torch.int64)  # one prompt token, then the response
    token_level_rewards = torch.zeros(b, T)
    for i, row in enumerate(ROWS):
        response_mask[i, :lengths[i]] = torch.tensor(row[2])
        attention_mask[i, :1 + lengths[i]] = 1
        token_level_rewards[i, lengths[i] - 1] = row[1]  # the reward manager's place: the last token
    log_prob, old, ref, rollout = padded(3), padded(4), padded(5), padded(6)
    algo = G.algorithm_config(v, None)

    # 1. The trainer's rollout correction: rollout_is_weights, the rollout_corr/* metrics.
    dp = DataProto.from_dict(tensors={"old_log_probs": old, "rollout_log_probs": rollout,
                                      "response_mask": response_mask.clone()})
    dp, corr_metrics = rollout_corr_helper.compute_rollout_correction_and_add_to_batch(dp, algo.rollout_correction)
    is_weights = dp.batch["rollout_is_weights"]

    # 2. The trainer's advantages (grpo over the uids).
    prompts = torch.full((b, 1), G.PROMPT_ID, dtype=torch.int64)
    responses = attention_mask[:, 1:] * G.TOKEN_ID
    dp = DataProto.from_dict(tensors={"token_level_rewards": token_level_rewards, "response_mask": response_mask,
                                      "prompts": prompts, "responses": responses, "attention_mask": attention_mask},
                             non_tensors={"uid": uids})
    dp = G.compute_advantage(dp, adv_estimator="grpo", gamma=1.0, lam=1.0, num_repeat=3,
                             norm_adv_by_std_in_grpo=True, config=algo)
    advantages = dp.batch["advantages"]

    # 3. The actor's loss. The model's log-probs come as a jagged tensor over prompt + response
    # tokens (position p scores token p + 1), as the engine hands them to ppo_loss.
    cfg = G.actor_config(v, b, 3)
    pieces, offsets = [], [0]
    for i, n in enumerate(lengths):
        pieces += [log_prob[i, :n], torch.tensor([-9.0])]
        offsets.append(offsets[-1] + 1 + n)
    model_output = {"log_probs": torch.nested.nested_tensor_from_jagged(torch.cat(pieces), torch.tensor(offsets))}
    td = TensorDict({"prompts": prompts, "responses": responses, "attention_mask": attention_mask,
                     "response_mask": response_mask, "old_log_probs": old, "advantages": advantages,
                     "ref_log_prob": ref, "rollout_is_weights": is_weights}, batch_size=[b])
    tu.assign_non_tensor(td, dp_size=1, batch_num_tokens=int(response_mask.sum()), global_batch_size=b)
    loss, metrics = ppo_loss(cfg, model_output, td)

    tensors = {"response_mask": response_mask, "old_log_probs": old, "log_prob": log_prob, "ref_log_prob": ref,
               "rollout_log_probs": rollout, "advantages": advantages}
    logged = {"loss": float(loss)}
    for k, val in metrics.items():
        value = val.aggregate() if hasattr(val, "aggregate") else val
        logged[k if k.startswith("actor/") else "actor/" + k] = float(value)  # the trainer's prefix
    logged.update({k: float(val) for k, val in corr_metrics.items()})
    return tensors, list(uids), verl_options(cfg, algo.rollout_correction, T), logged


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", metavar="BINARY", help="run BINARY explain on the file and print its comparison")
    args = ap.parse_args()
    tensors, uids, options, logged = run_verl()
    doc = dump_minibatch(tensors, uids, options)
    doc["logged"] = {"source": "verl %s: trainer rollout correction, compute_advantage (grpo), ppo_loss; "
                               "tools/verl_dump_minibatch.py" % G.verl.__version__, **logged}
    with open(args.out, "w") as f:
        f.write(render(doc))
    print("wrote %s: %d rows in %d groups, loss %.12g" % (args.out, len(uids), len(doc["groups"]), logged["loss"]))
    if args.check:
        out = subprocess.run([args.check, "explain", args.out], capture_output=True, text=True,
                             env={**os.environ, "GRPO_SWIFT_ROOT": G.REPO})
        text = out.stdout[out.stdout.find("logged by"):] if "logged by" in out.stdout else out.stdout + out.stderr
        print(text.rstrip())
        sys.exit(0 if out.returncode == 0 and "agrees with ours" in text else 1)


if __name__ == "__main__":
    main()
