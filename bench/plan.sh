#!/usr/bin/env bash
# Times `dockwright plan` on the example pipeline as a whole process (exec → settings →
# plugins from the warm compiled cache → requirements → plan → exit), release build.
# Goal (issue 4): 20 ms or less with a warm plugin cache. Also a pipeline with only
# `requirements:` against `dockwright --version` (issue 14: ≤ 1.5×, only the plugin a setting
# routes to is loaded). Prints medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${BENCH_RUNS:-30}"

cargo build --locked --release -p dockwright >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/dockwright"
example="$root/examples/training/dockwright.yaml"
"$bin" plan -f "$example" >/dev/null   # warms the compiled-plugin and context-hash caches
only_requirements="$(mktemp -d)"
trap 'rm -rf "$only_requirements"' EXIT
printf 'name: only-requirements\nsettings:\n  docker:\n    requirements: [numpy]\n    allow_including_files_in_images: false\n' \
    >"$only_requirements/dockwright.yaml"
"$bin" plan -f "$only_requirements/dockwright.yaml" >/dev/null

command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || true; }
if command -v hyperfine >/dev/null; then
    out="$(mktemp)"
    hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$out" \
        "$bin --version" "$bin plan -f $only_requirements/dockwright.yaml" \
        "$bin plan -f $example" "$bin plan --json -f $example"
    python3 - "$out" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    cpu = (r["user"] + r["system"]) * 1000
    print(f"{r['command'].split('dockwright', 1)[1]:<60} median {r['median'] * 1000:7.2f} ms  min {r['min'] * 1000:7.2f} ms  cpu {cpu:6.2f} ms")
ratio = results[1]["median"] / results[0]["median"]
verdict = "meets" if ratio <= 1.5 else "misses"
print(f"requirements-only plan / --version: {ratio:.2f}x ({verdict} ≤ 1.5x)")
PY
    rm -f "$out"
else
    python3 - "$bin" "$example" "$runs" <<'PY'
import statistics, subprocess, sys, time
bin, example, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
for args in ([bin, "--version"], [bin, "plan", "-f", example]):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    print(f"{' '.join(args[1:]):<40} median {statistics.median(times):7.2f} ms  min {min(times):7.2f} ms")
PY
fi
