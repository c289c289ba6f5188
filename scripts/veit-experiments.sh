#!/usr/bin/env bash
# Veit, Wilber, Belongie 2016 ("Residual Networks Behave Like Ensembles of Relatively Shallow
# Networks") on Fashion-MNIST, end to end, with the default budget of about an hour on two
# cores:
#
#   1. train a pre-activation ResNet-56 (27 blocks; the paper: ResNet-110, 54 blocks),
#   2. train a plain-20 with the same recipe, for the lesion comparison,
#   3. train the same ResNet-56 keeping the residual branch of only 12 of its 27 blocks per
#      mini-batch (§5; the paper keeps 23 of 54, the same share),
#   4. `unravel experiment lesion` (Fig. 3, 5a, 5b) and `unravel experiment paths` (Fig. 6).
#
#   scripts/veit-experiments.sh [OUT_DIR]        (default experiments/veit)
#
# Environment: EPOCHS (default 3), WIDTHS (default 8,16,32), ARCH (default preact-resnet56;
# preact-resnet110 is the paper's), ACTIVE (default 12), THREADS (default: all cores),
# UNRAVEL_BIN (an already built `unravel` binary; default: build target/release/unravel).
# A finished training is skipped when the script runs again, so it can be stopped and rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-experiments/veit}"
arch="${ARCH:-preact-resnet56}"
widths="${WIDTHS:-8,16,32}"
epochs="${EPOCHS:-3}"
active="${ACTIVE:-12}"
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")

if [ -n "${UNRAVEL_BIN:-}" ]; then
    unravel="$UNRAVEL_BIN"
else
    cargo build --release --bin unravel
    unravel=target/release/unravel
fi
mkdir -p "$out"

train() { # run_dir, then `unravel train` flags
    local run_dir="$1"
    shift
    if [ -e "$run_dir/model.safetensors" ]; then
        echo "$run_dir: already trained"
    else
        local started=$SECONDS
        "$unravel" train --widths "$widths" --epochs "$epochs" --out "$run_dir" --json \
            "${threads[@]}" "$@" | tail -n 1 | tee "$run_dir.json"
        echo "$run_dir: $((SECONDS - started)) s"
    fi
}

train "$out/residual" --arch "$arch"
train "$out/plain" --arch plain20
train "$out/residual-active$active" --arch "$arch" --active-blocks "$active"

started=$SECONDS
"$unravel" experiment lesion --weights "$out/residual/model.safetensors" \
    --plain-weights "$out/plain/model.safetensors" --test-samples 2000 --draws 3 \
    --swap-draws 2 --out "$out/lesion" --json | tee "$out/lesion.log"
echo "lesion: $((SECONDS - started)) s"

started=$SECONDS
"$unravel" experiment paths --weights "$out/residual/model.safetensors" --samples 5 \
    --out "$out/paths" --json | tee "$out/paths.log"
"$unravel" experiment paths --weights "$out/residual/model.safetensors" --samples 5 \
    --bn-mode train --out "$out/paths-train-bn" --json | tee "$out/paths-train-bn.log"
echo "paths: $((SECONDS - started)) s"
echo "total: $SECONDS s"
echo "results in $out: lesion/, paths/, paths-train-bn/, and the three runs' *.json"
