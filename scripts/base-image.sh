#!/usr/bin/env bash
# Builds a Debian-based Python base image without pulling from any registry: mmdebstrap makes a
# root filesystem from this machine's Debian suite and `docker import` turns it into an image.
# Used by the end-to-end tests (the test machines have a Docker engine but no registry and no
# images) and by users who cannot pull. Cached by tag: an existing image is left as it is.
#
# usage: scripts/base-image.sh [TAG]        (default tag: dockwright-base/python:<suite>)
# env:   DOCKWRIGHT_BASE_SUITE  Debian suite to bootstrap (default: this machine's codename)
set -euo pipefail

suite="${DOCKWRIGHT_BASE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")}"
tag="${1:-dockwright-base/python:${suite}}"

# Concurrent callers (parallel test binaries) build once: the others wait here, then find it.
exec 9>"${TMPDIR:-/tmp}/dockwright-base-image.lock"
flock 9

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag already exists"
    exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
    echo "installing mmdebstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
fi

# The root filesystem goes to a file first, not straight into `docker import`: a bootstrap
# that fails half-way must not leave a truncated image behind under the cached tag.
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
start=$SECONDS
# No mirror argument: mmdebstrap uses Debian's default mirror for a release name (the same
# archive this machine's apt sources point to), adding the updates and security suites.
mmdebstrap --quiet --variant=apt --include=python3,python3-venv,python3-pip \
    "$suite" "$workdir/rootfs.tar"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "dockwright base image: Debian $suite with python3, python3-venv, python3-pip" \
    "$workdir/rootfs.tar" "$tag" >/dev/null
echo "built base image $tag in $((SECONDS - start)) s"
