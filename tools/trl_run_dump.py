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
    vocabulary, so the completions of one prompt get different rewards); the two runs with
    several reward functions add a second one, the share of vowels.

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
file's loss is the returned one times trl_loss_factor (lesson 13): the loss of the call's rows alone.

Fifteen runs in all (RUNS has each one's options, with a comment): six for the first options
(grpo with beta 0.04, dapo with epsilon_high 0.28, dr_grpo, GSPO, top_entropy_quantile 0.5,
dapo-accumulation), then nine for the options added since, one call per step each:
  - cispo, sapo, vespo: the loss_type alone, every other option at TRL's default. For cispo that
    default matters: epsilon_high unset means epsilon, so the cap min(r, epsilon_high) is 0.2, below
    any ratio here, and cispo_clip_ratio counts every token with A > 0 (TRL's docstring recommends 5);
  - cispo-epsilon_high5: the recommended cap, far above any ratio here: the weight is r, nothing capped;
  - luspo: importance_sampling_level "sequence" (TRL warns at token level) with the clip widths TRL's
    paper index gives (2e-3, 2.5e-3), and learning rate 5e-5, for the same reason as GSPO's 1e-5;
  - entropy_coef 0.01 with mask_truncated_completions, max_completion_length 16 (7 of 12 truncated);
  - off_policy_mask_threshold 0.1, which drops 3 completions (all with A < 0) on step 2 (the file's
    "source" says whether the mask fired and which completions it dropped);
  - reward_weights [1, 0.5] over the two reward functions, summed then normalized (TRL's default
    multi_objective_aggregation), and the same with normalize_then_sum.

Precision. torch's default dtype is set to float64 before anything is built, so the model is
float64 and so are TRL's reward tensor and advantages (TRL allocates them in the default dtype).
The file gives the advantages as they are, so their precision only decides how close a group's
sum is to 0 (~1e-17 here, ~1e-8 in float32). But TRL 1.16 computes log-probs and entropies with its fused LM head
(trl/kernels/chunked_logprob.py), which accumulates in float32 whatever the model's dtype: the
log-probs, entropies, old and reference log-probs are float32, and so are the token-level ratio
exp(logp - old_logp) and the KL that TRL computes from them. The file holds those float32 values
exactly; grpo-swift redoes the arithmetic in float64, so expect the loss to agree to ~1e-9 (to
~1e-8 when few tokens count: 47 in the mask_truncated_completions run) and the metrics (float32
in TRL) to ~1e-8 relative. GSPO's and LUSPO's sequence ratio is float64 in TRL here (dividing by
`mask.sum(-1).clamp(min=1.0)`, a default-dtype tensor, promotes it), so their loss agrees to
~1e-16. `--check` also replays TRL's `_compute_loss` on the same inputs in float64
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
    clip_ratio/high_mean, clip_ratio/region_mean, kl when beta != 0, entropy; cispo_clip_ratio
    and vespo/phi_seq_mean for those losses; policy_loss and entropy_coef with the entropy bonus;
    not clip_ratio/low_min or clip_ratio/high_max), also checked against what the Trainer logged
    for that step (with 2 calls a step, their mean);
  - carried from generation along with the rows (extra keys TRL never reads): each completion's
    length, whether TRL deems it truncated (its last token is neither <eos> nor <pad>), and its
    rewards per reward function. With mask_truncated_completions TRL zeroes a truncated
    completion's completion_mask row (the attention mask too), so the mask no longer gives its length.

The batch file (see lessons/13-reading-library-output.md, "Dumping a batch from TRL"):
  - one call holding the whole generation batch: groups in the order TRL generated them. TRL shuffles the rows of a generation batch before
    it reaches `_compute_loss` (`shuffle_sequence_dict` in `_prepare_inputs`), so the rows of a
    prompt are not consecutive there; each row is tagged with its index at generation time and
    the file puts them back in order (every loss and metric is a sum or mean over rows, so the
    order does not change any number). A call holding part of it (dapo-accumulation): its rows in
    one group, in the order _compute_loss saw them;
  - "advantages": TRL's advantages, given as they are (a group gives "advantages" instead of
    "rewards", so grpo-swift skips the group-relative step and uses them);
  - per completion, its valid tokens only: logp, old_logp, ref_logp (beta != 0), entropy. A
    truncated completion in the mask_truncated_completions run is written with all its tokens and
    "truncated": true; TRL does not score the tokens of a masked row (their labels are -100), so
    its logp, old_logp and entropy are 0 there, and in the file;
  - "config": the run's TRL options under our names (ours are TRL's GRPOConfig names); an option
    the first six runs do not use (sapo's and vespo's parameters, off_policy_mask_threshold,
    entropy_coef, mask_truncated_completions, reward_weights and multi_objective_aggregation) is
    written only in the runs where it acts;
  - "logged": TRL's numbers for that step, from the run itself.

Usage (the venv lives outside the repo; no internet needed):
  /work/.venv-trl/bin/python tools/trl_run_dump.py --out examples/trl-run
  /work/.venv-trl/bin/python tools/trl_run_dump.py --out /tmp/dump --runs grpo-beta0.04,gspo
  /work/.venv-trl/bin/python tools/trl_run_dump.py --out /tmp/dump --check .build/debug/grpo-repl

`--check BINARY` runs `BINARY explain FILE --json` on every file written and prints |ours - TRL|
for the loss and each logged metric, against the logged numbers and against the float64 replay.
Two more checks where they apply: whether explain's off-policy mask drops the completions TRL's
get_off_policy_mask drops, and, for the runs with two reward functions, explain on a copy of the
file giving each group's "rewards_per_func" (TRL's) instead of its advantages, so that grpo-swift
computes the advantages itself from reward_weights and multi_objective_aggregation (printed:
the largest |A ours - A TRL| and the loss's difference). About 15 s for all fourteen runs on 2
CPUs. Nothing here is needed by the build or the tests.
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
    # The loss options added after the six above (TRL's defaults for everything they do not name).
    # (g) CISPO with TRL's own default cap: epsilon_high unset falls back to epsilon, so the cap on the
    # (detached) ratio is 0.2, below 1: every token's weight is min(r, 0.2). TRL's docstring recommends 5.0.
    "cispo": {"loss_type": "cispo"},
    # (g2) CISPO with the cap TRL's docstring recommends (ScaleRL's epsilon_high 5.0): no ratio here comes
    # near it, so each token's (detached) weight is its ratio r itself and cispo_clip_ratio is 0.
    "cispo-epsilon_high5": {"loss_type": "cispo", "epsilon_high": 5.0},
    # (h) SAPO: a sigmoid gate instead of the clip, default temperatures (1.0 for A > 0, 1.05 otherwise)
    "sapo": {"loss_type": "sapo"},
    # (i) VESPO: phi of the sequence's summed log-ratio weighs -A * logp; default k and lambda
    "vespo": {"loss_type": "vespo"},
    # (j) LUSPO: GSPO's sequence ratio, each completion's loss times its length. TRL warns unless the
    # level is "sequence"; the clip widths are the ones TRL's paper index gives for it (2e-3, 2.5e-3).
    # As with GSPO, the common learning rate clips 11 of 12 completions on step 2; at 5e-5, 6 of 12.
    "luspo": {"loss_type": "luspo", "importance_sampling_level": "sequence", "epsilon": 2e-3,
              "epsilon_high": 2.5e-3, "learning_rate": 5e-5},
    # (k) an entropy bonus (loss -= 0.01 * mean entropy of the counted tokens) on TRL's default dapo
    # loss, with truncated completions (last token not <eos>) left out of the loss. At the common
    # max_completion_length 12, 9 of 12 are truncated; at 16, 7 of 12, and one of the 5 kept has
    # exactly 16 tokens, its last one <eos> (TRL tests the last token, not the length).
    "entropy_coef0.01-mask_truncated_completions": {"entropy_coef": 0.01, "mask_truncated_completions": True,
                                                    "max_completion_length": 16},
    # (l) DeepSeek-V3.2's off-policy sequence mask on TRL's default dapo loss: a completion with A < 0 whose
    # mean (old_logp - logp) exceeds the threshold is dropped. Step 1 is on-policy (the mean is 0: nothing
    # dropped); on step 2 the five completions with clearly negative A have means 0.07 to 0.16 (two more
    # have A = -5.5e-8, float32 noise, and means 0.006 and -0.011), and 0.1 drops three of them.
    "off_policy_mask_threshold0.1": {"off_policy_mask_threshold": 0.1},
    # (m) two reward functions weighted 1 and 0.5, summed then normalized per group (TRL's default)
    "reward_weights": {"reward_funcs": ("first_half_share", "vowel_share"), "reward_weights": [1.0, 0.5]},
    # (n) the same, normalized per function within each group, summed, then normalized over the batch (GDPO)
    "reward_weights-normalize_then_sum": {"reward_funcs": ("first_half_share", "vowel_share"),
                                          "reward_weights": [1.0, 0.5],
                                          "multi_objective_aggregation": "normalize_then_sum"},
}

def one_call_per_step(args):
    """True for the runs where each optimizer step is one `_compute_loss` call on the whole generation
    batch (files named -stepN, rows regrouped by prompt); otherwise one file per call (-callN)."""
    return args.gradient_accumulation_steps == 1 and args.steps_per_generation == 1


METRICS = ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "kl", "entropy")
# What _compute_loss logs only for some options, recorded when it does: cispo's and vespo's own metrics, and
# with an entropy bonus the loss before it and the coefficient. (clip_ratio/low_min and clip_ratio/high_max,
# which TRL logs for the clipped objectives, are not recorded, in no run.)
OPTION_METRICS = ("cispo_clip_ratio", "vespo/phi_seq_mean", "policy_loss", "entropy_coef")


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


def vowel_share(completions, **kwargs):
    """A second reward, for the runs with two: the share of the completion's characters that are vowels."""
    return [sum(ch in "aeiou" for ch in c) / len(c) if c else 0.0 for c in completions]


# ----------------------------------------------------------------------------------------------
# A GRPOTrainer that records what _compute_loss used and returned
# ----------------------------------------------------------------------------------------------

def trl_loss_factor(trainer, inputs):
    """What turns the policy part of the loss TRL 1.16's _compute_loss returns (train mode) into
    the policy loss of this call's rows alone. (lessons/13-reading-library-output.md, "Dumping a
    batch from TRL", verbatim; the runs here with accumulation have no entropy bonus, so the
    factor applies to their whole loss, as the lesson's trl_call_loss says.)"""
    accumulation = trainer.current_gradient_accumulation_steps
    if trainer.loss_type in ("dapo", "cispo", "vespo"):
        # TRL divides by the generation batch's tokens, rescaled to one accumulation window.
        window_tokens = (float(inputs["num_items_in_batch"].clamp(min=1)) / trainer.accelerator.num_processes
                         * accumulation / trainer.args.steps_per_generation)
        return window_tokens / max(int(inputs["completion_mask"].sum()), 1)
    return accumulation                             # grpo, bnpo, dr_grpo, sapo, luspo: divided by it


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

    def _generate(self, prompts):
        result = super()._generate(prompts)
        self._completion_ids_list = result[1]  # the completions' token ids, unpadded, in generation order
        return result

    def _calculate_rewards(self, *args, **kwargs):
        self._rewards_per_func = super()._calculate_rewards(*args, **kwargs)
        return self._rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        output["row_index"] = torch.arange(output["advantages"].shape[0])
        # Also carried along, never read by TRL: each completion's length in tokens, whether it is truncated
        # by TRL's own test (its last token is neither <eos> nor <pad>; with mask_truncated_completions its
        # completion_mask row is all 0, so the mask no longer gives its length), and its rewards per function.
        ids = self._completion_ids_list
        assert len(ids) == output["advantages"].shape[0]
        ends = [*self.eos_token_ids, self._tokenizer.pad_token_id]
        output["token_length"] = torch.tensor([len(c) for c in ids])
        output["is_truncated"] = torch.tensor([c[-1] not in ends for c in ids])
        output["rewards_per_func"] = self._rewards_per_func.detach().clone()
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
            "token_length": inputs["token_length"].clone(), "is_truncated": inputs["is_truncated"].clone(),
            "rewards_per_func": inputs["rewards_per_func"].clone(),
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
    options = dict(options)
    reward_funcs = [globals()[f] for f in options.pop("reward_funcs", ("first_half_share",))]
    args = GRPOConfig(**{**common, **options})  # a run's options override the common ones
    # every run generates G * PROMPTS_PER_STEP rows at a time, however it cuts them into calls
    assert args.per_device_train_batch_size * args.steps_per_generation == G * PROMPTS_PER_STEP, name
    trainer = RecordingGRPOTrainer(
        model=load_model(model_dir), reward_funcs=reward_funcs if len(reward_funcs) > 1 else reward_funcs[0], args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": PROMPTS}), processing_class=tokenizer,
    )
    trainer.train()
    return trainer


def our_config(trainer):
    """The run's loss options, under grpo-swift's names (TRL's GRPOConfig names), as TRL used them."""
    a = trainer.args
    config = {
        "loss_type": a.loss_type, "epsilon": a.epsilon, "epsilon_high": trainer.epsilon_high,
        "delta": a.delta, "beta": a.beta, "use_bias_correction_kl": a.use_bias_correction_kl,
        "importance_sampling_level": a.importance_sampling_level,
        "max_completion_length": a.max_completion_length, "top_entropy_quantile": a.top_entropy_quantile,
    }
    # The options only some runs use, given where they act (so the first six runs' files keep their keys)
    if a.loss_type == "sapo":
        config.update(sapo_temperature_pos=a.sapo_temperature_pos, sapo_temperature_neg=a.sapo_temperature_neg)
    if a.loss_type == "vespo":
        config.update(vespo_k_pos=a.vespo_k_pos, vespo_lambda_pos=a.vespo_lambda_pos,
                      vespo_k_neg=a.vespo_k_neg, vespo_lambda_neg=a.vespo_lambda_neg)
    if a.off_policy_mask_threshold is not None:
        config["off_policy_mask_threshold"] = a.off_policy_mask_threshold
    if trainer._entropy_bonus_enabled:
        config.update(entropy_coef=a.entropy_coef, use_adaptive_entropy=a.use_adaptive_entropy)
    if a.mask_truncated_completions:
        config["mask_truncated_completions"] = True
    if len(trainer.reward_funcs) > 1:
        # they act on the advantages, which the file gives; --check also lets explain compute them
        config.update(scale_rewards=a.scale_rewards, reward_weights=trainer.reward_weights.tolist(),
                      multi_objective_aggregation=a.multi_objective_aggregation)
    return config


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
    # the mask's length is the completion's, but for a truncated one that TRL masks (all 0)
    dropped = record["is_truncated"] if a.mask_truncated_completions else torch.zeros(b, dtype=torch.bool)
    assert torch.equal(lengths[~dropped], record["token_length"][~dropped]), name
    assert bool((lengths[dropped] == 0).all()), name
    assert bool((record["token_length"][record["is_truncated"]] == mask.shape[1]).all()), name
    if a.mask_truncated_completions:
        assert 0 < int(dropped.sum()) < b, "%s: %d of %d completions truncated" % (name, int(dropped.sum()), b)
        # TRL does not score a masked completion's tokens (labels -100): 0 in every per-token tensor
        for key in ("logp", "entropy", "old_per_token_logps"):
            assert bool((record[key][dropped] == 0).all()), (name, key)
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
    notes = ["rows as _compute_loss saw them: %s" % ("in generation order" if consecutive else
                                                     "shuffled (%s)" % record["row_index"].tolist())]
    if a.mask_truncated_completions:
        notes.append("%d of %d completions truncated, masked" % (int(dropped.sum()), b))
    if a.off_policy_mask_threshold is not None:
        notes.append("off-policy mask drops %d completion(s)" % int((~off_policy_keep(trainer, record)).sum()))
    return "; ".join(notes)


def off_policy_keep(trainer, record):
    """Which completions TRL's off-policy sequence mask keeps in this call (TRL's get_off_policy_mask on
    the recorded tensors; without vLLM it compares with old_per_token_logps)."""
    mask = record["completion_mask"]
    keep = trainer.get_off_policy_mask(record["advantages"].unsqueeze(1), record["logp"], record["old_per_token_logps"],
                                       mask, trainer.args.off_policy_mask_threshold)
    return keep.squeeze(1).bool()


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
    lengths = record["token_length"].tolist()  # the completion_mask's, but for truncated completions TRL masked
    masked = trainer.args.mask_truncated_completions

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
            if masked and bool(record["is_truncated"][i]):
                # Its completion_mask row is all 0, so TRL scores none of its tokens (labels -100): its logp,
                # old_logp and entropy are 0 in TRL's tensors, and so in the file (check_record checks).
                c["truncated"] = True
            completions.append(c)
        groups.append({"advantages": [float(record["advantages"][i]) for i in rows], "completions": completions})

    source = "TRL %s GRPOTrainer.train(), run %s, step %d" % (trl.__version__, name, record["step"])
    if not whole:
        source = ("TRL %s GRPOTrainer.train(), run %s, call %d (optimizer step %d), loss x %.6g "
                  "(trl_loss_factor: TRL scales for gradient accumulation; %d tokens in the generation batch, "
                  "%d in this call)" % (trl.__version__, name, record["call"], record["step"], record["loss_factor"],
                                        record["num_items_in_batch"], int(record["completion_mask"].sum())))
    if trainer.args.off_policy_mask_threshold is not None:
        source += "; " + off_policy_note(trainer, record, order if whole else list(range(len(lengths))))
    # the loss of this call's rows alone (the factor is 1 when the call is the whole step)
    logged = {"source": source, "loss": record["loss"] * record["loss_factor"]}
    for key in METRICS + OPTION_METRICS:
        values = record["metrics"].get(key)
        if values:
            assert len(values) == 1, "%s appended %d times in one _compute_loss" % (key, len(values))
            logged[key] = values[0]
    return {"config": our_config(trainer), "logged": logged, "groups": groups}


def off_policy_note(trainer, record, order):
    """Whether TRL's off-policy mask fired in this call, and on which completions (named by their place in
    the file: `order` lists the rows in the file's order, G per group when the call is the whole step)."""
    threshold = trainer.args.off_policy_mask_threshold
    keep = off_policy_keep(trainer, record)
    per_group = G if one_call_per_step(trainer.args) else len(order)
    dropped = ["groups[%d].completions[%d]" % (k // per_group, k % per_group)
               for k, i in enumerate(order) if not bool(keep[i])]
    if not dropped:
        return "off_policy_mask_threshold %g did not fire: no completion with A < 0 has a mean old_logp - logp above it%s" % (
            threshold, " (on-policy: every mean is 0)" if record["step"] == 1 else "")
    return "off_policy_mask_threshold %g fired: it drops %d of %d completions (A < 0, mean old_logp - logp above %g): %s" % (
        threshold, len(dropped), len(order), threshold, ", ".join(dropped))


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
    logged (the file's "logged"), and against TRL's `_compute_loss` replayed in float64. Where a run
    has the off-policy mask, also whether explain drops the completions TRL dropped; where it has
    several reward functions, explain on the file with its rewards per function instead of the
    advantages, against TRL's advantages and loss."""
    worst = {"logged": {}, "replay64": {}}
    verdicts, more = [], []
    for path, run_name, record, extra in written:
        with open(path) as f:
            doc = json.load(f)
        logged = doc["logged"]
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
        if extra.get("off_policy_keep") is not None:
            theirs = extra["off_policy_keep"]
            for p in ("naive", "vectorized"):
                mine = report["paths"][p].get("off_policy_mask")
                more.append("%s (%s): off-policy mask: TRL drops %s, ours %s: %s" % (
                    os.path.basename(path), p, dropped_rows(theirs), "-" if mine is None else dropped_rows(mine),
                    "same" if mine == theirs else "DIFFERENT"))
        if extra.get("rewards_variant") is not None:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(extra["rewards_variant"], f)
            try:
                variant = explain(binary, f.name)
            finally:
                os.unlink(f.name)
            theirs = [a for group in doc["groups"] for a in group["advantages"]]
            for p in ("naive", "vectorized"):
                ours = variant["paths"][p]
                d_adv = max(abs(x - y) for x, y in zip(ours["advantages"], theirs))
                more.append("%s (%s): from rewards_per_func instead of advantages: max |A ours - A TRL| %.2e, "
                            "|loss ours - TRL| %.2e" % (os.path.basename(path), p, d_adv, abs(ours["loss"] - logged["loss"])))
    keys = ["loss"] + list(METRICS) + [k for k in OPTION_METRICS
                                       if any(k in row for row in worst["logged"].values())]
    short = {"clip_ratio/": "", "vespo/phi_seq_mean": "vespo_phi", "cispo_clip_ratio": "cispo_clip"}
    def column(k):
        for a, b in short.items():
            k = k.replace(a, b)
        return k
    for against, title in (("logged", "TRL's logged numbers (the files' \"logged\")"),
                           ("replay64", "TRL's _compute_loss replayed on the same inputs in float64")):
        print("\nmax |ours - TRL| against %s; both paths, all files; '-': not logged" % title)
        print("%-44s" % "run" + "".join(" %12s" % column(k) for k in keys))
        for run_name, row in worst[against].items():
            print("%-44s" % run_name + "".join(" %12s" % ("%.2e" % row[k] if k in row else "-") for k in keys))
    if verdicts:
        print("\nexplain's verdict on each file's logged numbers (1e-5 relative):\n  " + "\n  ".join(verdicts))
    if more:
        print("\nalso checked:\n  " + "\n  ".join(more))
    return worst


def dropped_rows(keep):
    """The completions a keep-mask drops, as their indices in the file (counting over all groups)."""
    rows = [i for i, k in enumerate(keep) if not k]
    return ("%d of %d %s" % (len(rows), len(keep), rows)) if rows else "none of %d" % len(keep)


def extra_checks(trainer, record, doc):
    """What --check compares besides the logged numbers, in the file's order of completions."""
    whole = one_call_per_step(trainer.args)
    order = torch.argsort(record["row_index"]).tolist() if whole else list(range(record["completion_mask"].shape[0]))
    extra = {}
    if trainer.args.off_policy_mask_threshold is not None:
        keep = off_policy_keep(trainer, record)
        extra["off_policy_keep"] = [bool(keep[i]) for i in order]
    if len(trainer.reward_funcs) > 1:
        assert whole, "rewards per function need whole groups"
        variant = json.loads(json.dumps(doc))
        # TRL's std: sample (Bessel) with 1e-4 added (trl_terms_golden.OUR_FIXED)
        variant["config"].update(std_epsilon=1e-4, std_estimator="sample")
        variant["groups"] = [
            {"rewards_per_func": [[float(x) for x in record["rewards_per_func"][i]] for i in order[g * G:(g + 1) * G]],
             "completions": group["completions"]}
            for g, group in enumerate(variant["groups"])]
        extra["rewards_variant"] = variant
    return extra


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
            for key in METRICS + OPTION_METRICS:
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
            written.append((path, name, record, extra_checks(trainer, record, doc)))
            ratio = (record["logp"] - record["old_per_token_logps"])[record["completion_mask"].bool()]
            print("%s call %d (step %d): loss %.12g (x %.6g), %d of %d tokens, max |logp - old_logp| %.3g; %s -> %s" % (
                name, record["call"], record["step"], record["loss"], record["loss_factor"],
                int(record["completion_mask"].sum()), record["num_items_in_batch"],
                float(ratio.abs().max()), note, path))
    if args.check:
        check(args.check, written)


if __name__ == "__main__":
    main()
