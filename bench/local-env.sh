#!/usr/bin/env bash
# The local-env source (issue 14: 2,000 installed packages in 40 ms or less) as whole commands,
# release build, medians from hyperfine in one run (each command BENCH_RUNS times, after
# warm-ups):
#   - `dockwright requirements` of a pipeline with only `replicate_local_python_environment:
#     pip_freeze` (process start, settings, the local-env plugin from the warm compiled cache,
#     its scan of the venv, printing), against
#   - the venv's own `pip freeze`, and `dockwright --version` (the process floor).
# The venv is real (`python3 -m venv`: pip and its own metadata) plus N fake installed
# distributions written as pip leaves them (METADATA with headers and a description,
# INSTALLER, WHEEL, RECORD; every tenth with a direct_url.json): nothing in them is
# importable, which `pip freeze` does not look at. Before timing, the lines Dockwright reads
# are checked to be exactly `pip freeze`'s.
# usage: bench/local-env.sh [PACKAGES]     (default 2000; BENCH_RUNS=20)
# `cargo bench -p dockwright-tests --bench local_env` times the plugin call alone (in process).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
packages="${1:-2000}"
runs="${BENCH_RUNS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --locked --release -p dockwright >&2
bin="$CARGO_TARGET_DIR/release/dockwright"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null

work="$root/target/bench-local-env"
venv="$work/venv-$packages"
export DOCKWRIGHT_CACHE_DIR="$work/cache"
export DOCKWRIGHT_DATA_DIR="$work/data"
if [ ! -e "$venv/.ready" ]; then
    echo "== making a venv with $packages fake distributions in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" - "$packages" <<'PY'
import os, sys, sysconfig
sp = sysconfig.get_paths()["purelib"]
for i in range(int(sys.argv[1])):
    name, version = f"fake_pkg{i:05}", f"1.{i % 50}.{i % 7}"
    d = os.path.join(sp, f"{name}-{version}.dist-info")
    os.makedirs(d)
    requires = "".join(f"Requires-Dist: fake-pkg{(i + k * 37) % 100000:05}>=1.0\n" for k in range(1, 4))
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: Fake package {i}\n"
                f"Home-page: https://example.com/{name}\nAuthor: Bench\nLicense: MIT\n"
                "Classifier: Programming Language :: Python :: 3\n"
                "Classifier: License :: OSI Approved :: MIT License\n"
                f"Requires-Python: >=3.8\n{requires}Description-Content-Type: text/markdown\n\n"
                f"# {name}\n\n" + "A package made for a benchmark. " * 40 + "\n")
    for file, text in [("INSTALLER", "pip\n"),
                       ("WHEEL", "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
                       ("RECORD", f"{name}/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n")]:
        with open(os.path.join(d, file), "w") as f:
            f.write(text)
    if i % 10 == 0:
        with open(os.path.join(d, "direct_url.json"), "w") as f:
            f.write(f'{{"url": "https://example.com/{name}-{version}.tar.gz", "archive_info": {{"hashes": {{"sha256": "ff"}}}}}}')
PY
    touch "$venv/.ready"
fi
project="$work/project"
mkdir -p "$project"
cat >"$project/dockwright.yaml" <<YAML
name: local-env-bench
settings:
  docker:
    parent_image: python:3.11-slim
    replicate_local_python_environment: pip_freeze
YAML

export VIRTUAL_ENV="$venv" PIP_DISABLE_PIP_VERSION_CHECK=1
ours="$("$bin" requirements --json -f "$project/dockwright.yaml" | python3 -c '
import json, sys
local = [g for g in json.load(sys.stdin)[0]["requirements"]["groups"] if g["group"] == "local"][0]
print("".join(line["text"] + "\n" for line in local["lines"]), end="")')"
theirs="$("$venv/bin/pip" freeze)"
if [ "$ours" != "$theirs" ]; then
    diff <(echo "$theirs") <(echo "$ours") | head -20 >&2
    echo "local-env differs from pip freeze" >&2
    exit 1
fi
echo "== $(echo "$ours" | wc -l) lines, identical to pip freeze; $runs runs each" >&2

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$out" \
    --command-name "dockwright requirements (local-env, $packages packages)" "$bin requirements -f $project/dockwright.yaml" \
    --command-name "pip freeze ($packages packages)" "$venv/bin/pip freeze" \
    --command-name "dockwright --version" "$bin --version" >&2
python3 - "$out" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
pip = results[1]["median"]
for r in results:
    cpu = (r["user"] + r["system"]) * 1000
    print(f"{r['command']:<52} median {r['median'] * 1000:8.1f} ms  min {r['min'] * 1000:8.1f} ms"
          f"  cpu {cpu:7.1f} ms  pip/this {pip / r['median']:6.1f}x")
PY
