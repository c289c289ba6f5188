#!/usr/bin/env bash
# Builds, on a machine with Rust (no GPU or CUDA toolkit needed), everything
# scripts/gpu-check.sh runs on the GPU machine (which has no Rust toolchain and no network):
# the CUDA test executables, the op benchmark and the `unravel` command-line program (for
# `unravel bench net --device cuda`), all built with `--features cuda`, copied into
# target/gpu-bundle/ (ignored by git) without their debug info. Carry `target/gpu-bundle` to the
# GPU machine (the bundle must stay under 60 MiB) and run `scripts/gpu-check.sh` from the
# repository root there.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle
rm -rf "$bundle"
mkdir -p "$bundle/tests"

# Test executables built with the cuda feature; cargo names each in its JSON. The tensor
# crate's op tests, and the root package's end-to-end training test (three SGD steps of small
# ResNets on the GPU against the CPU).
bundle_tests() {
    python3 -c '
import json, shutil, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["profile"]["test"]:
        name = message["target"]["name"]
        shutil.copy(message["executable"], sys.argv[1] + "/tests/" + name)
        print("bundled test", name)
' "$bundle"
}
cargo test -p unravel-tensor --release --features cuda --no-run --message-format=json \
    --test cuda_ops --test cuda_nn_ops --test cuda_compile --test cuda_training_ops \
    --test cuda_batch_norm_relu | bundle_tests
cargo test -p unravel --release --features cuda --no-run --message-format=json \
    --test cuda_resnet_train | bundle_tests

cargo build -p unravel-tensor --release --features cuda --example cuda_bench
cp target/release/examples/cuda_bench "$bundle/cuda_bench"
cargo build -p unravel --release --features cuda --bin unravel
cp target/release/unravel "$bundle/unravel"

# The release profile keeps line tables (for backtraces); the copies do not need them, and
# stripping them here keeps the build cache as it is.
if command -v strip >/dev/null; then
    strip --strip-debug "$bundle/cuda_bench" "$bundle/unravel" "$bundle"/tests/*
fi
du -sh "$bundle"
size=$(du -sm "$bundle" | cut -f1)
if [ "$size" -gt 60 ]; then
    echo "the bundle is $size MiB, over the 60 MiB it may carry" >&2
    exit 1
fi
