#!/usr/bin/env bash
# No-op build: `dockwright build` of the example pipeline when its image is already built
# (the build key matches an image on the engine: no context is sent, nothing is built)
# against `docker build` of the very same context and generated Dockerfile, fully cached
# (the classic builder, as Dockwright uses; every step a cache hit). Goal (issue 5): the
# no-op Dockwright build takes a fifth of docker's time or less.
#
# usage: bench/noop-build.sh [RUNS]       (default 10 runs each, after a warm-up run)
# Uses hyperfine when installed (Debian package `hyperfine`), else a plain loop; prints the
# two medians side by side. Needs what examples/training/run.sh needs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${1:-10}"
example="$root/examples/training"
pipeline="$example/dockwright.yaml"

cargo build --release --locked --quiet -p dockwright
dockwright="${CARGO_TARGET_DIR:-$root/target}/release/dockwright"

# The example installs from a wheelhouse served on 127.0.0.1:8765 (see run.sh); needed only
# for the first build of its image.
wheelhouse="$root/target/example-wheelhouse"
python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$wheelhouse" -r "$example/requirements.txt"
python3 -m http.server 8765 --bind 127.0.0.1 --directory "$wheelhouse" >/dev/null 2>&1 &
server=$!
work="$(mktemp -d)"
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8765/")' 2>/dev/null && break
    sleep 0.1
done

echo "== building the example once (built or reused)"
"$dockwright" build -f "$pipeline"

# The same context docker gets: the context root's files plus the generated files
# (Dockerfile, requirement files), with the build options of the plan.
"$dockwright" plan --json -f "$pipeline" >"$work/plan.json"
docker_args_file="$work/docker-args"
python3 - "$work/plan.json" "$work/context" "$docker_args_file" <<'EOF'
import json, os, shutil, sys
plan_path, context, args_path = sys.argv[1:]
image = json.load(open(plan_path))["images"][-1]
build = image["build"]
if build["context_root"]:
    shutil.copytree(build["context_root"], context, symlinks=True)
else:
    os.makedirs(context)
# Dockwright filters the context root by its .dockerignore, then adds the generated files;
# docker filters everything, so the copy's .dockerignore lets the generated files through.
ignore = build["dockerignore"] or os.path.join(build["context_root"] or context, ".dockerignore")
rules = open(ignore).read() if os.path.exists(ignore) else ""
with open(os.path.join(context, ".dockerignore"), "w") as f:
    f.write(rules + "\n!.dockwright\n!.dockwright/**\n")
for path, text in build["extra_files"].items():
    target = os.path.join(context, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as f:
        f.write(text)
args = ["--file", os.path.join(context, build["dockerfile_path"])]
for name, value in build["build_args"].items():
    args += ["--build-arg", f"{name}={value}"]
for name, value in build["labels"].items():
    args += ["--label", f"{name}={value}"]
network = build["options"].get("network_mode")
if network:
    args += ["--network", network]
with open(args_path, "w") as f:
    f.write("\n".join(args) + "\n")
EOF
mapfile -t docker_args <"$docker_args_file"
docker_build=(docker build --quiet --tag dockwright-bench/noop:docker "${docker_args[@]}" "$work/context")

echo "== docker build of the same context, twice (the second fully cached)"
DOCKER_BUILDKIT=0 "${docker_build[@]}" >/dev/null
DOCKER_BUILDKIT=0 "${docker_build[@]}" >/dev/null

quote() { printf '%q ' "$@"; }
dockwright_cmd="$(quote "$dockwright" build -f "$pipeline")"
docker_cmd="DOCKER_BUILDKIT=0 $(quote "${docker_build[@]}")"

echo "== timing: $runs runs each"
if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/times.json" \
        --command-name "dockwright build (no-op)" "$dockwright_cmd" \
        --command-name "docker build (fully cached)" "$docker_cmd" >&2
    python3 - "$work/times.json" >"$work/medians" <<'EOF'
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    print(result["median"])
EOF
else
    median_of() {
        local times=() start
        bash -c "$1" >/dev/null 2>&1 # warm-up
        for _ in $(seq "$runs"); do
            start=$(date +%s%N)
            bash -c "$1" >/dev/null 2>&1
            times+=($(($(date +%s%N) - start)))
        done
        printf '%s\n' "${times[@]}" | sort -n | python3 -c 'import statistics, sys; print(statistics.median(int(l) for l in sys.stdin) / 1e9)'
    }
    { median_of "$dockwright_cmd"; median_of "$docker_cmd"; } >"$work/medians"
fi
docker image rm dockwright-bench/noop:docker >/dev/null 2>&1 || true

mapfile -t medians <"$work/medians"
python3 - "${medians[0]}" "${medians[1]}" <<'EOF'
import sys
ours, docker = (float(x) for x in sys.argv[1:])
print(f"{'':32}{'median':>10}")
print(f"{'dockwright build (no-op)':32}{ours * 1000:>8.0f} ms")
print(f"{'docker build (fully cached)':32}{docker * 1000:>8.0f} ms")
ratio = ours / docker
verdict = "meets" if ratio <= 0.2 else "misses"
print(f"dockwright / docker = {ratio:.3f} ({verdict} the goal of 0.2 or less)")
EOF
