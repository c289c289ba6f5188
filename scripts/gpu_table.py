#!/usr/bin/env python3
"""Joins unravel's (argv[1]) and PyTorch's (argv[2]) JSON-lines benchmark figures into the table
that scripts/gpu-check.sh prints last: GEMM and convolution GFLOP/s, and whole-network training
images/s (unravel's `bench net` rows, keyed by `bench`/`arch`, meet PyTorch's `kind`/`name`
rows). ratio = unravel / PyTorch; a missing figure (a benchmark that failed or timed out) is
shown as `-`."""
import json
import sys

FIELDS = {
    "gemm": (("f32_gflops", "f32", "GFLOP/s"), ("tf32_gflops", "tf32", "GFLOP/s")),
    "conv": (("forward_gflops", "forward", "GFLOP/s"), ("training_gflops", "training", "GFLOP/s")),
    "net": (("train_images_per_s", "train", "images/s"),),
}

# Issue 7's goal for whole-network training throughput, as a fraction of PyTorch's.
NET_TARGET = 0.5
# Rows printed even when neither side produced them, so a missing figure shows as `-`.
EXPECTED = {("net", "resnet50 64x3x224x224")}


def load(path):
    rows = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    row = json.loads(line)
                    kind = row.get("kind", row.get("bench"))
                    name = row.get("n", row.get("name", row.get("arch")))
                    if kind == "net" and "input" in row:
                        name = f"{name} {'x'.join(map(str, row['input']))}"
                    rows[(kind, name)] = row
    except (OSError, json.JSONDecodeError) as error:
        print(f"({path}: {error})")
    return rows


def fmt(value):
    return f"{value:.0f}" if value else "-"


ours, torch = load(sys.argv[1]), load(sys.argv[2])
print(f"{'workload':<40}{'unravel':>12}{'PyTorch':>12}{'ratio':>8}")
order = {"gemm": 0, "conv": 1, "net": 2}
numeric = lambda name: name if isinstance(name, int) else 0
targets = []
for key in sorted(set(ours) | set(torch) | EXPECTED, key=lambda k: (order.get(k[0], 3), numeric(k[1]), str(k[1]))):
    kind, name = key
    for field, label, unit in FIELDS.get(kind, ()):
        a = ours.get(key, {}).get(field)
        b = torch.get(key, {}).get(field)
        ratio = f"{a / b:.2f}" if a and b else "-"
        print(f"{f'{kind} {name} {label}':<40}{fmt(a):>12}{fmt(b):>12}{ratio:>8}   {unit}")
        if kind == "net":
            verdict = ("met" if a / b >= NET_TARGET else "NOT met") if a and b else "not measured"
            targets.append(f"{kind} {name}: target >= {NET_TARGET}x PyTorch {verdict}")
for line in targets:
    print(line)
