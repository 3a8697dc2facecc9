#!/usr/bin/env python3
"""Dump batches from a real `trl.GRPOTrainer.train()` run as grpo-swift batch files.

`tools/compare_with_trl.py` feeds TRL's `_compute_loss` batches we made up. This script does the
opposite: it lets TRL 1.16.0 train a (tiny) model for a few steps, exactly as a user would, and
records what `_compute_loss` saw and returned at every step. Each step becomes one batch file
that `grpo-repl explain FILE` reads, with TRL's own numbers for that step under "logged".

Everything is built locally, no download:
  - a character-level tokenizer (a `tokenizers` WordLevel model wrapped by transformers) with
    <pad>, <eos> and <unk>, 40 tokens;
  - a 2-layer Llama, hidden size 32, random weights from a fixed seed, no dropout, float64;
  - a dataset of 8 short text prompts;
  - a reward function: the share of completion characters in "a".."m" (about a third of the
    vocabulary, so the completions of one prompt get different rewards).

A run is GRPOTrainer.train() with G = 4 completions per prompt, 3 prompts per step
(per_device_train_batch_size 12), gradient_accumulation_steps 1, num_iterations 2, 2 steps,
CPU, no vLLM. With num_iterations 2 the trainer generates once and optimizes twice on the same
completions, so TRL computes old_per_token_logps at generation time: step 1 is on-policy
(ratio 1), step 2 is off-policy (the model took one optimizer step in between).

One run, dapo-accumulation, is where TRL's loss scaling shows: TRL's default loss (dapo, beta 0)
with gradient_accumulation_steps 2 and steps_per_generation 2 (per_device_train_batch_size 6).
The same 12-row generation batch is shuffled and cut into 2 calls of 6 rows, so a prompt's G rows
are split between calls; an optimizer step is 2 calls (accumulated), and num_iterations 2 replays
both calls for step 2: 4 calls, one file each (-call1..4). TRL's returned loss is then scaled for
the accumulation window (dapo divides by the generation batch's token count times 2/2), so the
file's loss is the returned one times trl_loss_factor (lesson 12): the loss of the call's rows alone.

Precision. torch's default dtype is set to float64 before anything is built, so the model is
float64 and so are TRL's reward tensor and advantages (TRL allocates them in the default dtype).
The file gives the advantages as they are, so their precision only decides how close a group's
sum is to 0 (~1e-17 here, ~1e-8 in float32). But TRL 1.16 computes log-probs and entropies with its fused LM head
(trl/kernels/chunked_logprob.py), which accumulates in float32 whatever the model's dtype: the
log-probs, entropies, old and reference log-probs are float32, and so are the token-level ratio
exp(logp - old_logp) and the KL that TRL computes from them. The file holds those float32 values
exactly; grpo-swift redoes the arithmetic in float64, so expect the loss to agree to ~1e-9 and
the metrics (float32 in TRL) to ~1e-8 relative. GSPO's sequence ratio is float64 in TRL here
(dividing by `mask.sum(-1).clamp(min=1.0)`, a default-dtype tensor, promotes it), so its loss
agrees to ~1e-16. `--check` also replays TRL's `_compute_loss` on the same inputs in float64
(see RecordingGRPOTrainer) to show that what is left is that rounding and nothing else.

What is recorded, per `_compute_loss` call (one per optimizer step, except in dapo-accumulation):
  - per-token log-probs and entropies that `_get_per_token_logps_and_entropies` returned inside
    that call (the ones the loss used);
  - from `inputs`: completion_mask, advantages, old_per_token_logps, ref_per_token_logps (when
    beta != 0), num_items_in_batch;
  - the loss `_compute_loss` returned, as a float. With gradient_accumulation_steps 1 TRL divides
    by 1 (grpo, bnpo, dr_grpo) or by num_items_in_batch * 1 / steps_per_generation (dapo), so it is
    the unscaled loss; it is also the "loss" the Trainer logs (checked against log_history). In
    dapo-accumulation it is scaled: the file gives it times trl_loss_factor (the factor is in the
    "source"), and the Trainer logs the sum of a step's two returned losses (checked);
  - the values `_compute_loss` appended to `self._metrics["train"]` (clip_ratio/low_mean,
    clip_ratio/high_mean, clip_ratio/region_mean, kl when beta != 0, entropy), also checked
    against what the Trainer logged for that step (with 2 calls a step, their mean).

The batch file (see lessons/12-reading-library-output.md, "Dumping a batch from TRL"):
  - one call holding the whole generation batch: groups in the order TRL generated them. TRL shuffles the rows of a generation batch before
    it reaches `_compute_loss` (`shuffle_sequence_dict` in `_prepare_inputs`), so the rows of a
    prompt are not consecutive there; each row is tagged with its index at generation time and
    the file puts them back in order (every loss and metric is a sum or mean over rows, so the
    order does not change any number). A call holding part of it (dapo-accumulation): its rows in
    one group, in the order _compute_loss saw them;
  - "advantages": TRL's advantages, given as they are (a group gives "advantages" instead of
    "rewards", so grpo-swift skips the group-relative step and uses them);
  - per completion, its valid tokens only: logp, old_logp, ref_logp (beta != 0), entropy;
  - "config": the run's TRL options under our names (ours are TRL's GRPOConfig names);
  - "logged": TRL's numbers for that step, from the run itself.

Usage (the venv lives outside the repo; no internet needed):
  /work/.venv-ref/bin/python tools/trl_run_dump.py --out examples/trl-run
  /work/.venv-ref/bin/python tools/trl_run_dump.py --out /tmp/dump --runs grpo-beta0.04,gspo
  /work/.venv-ref/bin/python tools/trl_run_dump.py --out /tmp/dump --check .build/debug/grpo-repl

`--check BINARY` runs `BINARY explain FILE --json` on every file written and prints |ours - TRL|
for the loss and each logged metric, against the logged numbers and against the float64 replay.
About 7 s for all six runs on 2 CPUs. Nothing here is needed by the build or the tests.
"""

import argparse
import collections
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_default_dtype(torch.float64)  # before any tensor is made: TRL's rewards and advantages too

import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

datasets.disable_progress_bars()

SEED = 0
G = 4                      # num_generations
PROMPTS_PER_STEP = 3       # groups per step
MAX_COMPLETION_LENGTH = 12
STEPS = 2                  # = num_iterations: one generation, two optimizer steps on it
LEARNING_RATE = 0.003      # large, so that step 2's ratios move enough for clipping to fire (~10% of tokens)

# Each run: a name (the file prefix) and the GRPOConfig options it sets; all else is TRL's default
# (apart from the settings in `run`, common to all).
RUNS = {
    # (a) the DeepSeekMath loss with a reference model
    "grpo-beta0.04": {"loss_type": "grpo", "beta": 0.04},
    # (b) DAPO: token-level mean, clip-higher, no KL (beta 0 is TRL's default)
    "dapo-beta0-epsilon_high0.28": {"loss_type": "dapo", "beta": 0.0, "epsilon_high": 0.28},
    # (c) Dr. GRPO: sum over tokens / (B * max_completion_length)
    "dr_grpo": {"loss_type": "dr_grpo"},
    # (d) GSPO: one ratio per completion; grpo aggregation and the clip widths TRL documents for it.
    # Its sequence-level ratios move far less per step than token ratios, yet its clip range is
    # some 600 times narrower: at the common learning rate 11 of 12 completions are clipped, at 1e-5 half.
    "gspo": {"loss_type": "grpo", "importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4,
             "learning_rate": 1e-5},
    # (e) keep the policy term on the top half of tokens by entropy (TRL's default dapo loss)
    "top_entropy_quantile0.5": {"top_entropy_quantile": 0.5},
    # (f) TRL's default loss (dapo, beta 0) with gradient accumulation: the same 12-row generation batch,
    # shuffled and cut into 2 calls of 6 rows (steps_per_generation 2), 2 calls per optimizer step
    # (gradient_accumulation_steps 2): 4 calls, 4 files, each with the rows as _compute_loss saw them.
    # TRL's returned loss is scaled for the window (see trl_loss_factor); the files give the call's own.
    "dapo-accumulation": {"gradient_accumulation_steps": 2, "steps_per_generation": 2,
                          "per_device_train_batch_size": G * PROMPTS_PER_STEP // 2},
}

def one_call_per_step(args):
    """True for the runs where each optimizer step is one `_compute_loss` call on the whole generation
    batch (files named -stepN, rows regrouped by prompt); otherwise one file per call (-callN)."""
    return args.gradient_accumulation_steps == 1 and args.steps_per_generation == 1


METRICS = ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "kl", "entropy")


# ----------------------------------------------------------------------------------------------
# The tiny world: tokenizer, model, prompts, reward
# ----------------------------------------------------------------------------------------------

CHARS = "abcdefghijklmnopqrstuvwxyz ?.!0123456"


def make_tokenizer():
    """One token per character, plus <pad> (0), <eos> (1) and <unk> (2): 40 tokens."""
    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<unk>"] + list(CHARS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # every character alone
    core.decoder = decoders.Fuse()  # decode without spaces between tokens
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def make_model_dir(tokenizer, directory):
    """A 2-layer Llama with seeded random weights, saved to `directory` (TRL loads the reference
    model from the policy's path, so the policy must come from a path too)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        attention_dropout=0.0, tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config).to(torch.float64)
    model.save_pretrained(directory)


def load_model(directory):
    # sdpa, not eager: transformers' eager attention in float64 turns a left-padded row into NaN (a
    # padding query masked on every key gets an all -inf row of scores), and TRL left-pads prompts.
    return LlamaForCausalLM.from_pretrained(directory, dtype=torch.float64, attn_implementation="sdpa")


PROMPTS = ["abc?", "hi ", "zoo!", "what?", "1 2 3", "mix ", "q.", "sky "]


def first_half_share(completions, **kwargs):
    """Reward: the share of the completion's characters that are in a..m (0 for an empty one)."""
    return [sum(ch <= "m" and ch.isalpha() for ch in c) / len(c) if c else 0.0 for c in completions]


# ----------------------------------------------------------------------------------------------
# A GRPOTrainer that records what _compute_loss used and returned
# ----------------------------------------------------------------------------------------------

def trl_loss_factor(trainer, inputs):
    """What turns the loss TRL 1.16's _compute_loss returns (train mode, no entropy bonus or
    router loss) into the loss of this call's rows alone, the number explain computes.
    (lessons/12-reading-library-output.md, "Dumping a batch from TRL", verbatim.)"""
    accumulation = trainer.current_gradient_accumulation_steps
    if trainer.loss_type in ("dapo", "cispo", "vespo"):
        # TRL divides by the generation batch's tokens, rescaled to one accumulation window.
        window_tokens = (float(inputs["num_items_in_batch"].clamp(min=1)) / trainer.accelerator.num_processes
                         * accumulation / trainer.args.steps_per_generation)
        return window_tokens / max(int(inputs["completion_mask"].sum()), 1)
    return accumulation                             # grpo, bnpo, dr_grpo: divided by it


class RecordingGRPOTrainer(GRPOTrainer):
    """GRPOTrainer with additions that do not change what it computes:
    - every generated row carries its index in the generation batch (`row_index`, an extra key
      that TRL's row shuffle permutes along with the rest and `_compute_loss` never reads);
    - the log-probs and entropies computed inside `_compute_loss` are kept;
    - each `_compute_loss` call is recorded: its inputs, the loss it returned, the metrics it
      appended to `self._metrics`;
    - after each call, a replay: the same `_compute_loss` (TRL's code) once more, on the same
      inputs upcast to float64, with the model call replaced by the recorded log-probs. It shows
      how much of any difference is TRL's float32 arithmetic rather than the formula. The replay
      runs without gradient, on a scratch metrics dict, and its result is only printed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []
        self._inside_loss = None  # a dict while _compute_loss runs
        self._replaying = None    # (logp, entropy) to return instead of running the model

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        output["row_index"] = torch.arange(output["advantages"].shape[0])
        return output

    def _get_per_token_logps_and_entropies(self, model, *args, **kwargs):
        if self._replaying is not None:
            logps, entropies = self._replaying
            return logps, entropies, None
        logps, entropies, aux_loss = super()._get_per_token_logps_and_entropies(model, *args, **kwargs)
        if self._inside_loss is not None:  # the call _compute_loss makes (not generation's, not the ref model's)
            self._inside_loss["logp"] = logps.detach().clone()
            self._inside_loss["entropy"] = None if entropies is None else entropies.detach().clone()
        return logps, entropies, aux_loss

    def _compute_loss(self, model, inputs):
        metrics = self._metrics["train"]
        before = {key: len(values) for key, values in metrics.items()}
        self._inside_loss = {}
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            seen, self._inside_loss = self._inside_loss, None
        record = {
            "call": len(self.records) + 1,
            "step": self.state.global_step + 1,  # the optimizer step this call belongs to
            "loss": loss.item(),                 # as TRL returned it, scaled for gradient accumulation
            "loss_factor": trl_loss_factor(self, inputs),
            "accumulation": self.current_gradient_accumulation_steps,
            "logp": seen["logp"], "entropy": seen["entropy"],
            "completion_mask": inputs["completion_mask"].detach().clone(),
            "advantages": inputs["advantages"].detach().clone(),
            "num_items_in_batch": int(inputs["num_items_in_batch"]),
            "row_index": inputs["row_index"].clone(),
            "prompt_ids": inputs["prompt_ids"].clone(), "prompt_mask": inputs["prompt_mask"].clone(),
            "metrics": {key: values[before.get(key, 0):] for key, values in metrics.items()
                        if len(values) > before.get(key, 0)},
        }
        for key in ("old_per_token_logps", "ref_per_token_logps", "sampling_per_token_logps",
                    "importance_sampling_ratio", "tool_mask"):
            record[key] = inputs[key].detach().clone() if key in inputs else None
        record["replay64"] = self._replay_in_float64(model, inputs, seen)
        record["replay64"]["loss"] *= record["loss_factor"]  # the replay returns a scaled loss too
        self.records.append(record)
        return loss

    def _replay_in_float64(self, model, inputs, seen):
        upcast = {key: (value.double() if torch.is_tensor(value) and value.is_floating_point() else value)
                  for key, value in inputs.items()}
        entropy = None if seen["entropy"] is None else seen["entropy"].double()
        saved_metrics = self._metrics
        self._metrics = {"train": collections.defaultdict(list), "eval": collections.defaultdict(list)}
        self._replaying = (seen["logp"].double(), entropy)
        try:
            with torch.no_grad():
                loss = super()._compute_loss(model, upcast)
            replay = {key: values[-1] for key, values in self._metrics["train"].items()}
        finally:
            self._metrics, self._replaying = saved_metrics, None
        replay["loss"] = loss.item()
        return replay


# ----------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------

def run(name, options, model_dir, tokenizer, work):
    common = dict(
        output_dir=os.path.join(work, name), report_to="none", use_cpu=True, seed=SEED,
        bf16=False, fp16=False,              # TRL defaults bf16 to True; keep float64 throughout
        gradient_checkpointing=False,        # TRL defaults it to True; nothing to save at this size
        per_device_train_batch_size=G * PROMPTS_PER_STEP, num_generations=G,
        gradient_accumulation_steps=1,       # steps_per_generation defaults to this: 1
        num_iterations=STEPS, max_steps=STEPS,
        max_completion_length=MAX_COMPLETION_LENGTH, temperature=1.0,
        logging_steps=1, save_strategy="no", disable_dropout=True, use_vllm=False,
        dataloader_num_workers=0, learning_rate=LEARNING_RATE,
    )
    args = GRPOConfig(**{**common, **options})  # a run's options override the common ones
    # every run generates G * PROMPTS_PER_STEP rows at a time, however it cuts them into calls
    assert args.per_device_train_batch_size * args.steps_per_generation == G * PROMPTS_PER_STEP, name
    trainer = RecordingGRPOTrainer(
        model=load_model(model_dir), reward_funcs=first_half_share, args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": PROMPTS}), processing_class=tokenizer,
    )
    trainer.train()
    return trainer


def our_config(trainer):
    """The run's loss options, under grpo-swift's names (TRL's GRPOConfig names), as TRL used them."""
    a = trainer.args
    return {
        "loss_type": a.loss_type, "epsilon": a.epsilon, "epsilon_high": trainer.epsilon_high,
        "delta": a.delta, "beta": a.beta, "use_bias_correction_kl": a.use_bias_correction_kl,
        "importance_sampling_level": a.importance_sampling_level,
        "max_completion_length": a.max_completion_length, "top_entropy_quantile": a.top_entropy_quantile,
    }


def check_record(name, trainer, record):
    """What this script relies on, checked rather than assumed, for one `_compute_loss` call (what
    spans several calls is in check_generation). Returns notes for the summary."""
    a = trainer.args
    whole = one_call_per_step(a)
    for key in ("sampling_per_token_logps", "importance_sampling_ratio", "tool_mask"):
        assert record[key] is None, "%s: unexpected %s in inputs" % (name, key)
    assert record["old_per_token_logps"] is not None, "%s: TRL did not pass old_per_token_logps" % name
    assert (record["ref_per_token_logps"] is not None) == (a.beta != 0.0)
    assert record["accumulation"] == a.gradient_accumulation_steps
    mask = record["completion_mask"]
    b = mask.shape[0]
    assert b == a.per_device_train_batch_size, "%s: %d rows in a call" % (name, b)
    rows = record["row_index"].tolist()
    if whole:
        assert b == G * PROMPTS_PER_STEP, "a _compute_loss call does not hold the whole generation batch"
        assert sorted(rows) == list(range(b))
        assert record["num_items_in_batch"] == int(mask.sum()), "num_items_in_batch is not this batch's token count"
        # TRL's returned loss is the call's own: nothing to scale
        assert record["loss_factor"] == 1.0, "%s: trl_loss_factor %r" % (name, record["loss_factor"])
    else:
        # part of the generation batch: distinct rows of it; num_items_in_batch counts the whole of it
        # (check_generation), so the returned loss is scaled by something other than 1
        assert len(set(rows)) == b and all(0 <= i < G * PROMPTS_PER_STEP for i in rows), rows
        assert record["num_items_in_batch"] > int(mask.sum())
        assert record["loss_factor"] != 1.0
    # completion tokens first, padding after
    lengths = mask.sum(1)
    assert torch.equal(mask, (torch.arange(mask.shape[1]) < lengths.unsqueeze(1)).to(mask.dtype))
    if whole:
        # back in generation order, the rows of one prompt share the prompt, and their advantages sum to ~0
        order = torch.argsort(record["row_index"])
        prompts = [tuple(record["prompt_ids"][i][record["prompt_mask"][i].bool()].tolist()) for i in order.tolist()]
        for g in range(PROMPTS_PER_STEP):
            assert len(set(prompts[g * G:(g + 1) * G])) == 1, "%s: rows of group %d have different prompts" % (name, g)
            s = float(record["advantages"][order[g * G:(g + 1) * G]].sum())
            assert abs(s) < 1e-12, "%s: advantages of group %d sum to %r" % (name, g, s)
    # TRL's fused LM head (trl/kernels/chunked_logprob.py) accumulates in float32 whatever the model's
    # dtype, so the log-probs and entropies are float32; the advantages follow the default dtype.
    assert record["advantages"].dtype == torch.float64, record["advantages"].dtype
    for key in ("logp", "entropy", "old_per_token_logps", "ref_per_token_logps"):
        assert record[key] is None or record[key].dtype == torch.float32, (key, record[key].dtype)
    consecutive = torch.equal(record["row_index"], torch.arange(b))
    return "rows as _compute_loss saw them: %s" % ("in generation order" if consecutive else
                                                   "shuffled (%s)" % record["row_index"].tolist())


def check_generation(name, trainer, records):
    """What spans calls, over all of a run's records. TRL generates once every steps_per_generation *
    num_iterations calls, shuffles the generation batch and cuts it into steps_per_generation calls,
    then replays those calls for each further iteration. Checks: each iteration's calls hold every
    row of the generation batch once, the same rows in the same order in every iteration;
    num_items_in_batch is the generation batch's token count; put back together, the rows of one
    prompt share the prompt and their advantages sum to ~0. Returns a note on how prompts were split."""
    a = trainer.args
    spg, every, n = a.steps_per_generation, a.steps_per_generation * a.num_iterations, G * PROMPTS_PER_STEP
    assert len(records) % every == 0, "%s: %d calls, not whole generations of %d" % (name, len(records), every)
    split = []
    for start in range(0, len(records), every):
        generation = records[start:start + every]
        first = generation[:spg]
        for later in range(spg, every, spg):  # the further iterations replay the first one's calls
            for r0, r in zip(first, generation[later:later + spg]):
                for key in ("row_index", "advantages", "completion_mask", "old_per_token_logps", "prompt_ids"):
                    assert torch.equal(r0[key], r[key]), "%s: call %d is not call %d again (%s)" % (
                        name, r["call"], r0["call"], key)
        rows = torch.cat([r["row_index"] for r in first])
        assert sorted(rows.tolist()) == list(range(n)), "%s: calls %s do not cover the generation batch" % (
            name, [r["call"] for r in first])
        tokens = sum(int(r["completion_mask"].sum()) for r in first)
        for r in generation:
            assert r["num_items_in_batch"] == tokens, "%s call %d: num_items_in_batch %d, generation batch %d" % (
                name, r["call"], r["num_items_in_batch"], tokens)
        # every row of the generation batch, with the call it went to: its prompt and advantage
        where = {}
        for r in first:
            for j, i in enumerate(r["row_index"].tolist()):
                where[i] = (r["call"], tuple(r["prompt_ids"][j][r["prompt_mask"][j].bool()].tolist()),
                            float(r["advantages"][j]))
        for g in range(PROMPTS_PER_STEP):
            members = [where[i] for i in range(g * G, (g + 1) * G)]
            assert len({m[1] for m in members}) == 1, "%s: rows of group %d have different prompts" % (name, g)
            s = math.fsum(m[2] for m in members)
            assert abs(s) < 1e-12, "%s: advantages of group %d sum to %r" % (name, g, s)
            calls = collections.Counter(m[0] for m in members)
            if len(calls) > 1:
                split.append("prompt %d: %s" % (g, ", ".join("%d row%s in call %d" % (k, "s" * (k > 1), c) for c, k in sorted(calls.items()))))
    if not one_call_per_step(a):
        assert split, "%s: no prompt's rows are split between calls; this run is meant to show that" % name
    return "; ".join(split) or "each call holds whole prompts"


def logged_by_trainer(trainer, step):
    """The Trainer's log entry for `step` (what a user sees in the console or in trainer_state.json)."""
    for entry in trainer.state.log_history:
        if entry.get("step") == step and "loss" in entry:
            return entry
    return None


def batch_document(name, trainer, record):
    """One call as a batch file. A call holding the whole generation batch: one group per prompt, in
    generation order. A call holding part of it: one group, the rows in the order _compute_loss saw them."""
    whole = one_call_per_step(trainer.args)
    order = torch.argsort(record["row_index"]).tolist()
    lengths = record["completion_mask"].sum(1).tolist()

    def valid(tensor, i):
        return [float(x) for x in tensor[i, :lengths[i]]]  # drop the padding

    groups = []
    for rows in ([order[g * G:(g + 1) * G] for g in range(PROMPTS_PER_STEP)] if whole
                 else [list(range(len(lengths)))]):
        completions = []
        for i in rows:
            c = {"logp": valid(record["logp"], i), "old_logp": valid(record["old_per_token_logps"], i)}
            if record["ref_per_token_logps"] is not None:
                c["ref_logp"] = valid(record["ref_per_token_logps"], i)
            if record["entropy"] is not None:
                c["entropy"] = valid(record["entropy"], i)
            completions.append(c)
        groups.append({"advantages": [float(record["advantages"][i]) for i in rows], "completions": completions})

    source = "TRL %s GRPOTrainer.train(), run %s, step %d" % (trl.__version__, name, record["step"])
    if not whole:
        source = ("TRL %s GRPOTrainer.train(), run %s, call %d (optimizer step %d), loss x %.6g "
                  "(trl_loss_factor: TRL scales for gradient accumulation; %d tokens in the generation batch, "
                  "%d in this call)" % (trl.__version__, name, record["call"], record["step"], record["loss_factor"],
                                        record["num_items_in_batch"], int(record["completion_mask"].sum())))
    # the loss of this call's rows alone (the factor is 1 when the call is the whole step)
    logged = {"source": source, "loss": record["loss"] * record["loss_factor"]}
    for key in METRICS:
        values = record["metrics"].get(key)
        if values:
            assert len(values) == 1, "%s appended %d times in one _compute_loss" % (key, len(values))
            logged[key] = values[0]
    return {"config": our_config(trainer), "logged": logged, "groups": groups}


def write_batch(path, doc):
    """JSON, one completion a line, so a reader can scan it; floats as Python's repr (exact)."""
    out = ['{"config": %s,' % json.dumps(doc["config"]), ' "logged": %s,' % json.dumps(doc["logged"]), ' "groups": [']
    for gi, group in enumerate(doc["groups"]):
        out.append('  {"advantages": %s,' % json.dumps(group["advantages"]))
        out.append('   "completions": [')
        for ci, c in enumerate(group["completions"]):
            last = ci == len(group["completions"]) - 1
            out.append('    %s%s' % (json.dumps(c), "]}" if last else ","))
        if gi < len(doc["groups"]) - 1:
            out[-1] += ","
    out.append(']}')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ----------------------------------------------------------------------------------------------
# --check: grpo-repl explain against the logged numbers
# ----------------------------------------------------------------------------------------------

def explain(binary, path):
    """`explain FILE --json --naive`: both paths, whatever the batch's size."""
    proc = subprocess.run([binary, "explain", path, "--json", "--naive"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s explain %s: exit %d: %s" % (binary, path, proc.returncode, proc.stderr.strip()))
    return json.loads(proc.stdout)


def check(binary, written):
    """Largest |ours - TRL| per run, over both of our paths and the run's files: against what TRL
    logged (the file's "logged"), and against TRL's `_compute_loss` replayed in float64."""
    worst = {"logged": {}, "replay64": {}}
    verdicts = []
    for path, run_name, record in written:
        with open(path) as f:
            logged = json.load(f)["logged"]
        report = explain(binary, path)
        differ = [k for k, v in report["logged"]["values"].items() if not v["agrees"]]  # explain's own verdict
        verdicts.append("%s: %s" % (os.path.basename(path), "DIFFERS: " + ", ".join(differ) if differ else "agrees"))
        for against, theirs_all in (("logged", logged), ("replay64", record["replay64"])):
            row = worst[against].setdefault(run_name, {})
            for p in ("naive", "vectorized"):
                ours = report["paths"][p]
                for key in logged:  # the keys TRL logged for this step
                    if key == "source":
                        continue
                    mine = ours["loss"] if key == "loss" else ours["metrics"].get(key)  # explain uses TRL's names
                    d = math.inf if mine is None else abs(mine - theirs_all[key])
                    row[key] = max(row.get(key, 0.0), d)
    keys = ["loss"] + list(METRICS)
    for against, title in (("logged", "TRL's logged numbers (the files' \"logged\")"),
                           ("replay64", "TRL's _compute_loss replayed on the same inputs in float64")):
        print("\nmax |ours - TRL| against %s; both paths, all files; '-': not logged" % title)
        print("%-28s" % "run" + "".join(" %12s" % k.replace("clip_ratio/", "") for k in keys))
        for run_name, row in worst[against].items():
            print("%-28s" % run_name + "".join(" %12s" % ("%.2e" % row[k] if k in row else "-") for k in keys))
    if verdicts:
        print("\nexplain's verdict on each file's logged numbers (1e-5 relative):\n  " + "\n  ".join(verdicts))
    return worst


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for the batch files (created if missing)")
    ap.add_argument("--runs", default=",".join(RUNS), help="comma-separated, from: " + ", ".join(RUNS))
    ap.add_argument("--check", metavar="BINARY", help="run BINARY explain FILE --json on each file and compare")
    args = ap.parse_args()
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        sys.exit("unknown run(s) %s; known: %s" % (", ".join(unknown), ", ".join(RUNS)))
    if trl.__version__ != "1.16.0":
        print("warning: trl %s installed; this script was written against trl 1.16.0" % trl.__version__)
    os.makedirs(args.out, exist_ok=True)

    work = tempfile.mkdtemp(prefix="trl-run-dump-")
    tokenizer = make_tokenizer()
    model_dir = os.path.join(work, "tiny-llama")
    make_model_dir(tokenizer, model_dir)
    print("trl %s, transformers %s, torch %s; model: 2-layer Llama, hidden 32, vocab %d, float64; work dir %s"
          % (trl.__version__, transformers.__version__, torch.__version__, len(tokenizer), work))

    written = []
    for name in names:
        trainer = run(name, RUNS[name], model_dir, tokenizer, work)
        calls = STEPS * trainer.args.gradient_accumulation_steps
        assert len(trainer.records) == calls, "%s: %d _compute_loss calls, expected %d" % (name, len(trainer.records), calls)
        print("%s: %s" % (name, check_generation(name, trainer, trainer.records)))
        for step in range(1, STEPS + 1):
            # the Trainer's log for this step (logging_steps = 1): the sum of the losses its calls returned
            # (TRL scales each for the accumulation) and the mean of each metric over its calls; with
            # one call per step, that call's own numbers
            entry = logged_by_trainer(trainer, step)
            assert entry is not None, "%s: no log entry for step %d" % (name, step)
            mine = [r for r in trainer.records if r["step"] == step]
            assert len(mine) == trainer.args.gradient_accumulation_steps, (name, step, len(mine))
            assert entry["loss"] == sum(r["loss"] for r in mine), "%s step %d: loss logged %r, _compute_loss %r" % (
                name, step, entry["loss"], [r["loss"] for r in mine])
            for key in METRICS:
                values = [v for r in mine for v in r["metrics"].get(key, [])]
                assert (key in entry and entry[key] is not None) == bool(values), (name, step, key)
                if values:
                    assert entry[key] == sum(values) / len(values), "%s step %d: %s logged %r, _compute_loss %r" % (
                        name, step, key, entry[key], values)
        for record in trainer.records:
            note = check_record(name, trainer, record)
            doc = batch_document(name, trainer, record)
            if one_call_per_step(trainer.args):
                path = os.path.join(args.out, "%s-step%d.json" % (name, record["step"]))
            else:
                path = os.path.join(args.out, "%s-call%d.json" % (name, record["call"]))
            write_batch(path, doc)
            written.append((path, name, record))
            ratio = (record["logp"] - record["old_per_token_logps"])[record["completion_mask"].bool()]
            print("%s call %d (step %d): loss %.12g (x %.6g), %d of %d tokens, max |logp - old_logp| %.3g; %s -> %s" % (
                name, record["call"], record["step"], record["loss"], record["loss_factor"],
                int(record["completion_mask"].sum()), record["num_items_in_batch"],
                float(ratio.abs().max()), note, path))
    if args.check:
        check(args.check, written)


if __name__ == "__main__":
    main()
