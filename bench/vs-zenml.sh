#!/usr/bin/env bash
# Dockwright's generated image against the Dockerfile ZenML 0.98 writes for the same settings
# (issue 14, "Images that build faster and smaller"), through the same engine, offline:
#   - cold build time (nothing of the image in the engine's caches), uv and pip;
#   - the size of the cold images;
#   - rebuild after adding one package (`tabulate`) to `requirements`.
# Goals: cold ≤ 0.6× ZenML's time with uv and ≤ 0.8× with pip; image ≥ 150 MB smaller;
# rebuild ≤ 0.3× ZenML's time.
#
# The settings: a ~10-package ML requirements file (31 packages with their dependencies), one
# apt package, the package index in `environment` and `no-index` in the installer args (a
# wheelhouse prepared once with `pip download` into target/bench-zenml/wheels, served on
# loopback by Python's http.server with PyPI's caching headers; the builds use the host
# network), and the project's files included. Both
# Dockerfiles build FROM the same parent, a venv on Debian's python3 as in ZenML's own parent
# image (ZenML's `RUN pip install uv` and bare `uv pip install` need an active venv).
# ZenML's Dockerfile is written as its builder writes it (reference: ZenML 0.98
# `_generate_zenml_pipeline_dockerfile`) and built with the classic builder, as ZenML's
# docker-py builder does. Dockwright builds with `dockwright build` on the same settings: the
# variant `dockwright` with its default, the classic builder; `dockwright-buildkit` adds
# `build_options: {version: 2}` (BuildKit); `dockwright-cache` adds
# `python_package_installer_cache_mount` (BuildKit, the installer's cache kept across builds).
#
# Runs are interleaved (every tool once per run, in rotating order). Every tool of every run
# is served the wheelhouse on a port of its own, so that its first build is cold in every
# cache (layers, BuildKit cache mounts: the index URL is in the first ENV instruction of both
# Dockerfiles; two BuildKit variants would otherwise share their setup layer), and its
# rebuild finds exactly its own first build.
#
# usage: bench/vs-zenml.sh [RUNS]          (default 3)
#        bench/vs-zenml.sh --summary       (the medians of the last runs' results again)
# env:   BENCH_INSTALLERS  (default "uv pip")
#        BENCH_TOOLS       (default "zenml dockwright dockwright-buildkit dockwright-cache")
# Needs the engine and the base image (scripts/base-image.sh); builds the debug host (the
# host's own time is milliseconds against builds of tens of seconds).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${1:-3}"
installers="${BENCH_INSTALLERS:-uv pip}"
tools="${BENCH_TOOLS:-zenml dockwright dockwright-buildkit dockwright-cache}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
work="$CARGO_TARGET_DIR/bench-zenml"
# One results file per set of installers, so that two sets can run side by side.
results="$work/results-${installers// /-}.tsv"

# Medians per tool, installer and phase, over every results file.
summary() {
    cat "$work"/results-*.tsv >"$work/all-results.tsv"
    python3 - "$work/all-results.tsv" <<'EOF'
import collections, statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
times = collections.defaultdict(list)
sizes = collections.defaultdict(list)
for tool, installer, run, phase, took, size in rows:
    times[tool, installer, phase].append(float(took))
    if phase == "cold":
        sizes[tool, installer].append(int(size))
tools = list(dict.fromkeys(r[0] for r in rows))
installers = list(dict.fromkeys(r[1] for r in rows))
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"{'medians':<24}" + "".join(f"{t:>18}" for t in tools))
for installer in installers:
    for phase in ("cold", "rebuild"):
        cells = [f"{med(times[t, installer, phase]):>16.1f} s" for t in tools]
        print(f"{installer + ' ' + phase:<24}" + "".join(cells))
    cells = [f"{med(sizes[t, installer]) / 1e6:>15.0f} MB" for t in tools]
    print(f"{installer + ' image size':<24}" + "".join(cells))
goals = {("uv", "cold"): 0.6, ("pip", "cold"): 0.8, ("uv", "rebuild"): 0.3, ("pip", "rebuild"): 0.3}
print()
for tool in tools:
    if tool == "zenml":
        continue
    for installer in installers:
        for phase in ("cold", "rebuild"):
            ratio = med(times[tool, installer, phase]) / med(times["zenml", installer, phase])
            if ratio != ratio:
                continue
            goal = goals[installer, phase]
            verdict = "meets" if ratio <= goal else "misses"
            print(f"{tool} / zenml, {installer} {phase}: {ratio:.2f}x ({verdict} ≤ {goal}x)")
        smaller = (med(sizes["zenml", installer]) - med(sizes[tool, installer])) / 1e6
        verdict = "meets" if smaller >= 150 else "misses"
        print(f"{tool}, {installer} image: {smaller:.0f} MB smaller than zenml's ({verdict} ≥ 150 MB)")
EOF
}
if [ "$runs" = --summary ]; then
    summary
    exit
fi
cargo build --locked --quiet --workspace --bin dockwright
dockwright="$CARGO_TARGET_DIR/debug/dockwright"

wheels="$work/wheels"
mkdir -p "$work" "$wheels"
export DOCKWRIGHT_CACHE_DIR="$work/cache" DOCKWRIGHT_DATA_DIR="$work/data"

# The ML requirements (10 packages; their dependencies make 31) and the one added later.
requirements=(numpy pandas scipy scikit-learn matplotlib requests pyyaml tqdm click pydantic)
added=tabulate
python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$wheels" "${requirements[@]}" "$added" uv

base="dockwright-base/python:bookworm"
parent="dockwright-bench/venv-python:bookworm"
docker image inspect "$base" >/dev/null 2>&1 || bash scripts/base-image.sh "$base" >&2
if ! docker image inspect "$parent" >/dev/null 2>&1; then
    printf 'FROM %s\nRUN python3 -m venv /opt/venv\nENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH\n' "$base" |
        DOCKER_BUILDKIT=0 docker build --quiet --tag "$parent" - >/dev/null
fi

servers=()
images=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    for image in "${images[@]}"; do docker image rm -f "$image" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# The wheelhouse on loopback, with PyPI's caching headers on wheels (an installer keeps a
# download in its HTTP cache only when the index allows it; ZenML's `--no-cache-dir` ignores
# them).
serve() { # port
    python3 -c '
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.endswith(".whl"):
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        super().end_headers()
handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
' "$1" "$wheels" >/dev/null 2>&1 &
    servers+=($!)
    for _ in $(seq 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$1/')" 2>/dev/null && return
        sleep 0.1
    done
    echo "the wheel server on port $1 did not start" >&2
    exit 1
}

# The project: a step and its requirements file.
project() { # dir extra-requirement...
    rm -rf "$1"
    mkdir -p "$1/steps"
    printf 'import numpy, pandas, sklearn\nprint("trained")\n' >"$1/steps/train.py"
    printf '%s\n' "${requirements[@]}" "${@:2}" >"$1/requirements.txt"
}

# The settings, as dockwright.yaml.
settings() { # dir installer port tag cache-mount builder-version
    local mount=""
    [ -n "$5" ] && mount="    python_package_installer_cache_mount: $5"
    cat >"$1/dockwright.yaml" <<YAML
name: zenbench
settings:
  docker:
    parent_image: $parent
    target_repository: dockwright-bench/zenml
    image_tag: $4
    python_package_installer: $2
$mount
    requirements: requirements.txt
    apt_packages: [libgomp1]
    environment:
      PIP_FIND_LINKS: http://127.0.0.1:$3/
      PIP_NO_INDEX: "1"
      PIP_TRUSTED_HOST: 127.0.0.1
      UV_FIND_LINKS: http://127.0.0.1:$3/
    python_package_installer_args:
      no-index: true
    build_config:
      build_options:
        network_mode: host
        version: $6
    allow_including_files_in_images: true
steps:
  - name: train
    command: [python, steps/train.py]
YAML
}

# The Dockerfile ZenML 0.98 writes for these settings (no stack requirements: a local
# stack has none), with its requirements file, in a copy of the project.
zenml_context() { # project installer port out
    rm -rf "$4"
    cp -a "$1" "$4"
    rm -f "$4/dockwright.yaml"
    cp "$1/requirements.txt" "$4/.zenml_user_requirements"
    local install="pip install --no-cache-dir --default-timeout=60 --no-index"
    [ "$2" = uv ] && install="uv pip install --no-cache-dir --no-index"
    {
        echo "FROM $parent"
        echo "WORKDIR /app"
        echo "ENV PIP_FIND_LINKS='http://127.0.0.1:$3/'"
        echo "ENV PIP_NO_INDEX='1'"
        echo "ENV PIP_TRUSTED_HOST='127.0.0.1'"
        echo "ENV UV_FIND_LINKS='http://127.0.0.1:$3/'"
        echo "RUN apt-get update && apt-get install -y --no-install-recommends 'libgomp1'"
        [ "$2" = uv ] && echo "RUN pip install uv"
        echo "COPY .zenml_user_requirements ."
        echo "RUN $install -r .zenml_user_requirements"
        echo "ENV ZENML_ENABLE_REPO_INIT_WARNINGS=False"
        echo "ENV ZENML_CONFIG_PATH=/app/.zenconfig"
        echo "COPY . ."
        printf 'RUN chmod -R a+rw .'
    } >"$4/Dockerfile"
}

# Prefixes each line with the seconds since the build started, so that a log shows where the
# time of a build goes (instruction by instruction).
stamp() {
    python3 -u -c 'import sys, time
start = time.time()
for line in sys.stdin:
    sys.stdout.write(f"{time.time() - start:7.2f} {line}")'
}

seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$1"; }
now() { python3 -c 'import time; print(time.time())'; }

# Builds one image; prints the seconds it took. Output goes to $work/logs.
build() { # tool installer run phase port
    local tool="$1" installer="$2" run="$3" phase="$4" port="$5"
    local tag="$tool-$installer-$run-$phase" dir="$work/$tool-$installer-$run"
    local log="$work/logs/$tag.log" start
    mkdir -p "$work/logs"
    if [ "$phase" = cold ]; then project "$dir"; else project "$dir" "$added"; fi
    case "$tool" in
    zenml)
        zenml_context "$dir" "$installer" "$port" "$dir-context"
        images+=("dockwright-bench/zenml:$tag")
        start=$(now)
        DOCKER_BUILDKIT=0 docker build --network host --tag "dockwright-bench/zenml:$tag" \
            "$dir-context" 2>&1 | stamp >"$log" || { cat "$log" >&2; exit 1; }
        ;;
    dockwright | dockwright-buildkit | dockwright-cache)
        local mount="" version=1
        [ "$tool" = dockwright-cache ] && mount="type=cache,target=/root/.cache/$installer"
        [ "$tool" != dockwright ] && version=2
        settings "$dir" "$installer" "$port" "$tag" "$mount" "$version"
        images+=("dockwright-bench/zenml:$tag")
        start=$(now)
        "$dockwright" build -f "$dir/dockwright.yaml" 2>&1 | stamp >"$log" || { cat "$log" >&2; exit 1; }
        ;;
    esac
    local took
    took=$(seconds_since "$start")
    local size
    size=$(docker image inspect --format '{{.Size}}' "dockwright-bench/zenml:$tag")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$installer" "$run" "$phase" "$took" "$size" >>"$results"
    echo "  $tag: ${took} s, $((size / 1000000)) MB" >&2
}

: >"$results"
base_port=$((20000 + RANDOM % 20000))
read -ra tool_list <<<"$tools"
for run in $(seq "$runs"); do
    for installer in $installers; do
        # One port per tool: base + 100 × run + 10 × installer name length + tool index.
        declare -A ports=()
        for index in "${!tool_list[@]}"; do
            ports[${tool_list[$index]}]=$((base_port + run * 100 + ${#installer} * 10 + index))
            serve "${ports[${tool_list[$index]}]}"
        done
        # Rotate the order of the tools from run to run.
        order=("${tool_list[@]:$((run % ${#tool_list[@]}))}" "${tool_list[@]:0:$((run % ${#tool_list[@]}))}")
        echo "== run $run, $installer: ${order[*]}" >&2
        for phase in cold rebuild; do
            for tool in "${order[@]}"; do
                build "$tool" "$installer" "$run" "$phase" "${ports[$tool]}"
            done
        done
        for image in "${images[@]}"; do docker image rm -f "$image" >/dev/null 2>&1 || true; done
        images=()
    done
done

summary
