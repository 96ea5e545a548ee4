#!/usr/bin/env bash
# The test suite: unit tests, the conformance cases, real plugins in the sandbox, and
# end-to-end tests against the real Docker engine and a real registry on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo nextest run --locked --workspace --no-fail-fast "$@"
