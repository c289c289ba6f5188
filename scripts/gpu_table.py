#!/usr/bin/env python3
"""Joins unravel's (argv[1]) and PyTorch's (argv[2]) JSON-lines benchmark figures into the table
that scripts/gpu-check.sh prints last."""
import json
import sys


def load(path):
    rows = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    row = json.loads(line)
                    rows[(row["kind"], row.get("n", row.get("name")))] = row
    except OSError:
        pass
    return rows


ours, torch = load(sys.argv[1]), load(sys.argv[2])
print(f"{'workload':<28}{'unravel':>12}{'PyTorch':>12}{'ratio':>8}")
for key in sorted(set(ours) | set(torch), key=str):
    kind, name = key
    fields = ("f32_gflops", "tf32_gflops") if kind == "gemm" else ("forward_gflops", "training_gflops")
    for field in fields:
        a = ours.get(key, {}).get(field)
        b = torch.get(key, {}).get(field)
        ratio = f"{a / b:.2f}" if a and b else "-"
        label = f"{kind} {name} {field.replace('_gflops', '')}"
        fmt = lambda v: f"{v:.0f}" if v else "-"
        print(f"{label:<28}{fmt(a):>12}{fmt(b):>12}{ratio:>8}   GFLOP/s")
