#!/usr/bin/env bash
# A short coverage-guided run of every fuzz target on the stable toolchain, without cargo-fuzz
# (`.ci/run` calls it after `cargo test`). It builds the targets with plain cargo and the
# sanitizer-coverage flags `cargo fuzz build -s none` passes (see sancov-rustc.sh), replays every
# input in regressions/<target>/, then fuzzes each target for FUZZ_SECONDS (default 20) from its
# seed corpus and those inputs, as many targets at once as there are cores. Any crash, timeout
# or out-of-memory fails the script; the input is kept in fuzz/target/fuzz-ci/artifacts/<target>/.
#
#   fuzz/run-ci.sh                         # all targets, 20 s each
#   FUZZ_SECONDS=300 fuzz/run-ci.sh query  # one target, longer
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-20}
work=${FUZZ_WORK:-$PWD/target/fuzz-ci}
jobs=${FUZZ_JOBS:-$(nproc)}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(forward_framer forward_message render_value otlp_decode query)
fi

# The wrapper adds the coverage flags to the crates the targets exercise; its flags are invisible
# to cargo's fingerprints, hence a target directory of its own. The ci-fuzz profile (Cargo.toml)
# compiles the rest of the service's dependency tree quickly.
export RUSTC_WRAPPER=$PWD/sancov-rustc.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/ci}
unset RUSTFLAGS

echo "== fuzz: building ${targets[*]} ($(rustc --version))"
build_args=()
for target in "${targets[@]}"; do build_args+=(--bin "$target"); done
start=$SECONDS
cargo build --profile ci-fuzz --quiet "${build_args[@]}"
echo "   built in $((SECONDS - start)) s"
bin=$CARGO_TARGET_DIR/ci-fuzz

# Replays regressions/<target>/, then fuzzes; the outcome goes to $work/<target>.result.
run_target() {
    local target=$1 start=$SECONDS
    local artifacts=$work/artifacts/$target corpus=$work/corpus/$target log=$work/$target.log
    mkdir -p "$artifacts" "$corpus"
    # New inputs go to the first corpus directory, a scratch one, so the seeds stay untouched.
    local dirs=("$corpus" "corpus/$target")
    local flags=(-rss_limit_mb=2048 -timeout=10 "-artifact_prefix=$artifacts/")
    if [ -d "regressions/$target" ]; then
        if ! "$bin/$target" "${flags[@]}" "regressions/$target"/* >"$log" 2>&1; then
            echo "FAILED on an input of regressions/$target/ (log: $log)" >"$work/$target.result"
            return
        fi
        dirs+=("regressions/$target")
    fi
    if ! "$bin/$target" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        "${dirs[@]}" >"$log" 2>&1; then
        echo "FAILED (log: $log)" >"$work/$target.result"
        return
    fi
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    echo "ok: ${runs:-?} runs, $cov, $((SECONDS - start)) s" >"$work/$target.result"
}

echo "== fuzz: ${seconds} s per target, $jobs at a time"
mkdir -p "$work"
start=$SECONDS
running=0
for target in "${targets[@]}"; do
    rm -f "$work/$target.result"
    run_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

failed=()
for target in "${targets[@]}"; do
    result=$(cat "$work/$target.result" 2>/dev/null || echo "FAILED (no result)")
    echo "   $target: $result"
    if [[ $result != ok:* ]]; then
        failed+=("$target")
        tail -n 40 "$work/$target.log" || true
    fi
done
echo "   fuzzed in $((SECONDS - start)) s"

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}; the inputs are in $work/artifacts/. See fuzz/README.md:" >&2
    echo "      a crash becomes a file in fuzz/regressions/<target>/ and a regression test." >&2
    exit 1
fi
echo "== fuzz: every target ran clean"
