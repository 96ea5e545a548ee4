#!/bin/sh
# Times the local-env scan (through the plugin runtime, warm compiled cache) against the real
# `pip freeze` and `uv pip freeze` of the same venv, and prints the medians side by side.
# The venv is the tests' cached `real` venv (created on first use; needs PyPI).
#   bench/local-env.sh            # release build, 20 runs each
#   BENCH_RUNS=50 bench/local-env.sh
set -eu
cd "$(dirname "$0")/.."
exec cargo bench -p dockwright-tests --bench local_env "$@"
