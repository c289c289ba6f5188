#!/usr/bin/env bash
# Runs every GPU test and benchmark, in under 8 minutes, on a machine with an NVIDIA GPU, its
# driver, and PyTorch (for NVRTC and the baselines) but no Rust: it uses the executables that
# scripts/build-gpu-bundle.sh built into target/gpu-bundle/. Prints a table last, all figures
# from this run with TF32 off on both sides: unravel's GEMM and convolution GFLOP/s next to
# cuBLAS/cuDNN's (through PyTorch), and ResNet-50 training images/s (batch 64, 224x224, SGD
# with momentum, synthetic data) next to PyTorch's.
#
# Time: every step runs under `timeout`, capped by what is left of a 450 s budget, so the whole
# script ends before 8 minutes even when steps hang (a timed-out step counts as a failure).
#
# NVRTC: UNRAVEL_NVRTC if set; otherwise the libnvrtc that ships with PyTorch's CUDA wheels (or
# the toolkit's), found below. See docs/cuda.md for the driver/NVRTC version rule.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-target/gpu-bundle}
out=${OUT:-target/gpu-check}
mkdir -p "$out"
status=0

# Seconds after the start by which every step has ended; the table follows.
deadline=450
# Runs "$@" under `timeout` for min(CAP, seconds left before the deadline); refuses (exit 124,
# like a timeout) when fewer than 10 s are left.
bounded() {
    local cap=$1 left=$((deadline - SECONDS))
    shift
    local limit=$((cap < left ? cap : left))
    if [ "$limit" -lt 10 ]; then
        echo "skipped, the time budget is spent: $*" >&2
        return 124
    fi
    timeout "$limit" "$@"
}

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

# Each test executable: cuda_compile, cuda_ops, cuda_nn_ops, cuda_training_ops,
# cuda_batch_norm_relu (the tensor crate's ops against the CPU, f32 and f64) and
# cuda_resnet_train (three SGD steps of small ResNets against the CPU, f32 and f64). Caps: six
# executables at 30 s (180 s), the op benchmarks at 70 + 50 s, ResNet-50 at 90 + 60 s: 450 s in
# all, the deadline.
declare -A test_status
for test in "$bundle"/tests/*; do
    name=$(basename "$test")
    echo "== $name"
    if bounded 30 "$test" --test-threads=1 --nocapture 2>&1 | tee "$out/$name.log"; then
        test_status[$name]=passed
    else
        test_status[$name]=FAILED
        status=1
    fi
done

echo "== benchmarks: GEMM and convolution"
bounded 70 "$bundle/cuda_bench" | tee "$out/unravel.jsonl" || status=1
bounded 50 python3 scripts/gpu_bench_torch.py | tee "$out/torch.jsonl" || status=1

# ResNet-50 training, both sides the same: batch 64, 3x224x224, 1000 classes, SGD (lr 0.01,
# momentum 0.9, weight decay 1e-4), NET_WARMUP untimed steps (NVRTC compilation, cuDNN's
# autotuning, allocation), then NET_STEPS timed steps, each ending with a synchronisation.
net_warmup=${NET_WARMUP:-2}
net_steps=${NET_STEPS:-5}
echo "== benchmarks: ResNet-50 training, $net_warmup warm-up + $net_steps timed steps"
bounded 90 "$bundle/unravel" bench net --device cuda --arch resnet50 --input 64x3x224x224 \
    --classes 1000 --warmup "$net_warmup" --steps "$net_steps" | tee -a "$out/unravel.jsonl" || status=1
bounded 60 python3 scripts/gpu_bench_torch_net.py --batch 64 --size 224 --classes 1000 \
    --warmup "$net_warmup" --steps "$net_steps" | tee -a "$out/torch.jsonl" || status=1

echo
echo "== tests"
for name in "${!test_status[@]}"; do
    printf '%-24s %s\n' "$name" "${test_status[$name]}"
done | sort
echo
echo "== table (same run, TF32 off; ratio = unravel / PyTorch; $SECONDS s so far)"
python3 scripts/gpu_table.py "$out/unravel.jsonl" "$out/torch.jsonl"
exit $status
