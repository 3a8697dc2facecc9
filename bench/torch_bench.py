# Copied unchanged (below this header) from the project reference notes, shared/reference/torch_bench.py,
# so that `grpo-bench --torch PYTHON` finds it in a clone. It times the TRL-shaped loss in PyTorch eager.
"""Times the GRPO loss + backward (d loss / d logp) the way TRL computes it, in PyTorch eager,
float64, on the CPU, for a side-by-side figure against grpo-bench.

  python torch_bench.py [--completions 512] [--max-len 1024] [--loss-type grpo] [--beta 0.04] [--json]

Shapes: `completions` rows of padded length `max-len`; row lengths uniform in
[max-len/2, max-len] (seeded); logp in [-3, 0]; old/ref = logp + N(0, 0.1); advantages N(0, 1);
epsilon 0.2. Prints the median of 10 timed runs after 3 warm-ups, and valid tokens per second.
"""
import argparse, json, time
import torch

p = argparse.ArgumentParser()
p.add_argument("--completions", type=int, default=512)
p.add_argument("--max-len", type=int, default=1024)
p.add_argument("--loss-type", default="grpo", choices=["grpo", "bnpo", "dapo", "dr_grpo"])
p.add_argument("--beta", type=float, default=0.04)
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_default_dtype(torch.float64)
B, T = a.completions, a.max_len
g = torch.Generator().manual_seed(0)
logp0 = -torch.rand(B, T, generator=g) * 3
old = logp0 + 0.1 * torch.randn(B, T, generator=g)
ref = logp0 + 0.1 * torch.randn(B, T, generator=g)
lens = torch.randint(T // 2, T + 1, (B,), generator=g)
mask = (torch.arange(T)[None, :] < lens[:, None]).double()
adv = torch.randn(B, generator=g)


def step():
    logp = logp0.clone().requires_grad_(True)
    coef1 = torch.exp(logp - old)
    coef2 = torch.clamp(coef1, 0.8, 1.2)
    ptl = -torch.min(coef1 * adv[:, None], coef2 * adv[:, None])
    if a.beta != 0:
        ptl = ptl + a.beta * (torch.exp(ref - logp) - (ref - logp) - 1)
    if a.loss_type == "grpo":
        loss = ((ptl * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    elif a.loss_type == "dr_grpo":
        loss = (ptl * mask).sum() / (B * T)
    else:
        loss = (ptl * mask).sum() / mask.sum().clamp(min=1)
    loss.backward()
    return logp.grad


for _ in range(3):
    step()
ts = []
for _ in range(10):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
ts.sort()
med = ts[len(ts) // 2]
tokens = int(mask.sum().item())
res = dict(engine=f"torch {torch.__version__} eager, {torch.get_num_threads()} threads",
           completions=B, max_len=T, valid_tokens=tokens, median_seconds=med,
           tokens_per_second=tokens / med)
print(json.dumps(res) if a.json else
      f"{res['engine']}: {B}x{T}, {tokens} valid tokens, median {med*1e3:.2f} ms, {tokens/med/1e6:.1f} M tokens/s")
