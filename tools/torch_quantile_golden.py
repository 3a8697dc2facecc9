#!/usr/bin/env python3
"""Golden values of torch.quantile on float32 inputs, from two torch versions, for the entropy
mask's threshold (`top_entropy_quantile`): `GRPOConfig.QuantileRank` reproduces each version's
rank rule and `TorchRulesTests` holds `TorchRules.quantile` to these numbers bit for bit.

torch changed how it takes the rank q (n - 1) (pytorch#187574, 2026): in float32 up to 2.13, in
float64 in 2.15. The two give different thresholds when the rank lands near a whole number,
which decides whether tokens tied at the threshold keep their policy term.

Usage (each Python needs only torch; keep the venvs outside the repo):
  python3 tools/torch_quantile_golden.py --python /work/.venv-t213/bin/python \
      --python /work/.venv-trl/bin/python --out Tests/GRPOTests/Fixtures/torch_quantile.json
The inputs are made here, from a fixed seed, with Python's own `random`; each torch only
evaluates them (`--emit`), so the file is the same bytes on every run.
"""
import argparse
import json
import random
import struct
import subprocess
import sys


def f32(x):
    """x rounded to the nearest float32, as a Python float (exact)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def cases():
    rng = random.Random(20261203)
    out = []
    # The whole-number ranks where the two rules part: n - 1 a multiple of 10 and q a tenth.
    for n in (11, 21, 31, 41):
        for rho in (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9):
            zeros = rng.randint(1, n // 2)
            values = [0.0] * zeros + [f32(rng.randint(1, 200) / 64) for _ in range(n - zeros)]
            out.append({"values": sorted(values), "q": f32(1 - rho)})
    # Random sizes, ties, and q drawn at random or as 1 - rho for rho on a grid.
    for _ in range(200):
        n = rng.randint(1, 60)
        if rng.random() < 0.5:
            values = [f32(rng.randint(0, 40) / 16) for _ in range(n)]
        else:
            values = [f32(rng.uniform(0, 4)) for _ in range(n)]
        q = f32(1 - rng.choice([0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, rng.random()]))
        out.append({"values": sorted(values), "q": q})
    return out


def emit():
    import torch
    results = []
    for case in cases():
        v = torch.tensor(case["values"], dtype=torch.float32)
        results.append(torch.quantile(v, case["q"]).item())
    print(json.dumps({"torch": torch.__version__.split("+")[0], "quantiles": results}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--python", action="append", default=[], help="a Python with torch (repeat)")
    p.add_argument("--out")
    p.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.emit:
        emit()
        return
    if not a.python or not a.out:
        sys.exit("give --python (one per torch version) and --out")
    runs = []
    for python in a.python:
        proc = subprocess.run([python, __file__, "--emit"], capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    table = cases()
    for run in runs:
        for case, value in zip(table, run["quantiles"]):
            case["torch " + run["torch"]] = value
    doc = {"origin": {"script": "tools/torch_quantile_golden.py",
                      "torch": [run["torch"] for run in runs],
                      "note": "torch.quantile(float32 values, q) with linear interpolation, q a float32; "
                              "values sorted; one result per torch version"},
           "cases": table}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
