#!/usr/bin/env bash
# Runs every GPU test and benchmark, in well under 8 minutes, on a machine with an NVIDIA GPU,
# its driver, and PyTorch (for NVRTC and the baselines) but no Rust: it uses the executables that
# scripts/build-gpu-bundle.sh built into target/gpu-bundle/. Prints a table last: unravel's
# GEMM and convolution GFLOP/s next to cuBLAS/cuDNN's (through PyTorch, TF32 off) in this run.
#
# NVRTC: UNRAVEL_NVRTC if set; otherwise the libnvrtc that ships with PyTorch's CUDA wheels (or
# the toolkit's), found below. See docs/cuda.md for the driver/NVRTC version rule.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-target/gpu-bundle}
out=${OUT:-target/gpu-check}
mkdir -p "$out"
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

if [ -z "${UNRAVEL_NVRTC:-}" ]; then
    candidates=$(python3 - <<'PY'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages(), "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]
seen = []
for root in roots:
    for path in sorted(glob.glob(os.path.join(root, "**", "libnvrtc.so*"), recursive=True)):
        if "builtins" not in path and path not in seen:
            seen.append(path)
print("\n".join(seen))
PY
)
    echo "NVRTC candidates:"; echo "$candidates"
    first=$(echo "$candidates" | head -n 1)
    if [ -n "$first" ]; then
        export UNRAVEL_NVRTC="$first"
        export LD_LIBRARY_PATH="$(dirname "$first"):${LD_LIBRARY_PATH:-}"
    fi
fi
echo "UNRAVEL_NVRTC=${UNRAVEL_NVRTC:-<unset>}"

# Each test executable: cuda_compile, cuda_ops, cuda_training_ops (the tensor crate's ops
# against the CPU) and cuda_resnet_train (three SGD steps of small ResNets against the CPU).
# Four executables at 50 s each (200 s at most) and the two benchmarks at 120 s each keep the
# whole check under 8 minutes.
declare -A test_status
for test in "$bundle"/tests/*; do
    name=$(basename "$test")
    echo "== $name"
    if timeout 50 "$test" --test-threads=1 --nocapture 2>&1 | tee "$out/$name.log"; then
        test_status[$name]=passed
    else
        test_status[$name]=FAILED
        status=1
    fi
done

echo "== benchmarks"
timeout 120 "$bundle/cuda_bench" | tee "$out/unravel.jsonl" || status=1
timeout 120 python3 scripts/gpu_bench_torch.py | tee "$out/torch.jsonl" || status=1

echo
echo "== tests"
for name in "${!test_status[@]}"; do
    printf '%-24s %s\n' "$name" "${test_status[$name]}"
done | sort
echo
echo "== table (GFLOP/s, same run; ResNet-50 training images/s is not measured yet: \`unravel train --device cuda\` exists but is not in the bundle)"
python3 scripts/gpu_table.py "$out/unravel.jsonl" "$out/torch.jsonl"
exit $status
