#!/usr/bin/env bash
# A project of 100,000 small files (issue 14, "Large projects"), release build, medians from
# hyperfine in one run:
#   - warm `dockwright plan` of it (goal ≤ 150 ms) and cold (no hash cache);
#   - a no-op `dockwright build` of it (its image already built; goal ≤ 200 ms);
#   - `plan` of an unrelated three-line pipeline sharing the same cache directory (the big
#     project's hashes must not be read for it);
#   - peak RSS of the warm plan (goal ≤ 64 MiB) and whether it wrote the hash cache;
#   - for scale, the warm plan with the context walk on one thread (RAYON_NUM_THREADS=1), and
#     `find -printf` reading the same size, mtime and inode of every file.
# usage: bench/large-project.sh [FILES]     (default 100000; BENCH_RUNS=20)
# The project and its cache live in target/bench-large (kept between runs; the files are made
# once). Needs the base image (scripts/setup.sh makes it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
files="${1:-100000}"
runs="${BENCH_RUNS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --locked --release -p dockwright >&2
bin="$CARGO_TARGET_DIR/release/dockwright"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null

work="$root/target/bench-large"
project="$work/project-$files"
small="$work/small"
export DOCKWRIGHT_CACHE_DIR="$work/cache"
export DOCKWRIGHT_DATA_DIR="$work/data"
base="dockwright-base/python:bookworm"
docker image inspect "$base" >/dev/null 2>&1 || bash scripts/base-image.sh bookworm >&2

if [ ! -e "$project/.complete" ]; then
    echo "== making $files files in $project" >&2
    rm -rf "$project"
    python3 - "$project" "$files" <<'PY'
import os, sys
project, files = sys.argv[1], int(sys.argv[2])
per_dir = 100
for i in range(files):
    d = os.path.join(project, "src", f"pkg{i // per_dir:04d}")
    if i % per_dir == 0:
        os.makedirs(d)
    with open(os.path.join(d, f"mod{i % per_dir:03d}.py"), "w") as f:
        f.write(f"VALUE = {i}\n")
PY
    cat >"$project/dockwright.yaml" <<YAML
name: large
settings:
  docker:
    parent_image: $base
    requirements: []
    environment: {BENCH: "large"}
steps:
  - name: main
    command: [python3, -c, "print('ok')"]
YAML
    touch "$project/.complete"
fi
mkdir -p "$small"
cat >"$small/dockwright.yaml" <<YAML
name: small
settings: {docker: {parent_image: $base, environment: {A: "1"}}}
steps: [{name: main, command: [python3, -c, "print(1)"]}]
YAML

echo "== first plan (cold cache) and build of the large project" >&2
rm -rf "$DOCKWRIGHT_CACHE_DIR"
"$bin" plan -f "$project/dockwright.yaml" >/dev/null
"$bin" build -f "$project/dockwright.yaml" >&2
"$bin" plan -f "$small/dockwright.yaml" >/dev/null

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
hyperfine -N --warmup 2 --runs "$runs" --style none --export-json "$out" \
    --command-name "plan (warm), $files files" "$bin plan -f $project/dockwright.yaml" \
    --command-name "build (no-op), $files files" "$bin build -f $project/dockwright.yaml" \
    --command-name "plan of an unrelated small pipeline" "$bin plan -f $small/dockwright.yaml" \
    --command-name "dockwright --version" "$bin --version" \
    --command-name "plan (warm), walk on one thread" "env RAYON_NUM_THREADS=1 $bin plan -f $project/dockwright.yaml" \
    --command-name "find: one stat per file (the floor)" "find $project -printf '%s %T@ %i\n'" >&2
hyperfine -N --runs "$(( runs < 5 ? runs : 5 ))" --style none --export-json "$out.cold" \
    --prepare "rm -rf $DOCKWRIGHT_CACHE_DIR/context-hashes $DOCKWRIGHT_CACHE_DIR/context-hashes.json" \
    --command-name "plan (cold hash cache), $files files" "$bin plan -f $project/dockwright.yaml" >&2
"$bin" plan -f "$project/dockwright.yaml" >/dev/null

python3 - "$out" "$out.cold" "$bin" "$project/dockwright.yaml" "$DOCKWRIGHT_CACHE_DIR" <<'PY'
import json, os, resource, subprocess, sys
results = []
for path in sys.argv[1:3]:
    results += json.load(open(path))["results"]
for r in results:
    print(f"{r['command']:<48} median {r['median'] * 1000:8.1f} ms  min {r['min'] * 1000:8.1f} ms")
os.remove(sys.argv[2])
bin, pipeline, cache = sys.argv[3:6]
def newest_mtime():
    stamps = [os.stat(os.path.join(d, f)).st_mtime_ns
              for d, _, fs in os.walk(cache) for f in fs if "context-hashes" in os.path.join(d, f)]
    return max(stamps, default=0)
before = newest_mtime()
subprocess.run([bin, "plan", "-f", pipeline], stdout=subprocess.DEVNULL, check=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{'plan (warm) peak RSS':<48} {peak:8.1f} MiB")
print(f"{'plan (warm) rewrote the hash cache':<48} {'yes' if newest_mtime() != before else 'no'}")
PY
