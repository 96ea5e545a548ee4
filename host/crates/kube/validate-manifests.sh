#!/bin/sh
# Validates the golden Job manifests (tests/golden/*.yaml, or the files given as arguments)
# offline against the Kubernetes OpenAPI schemas, strictly (unknown fields are errors), with
# kubernetes-validate from PyPI, which ships the schemas of Kubernetes 1.25-1.37.
#
#   host/crates/kube/validate-manifests.sh [FILE...]
#
# KUBERNETES_VALIDATE_VENV: a directory for the virtual environment, kept between runs
#   (default: a temporary directory, removed afterwards).
# KUBERNETES_VERSION: the schema version (default 1.37.0, the API version dockwright-kube's
#   k8s-openapi types are built for: its `v1_37` feature).
#
# Schemas check types and fields, not meaning: `restartPolicy: Sometimes` passes. The
# semantic rules (DNS names, digests, restartPolicy, labels) are the crate's unit tests.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
version=${KUBERNETES_VERSION:-1.37.0}

if [ -n "${KUBERNETES_VALIDATE_VENV:-}" ]; then
    venv=$KUBERNETES_VALIDATE_VENV
else
    venv=$(mktemp -d "${TMPDIR:-/tmp}/kubernetes-validate.XXXXXX")
    trap 'rm -rf "$venv"' EXIT INT TERM
fi

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi

if [ "$#" -eq 0 ]; then
    set -- "$here"/tests/golden/*.yaml
fi
for file in "$@"; do
    [ -f "$file" ] || { echo "validate-manifests: no such file: $file" >&2; exit 1; }
done
exec "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "$@"
