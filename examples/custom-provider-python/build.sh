#!/usr/bin/env bash
# Builds the Python integration provider into one plugin file:
#   <out-dir>/acme-integrations-py.wasm   (default out-dir: <repo>/target/custom-provider-python)
#
# 1. a venv of its own under <out-dir> with componentize-py (pinned), installed with pip;
# 2. componentize-py compiles app.py against wit/v1.1 (world `plugin`) into a component that
#    bundles CPython;
# 3. manifest.json, with `api` set from the WIT's package version, is appended as the
#    `dockwright-manifest` custom section, which the host reads before it compiles anything
#    (componentize-py cannot write custom sections).
#
# The result is reused while its inputs (this script, app.py, manifest.json, the WIT) are
# unchanged. Concurrent runs on the same out-dir wait for each other.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out_dir="${1:-$repo/target/custom-provider-python}"
componentize_py_version="0.25.1"
wit="$repo/wit/v1.1"
name="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$here/manifest.json")"
wasm="$out_dir/$name.wasm"

mkdir -p "$out_dir"
exec 9>"$out_dir/.build.lock"
flock 9

inputs_hash="$(
    cd "$repo"
    { echo "componentize-py $componentize_py_version"
      sha256sum examples/custom-provider-python/{build.sh,app.py,manifest.json} wit/v1.1/*.wit
    } | sha256sum | cut -d' ' -f1
)"
if [[ -f "$wasm" && "$(cat "$wasm.inputs" 2>/dev/null)" == "$inputs_hash" ]]; then
    echo "up to date: $wasm"
    exit 0
fi

venv="$out_dir/venv"
if ! "$venv/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $componentize_py_version"; then
    echo "== installing componentize-py $componentize_py_version into $venv"
    python3 -m venv "$venv"
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$componentize_py_version"; then
        echo "error: pip could not install componentize-py $componentize_py_version." >&2
        echo "       Is the Python package index reachable from this machine? (pip honours" >&2
        echo "       PIP_INDEX_URL for a mirror.) The Python plugin cannot be built without it." >&2
        exit 1
    fi
fi

echo "== componentize-py: app.py -> component"
# From a copy: componentize-py bundles its whole python path and writes __pycache__ into it.
src="$out_dir/src"
rm -rf "$src"
mkdir -p "$src"
cp "$here/app.py" "$src/"
unsigned="$out_dir/$name.no-manifest.wasm"
# Without VIRTUAL_ENV: componentize-py would add that environment's site-packages to the
# guest's path, and the component would depend on what the caller happens to have installed.
env -u VIRTUAL_ENV "$venv/bin/componentize-py" --quiet -d "$wit" -w plugin \
    componentize --python-path "$src" app -o "$unsigned"

echo "== appending the dockwright-manifest section"
python3 - "$here/manifest.json" "$wit/plugin.wit" "$unsigned" "$wasm.tmp" <<'PY'
import json, re, sys

def leb128(n):
    """Unsigned LEB128, as the wasm binary format encodes sizes."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)

def custom_section(name, payload):
    """Section id 0, its size, then the name (length-prefixed) and the payload."""
    body = leb128(len(name)) + name + payload
    return b"\x00" + leb128(len(body)) + body

def api_range(wit_path):
    """`^major.minor` of the WIT package: componentize-py imports every host function of the
    WIT it builds against, so the plugin needs a host of at least that minor version."""
    version = re.search(r"^package dockwright:plugin@(\d+)\.(\d+)\.\d+;", open(wit_path).read(), re.M)
    return f"^{version[1]}.{version[2]}"

manifest_path, wit_path, component_path, out_path = sys.argv[1:]
manifest = json.load(open(manifest_path))
if "api" in manifest:
    sys.exit(f"{manifest_path}: leave `api` out; it is the WIT's version ({api_range(wit_path)})")
manifest["api"] = api_range(wit_path)
manifest = json.dumps(manifest, separators=(",", ":")).encode()
component = open(component_path, "rb").read()
# A component is a preamble followed by sections; a custom section may come last.
assert component[4:8] == b"\x0d\x00\x01\x00", "not a wasm component"
open(out_path, "wb").write(component + custom_section(b"dockwright-manifest", manifest))
PY
rm "$unsigned"
mv "$wasm.tmp" "$wasm"
echo "$inputs_hash" >"$wasm.inputs"
echo "built: $wasm ($(stat -c %s "$wasm") bytes)"
