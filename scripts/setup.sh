#!/usr/bin/env bash
# Everything a fresh machine needs before building and testing Dockwright: the wasm32-wasip2
# Rust target (the plugins are compiled for it), the Debian packages the end-to-end tests use,
# and the Python base image (made from this machine's Debian packages, never pulled).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2/lib" ]; then
    if ! rustup target add wasm32-wasip2; then
        # No rustup distribution server: the workspace's shared fallback, when present.
        fallback=../shared/toolchain/ensure-wasm-target
        if [ ! -f "$fallback" ]; then
            echo "setup: rustup could not add the wasm32-wasip2 target; install it and run again" >&2
            exit 1
        fi
        bash "$fallback"
    fi
fi
bash scripts/ci-deps.sh
