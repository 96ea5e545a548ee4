#!/usr/bin/env bash
# Builds the example integration provider (a Rust crate outside the Dockwright workspace) into
# one component: <out>/acme-integrations.wasm (default out: <repo>/target/custom-provider).
# Needs the Rust target wasm32-wasip2 (`rustup target add wasm32-wasip2`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/custom-provider}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# A target dir of its own (not the workspace's): this crate is not a workspace member.
cargo build --manifest-path "$here/Cargo.toml" --locked --release \
    --target wasm32-wasip2 --target-dir "$out/cargo-target"
cp "$out/cargo-target/wasm32-wasip2/release/acme_integrations.wasm" "$out/acme-integrations.wasm"
echo "$out/acme-integrations.wasm"
