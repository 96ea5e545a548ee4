#!/usr/bin/env bash
# Runs the example pipeline end to end: builds Dockwright, prepares the package index the
# pipeline installs from (a wheelhouse served on loopback: build containers here cannot reach
# a public index), then `dockwright run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2/lib" ]; then
    rustup target add wasm32-wasip2   # the built-in plugins are compiled for it
fi
cargo build --locked -p dockwright
dockwright="${CARGO_TARGET_DIR:-$root/target}/debug/dockwright"

# Everything the plan will install (every requirement group), downloaded on the host.
wheelhouse="$root/target/example-wheelhouse"
mkdir -p "$wheelhouse"
"$dockwright" requirements --json -f "$here/dockwright.yaml" | python3 -c '
import json, sys
for settings in json.load(sys.stdin):
    for group in settings["requirements"]["groups"]:
        for line in group["lines"]:
            print(line["text"])
' > "$wheelhouse/requirements.txt"
python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$wheelhouse" -r "$wheelhouse/requirements.txt"

python3 -m http.server 8765 --bind 127.0.0.1 --directory "$wheelhouse" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do
    python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8765/")' 2>/dev/null && break
    sleep 0.1
done

"$dockwright" run -f "$here/dockwright.yaml" "$@"
