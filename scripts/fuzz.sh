#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 600), one after the other,
# each continuing its corpus (fuzz/corpus/<target>, seeded from fuzz/seeds/<target>), then
# prints a table of target → executions → crashes taken from libFuzzer's final stats.
#
#   scripts/fuzz.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it
# pass the nightly sanitizer flags. Builds in release with debug assertions and overflow checks
# (cargo-fuzz's default), so an arithmetic overflow is a crash too. Runs at the lowest CPU
# priority. Logs go to fuzz/logs/<target>.log, crash inputs to fuzz/artifacts/<target>/ (both
# ignored by git). A "crash" is anything libFuzzer stops on: a panic, a failed assertion, an
# AddressSanitizer report, a timeout, more than 2 GiB of memory. libFuzzer stops at the first,
# so a target shows 0 or 1; rerun after fixing. Exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS]   (a positive whole number, default 600)" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

# Per-target libFuzzer options: inputs up to 8 KiB hold two whole CIFAR records and the
# checkpoint seeds (libFuzzer's default limit is 4 KiB).
options_for() {
    case "$1" in
        cifar | safetensors) echo "-max_len=8192" ;;
        *) echo "" ;;
    esac
}

targets=$(cargo fuzz list)
nice -n 19 cargo fuzz build
mkdir -p logs
rows=()
failed=0
for target in $targets; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="logs/$target.log"
    before=$(find "artifacts/$target" -type f | wc -l)
    echo "fuzzing $target for $seconds s (log: fuzz/$log)" >&2
    status=0
    # shellcheck disable=SC2046 # the options are separate words
    nice -n 19 cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 $(options_for "$target") \
        >"$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    after=$(find "artifacts/$target" -type f | wc -l)
    crashes=$((after - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="? (exit $status, see the log)"
    fi
    if [ "$crashes" != 0 ]; then
        failed=1
    fi
    rows+=("| \`$target\` | ${executions:-?} | ${rate:-?} | ${rss:-?} | $crashes |")
done

echo
echo "$seconds s per target"
echo
echo "| target | executions | exec/s | peak RSS (MB) | crashes |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
exit "$failed"
