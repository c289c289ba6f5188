#!/usr/bin/env bash
# The README's main command: train the default model (ResNet-20, He et al. 2015 §4.2's
# recipe) on the real Fashion-MNIST and evaluate it, end to end, on a fresh Debian machine
# with Rust. Installs the dataset package when the data is missing (needs root or sudo).
#
#   scripts/train-fashion-mnist.sh [extra `unravel train` flags, e.g. --epochs 5 --threads 2]
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${UNRAVEL_DATA:-/usr/share/datasets/fashion-mnist}"
if [ ! -e "$data_dir/train-images-idx3-ubyte.gz" ] && [ ! -e "$data_dir/train-images-idx3-ubyte" ]; then
    echo "Fashion-MNIST not found in $data_dir; installing the Debian package dataset-fashion-mnist"
    sudo_if_needed=""
    [ "$(id -u)" -ne 0 ] && sudo_if_needed="sudo"
    $sudo_if_needed apt-get update
    $sudo_if_needed apt-get install -y dataset-fashion-mnist
fi

cargo build --release --bin unravel
run_dir="runs/resnet20-fashion-mnist-$(date -u +%Y%m%dT%H%M%SZ)"
target/release/unravel train --arch resnet20 --dataset fashion-mnist --out "$run_dir" "$@"
target/release/unravel eval --weights "$run_dir/model.safetensors"
echo "metrics: $run_dir/metrics.csv; weights: $run_dir/model.safetensors"
