#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests need and .ci/run cannot assume:
#   mmdebstrap     builds the Python base image without a registry (scripts/base-image.sh)
#   docker-registry a real registry on loopback for the push tests
#   apache2-utils  htpasswd (bcrypt) for the registry's basic auth
#   curl           the OCI tests read the registry's API directly
# Then cargo-deny (for .ci/run's supply-chain check; built once, skipped when present), and
# the base image, built once so that the tests find it cached by tag.
set -euo pipefail

packages=(mmdebstrap docker-registry apache2-utils curl)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    apt-get update -qq
    # The Debian package starts no registry on its own here (no init system); the tests
    # start their own on 127.0.0.1 with a config they write.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! cargo deny --version >/dev/null 2>&1; then
    echo "installing cargo-deny"
    cargo install --locked cargo-deny --version "^0.20"
fi

"$(dirname "$0")/base-image.sh"
