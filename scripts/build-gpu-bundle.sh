#!/usr/bin/env bash
# Builds, on a machine with Rust (no GPU or CUDA toolkit needed), everything
# scripts/gpu-check.sh runs on the GPU machine (which has no Rust toolchain and no network):
# the CUDA test executables and the benchmark, copied into target/gpu-bundle/ (ignored by git).
# Carry `target/gpu-bundle` to the GPU machine and run `scripts/gpu-check.sh` from the
# repository root there.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle
rm -rf "$bundle"
mkdir -p "$bundle/tests"

# Test executables of the tensor crate with the cuda feature; cargo names each in its JSON.
cargo test -p unravel-tensor --release --features cuda --no-run --message-format=json \
    --test cuda_ops --test cuda_compile \
  | python3 -c '
import json, shutil, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["profile"]["test"]:
        name = message["target"]["name"]
        shutil.copy(message["executable"], sys.argv[1] + "/tests/" + name)
        print("bundled test", name)
' "$bundle"

cargo build -p unravel-tensor --release --features cuda --example cuda_bench
cp target/release/examples/cuda_bench "$bundle/cuda_bench"
du -sh "$bundle"
