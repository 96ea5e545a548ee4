#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a fixed number of executions
# and prints a table: target, executions, crashes, seconds. Not part of CI (too slow); the
# seed corpora and every crash input found run in CI through tests/fuzz_seeds.rs.
#
#   bash scripts/fuzz.sh                  # every target, 1,000,000 executions each
#   FUZZ_RUNS=100000 bash scripts/fuzz.sh settings dockerignore
#
# Environment:
#   FUZZ_RUNS       executions per target (default 1000000)
#   FUZZ_PARALLEL   targets run at once (default 1)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (default 10)
#   FUZZ_MAX_LEN    largest input in bytes (default 8192)
#   FUZZ_SANITIZER  cargo-fuzz's -s: none (default, fastest; the code is safe Rust) or address
#   FUZZ_BUILD=0    run the targets as last built, without `cargo fuzz build`
#
# cargo-fuzz needs nightly-only rustc flags; on a stable toolchain RUSTC_BOOTSTRAP=1 allows
# them. New corpus entries go to fuzz/corpus/<target> (ignored by git), crash inputs to
# fuzz/artifacts/<target>: save each as fuzz/regressions/<target>/<name> with a test in
# tests/fuzz_seeds.rs once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${FUZZ_RUNS:-1000000}
parallel=${FUZZ_PARALLEL:-1}
timeout=${FUZZ_TIMEOUT:-10}
max_len=${FUZZ_MAX_LEN:-8192}
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

fuzz_flags=(-s "$sanitizer" --debug-assertions)
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Targets of the pure planning crate need no wasmtime: built alone, without the `host` feature
# (fuzz/Cargo.toml), when they are all that was asked for.
pure_only=1
for target in "${targets[@]}"; do
    case $target in settings | requirement_lines | dockerignore) ;; *) pure_only=0 ;; esac
done
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
    echo "building ${#targets[@]} target(s)" >&2
    if [ "$pure_only" = 1 ]; then
        for target in "${targets[@]}"; do
            cargo fuzz build "${fuzz_flags[@]}" --no-default-features "$target" >&2
        done
    else
        cargo fuzz build "${fuzz_flags[@]}" >&2
    fi
fi

bin_dir=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
logs=fuzz/target/logs
mkdir -p "$logs"

# One target: libFuzzer over its corpus and seeds; stops at the first crash or hang.
run_target() {
    local target=$1 log="$logs/$1.log" start end status
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    local before
    before=$(find "fuzz/artifacts/$target" -type f | wc -l)
    start=$(date +%s)
    status=0
    # The binary cargo-fuzz built, run directly: parallel `cargo fuzz run`s would queue on
    # cargo's locks.
    "$bin_dir/$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -artifact_prefix="fuzz/artifacts/$target/" -runs="$runs" -timeout="$timeout" -max_len="$max_len" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    end=$(date +%s)
    local execs crashes
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(( $(find "fuzz/artifacts/$target" -type f | wc -l) - before ))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="exit $status"
    fi
    printf '%s\t%s\t%s\t%s\n' "$target" "${execs:-?}" "$crashes" "$((end - start))" >"$logs/$target.row"
    echo "$target: ${execs:-?} executions, crashes: $crashes, $((end - start)) s (log: $log)" >&2
}

running=0
for target in "${targets[@]}"; do
    run_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

{
    printf 'target\texecutions\tcrashes\tseconds\n'
    for target in "${targets[@]}"; do cat "$logs/$target.row"; done
} | column -t -s $'\t'
