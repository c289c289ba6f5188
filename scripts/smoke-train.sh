#!/usr/bin/env bash
# End-to-end smoke test on the real Fashion-MNIST: train a narrow ResNet-20 for one epoch,
# stop, resume from the checkpoint for the second epoch, require ≥ 80% test accuracy, and
# evaluate the saved weights. A few minutes on 2 cores in release.
#
# Data: --data DIR / $UNRAVEL_DATA / /usr/share/datasets/fashion-mnist/
# (`apt-get install -y dataset-fashion-mnist`).
set -euo pipefail
cd "$(dirname "$0")/.."

threads="${SMOKE_THREADS:-2}"
minimum="${SMOKE_MIN_ACCURACY:-0.80}"
cargo build --release --quiet --bin unravel
unravel=target/release/unravel
run_dir="$(mktemp -d)/smoke-run"
trap 'rm -rf "$(dirname "$run_dir")"' EXIT

start=$(date +%s)
# 10 000 training images, 2 000 test images, widths 8-16-32, batch 32, cosine from 0.05.
"$unravel" train --arch resnet20 --widths 8,16,32 --dataset fashion-mnist \
    --epochs 2 --batch 32 --lr 0.05 --schedule cosine --no-augment \
    --limit-train 10000 --limit-test 2000 --seed 0 --threads "$threads" \
    --out "$run_dir" --stop-after-epochs 1 --json "$@"
test -f "$run_dir/checkpoint.safetensors"
echo "smoke: stopped after epoch 1; resuming from $run_dir/checkpoint.safetensors"
result=$("$unravel" train --resume "$run_dir" --threads "$threads" --json "$@" | tail -n 1)
echo "$result"
eval_result=$("$unravel" eval --weights "$run_dir/model.safetensors" --threads "$threads" --json "$@" | tail -n 1)
echo "$eval_result"
seconds=$(( $(date +%s) - start ))

field() { # field NAME JSON: a number or boolean of a one-line JSON object
    printf '%s' "$2" | grep -o "\"$1\":[^,}]*" | head -n 1 | cut -d: -f2
}
accuracy=$(field test_accuracy "$result")
eval_accuracy=$(field test_accuracy "$eval_result")
if [ "$(field epochs "$result")" != 2 ] || [ "$(field interrupted "$result")" != false ]; then
    echo "smoke: FAILED: the resumed run did not finish its 2 epochs" >&2
    exit 1
fi
if [ "$accuracy" != "$eval_accuracy" ]; then
    echo "smoke: FAILED: eval of model.safetensors gives $eval_accuracy, training said $accuracy" >&2
    exit 1
fi
if awk -v a="$accuracy" -v m="$minimum" 'BEGIN { exit !(a >= m) }'; then
    echo "smoke: passed: test accuracy $accuracy (minimum $minimum) in $seconds s"
else
    echo "smoke: FAILED: test accuracy $accuracy is below $minimum ($seconds s)" >&2
    exit 1
fi
