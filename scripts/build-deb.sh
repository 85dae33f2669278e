#!/bin/bash
# Build the Debian packages (crashcaptured_VERSION_amd64.deb and the Cockpit
# page, cockpit-crashcapture_VERSION_all.deb) from packaging/debian. Debian's
# tools want debian/ at the top of the source tree, and it lives in
# packaging/ here: this copies the source tree (scripts/copy-source-tree.sh:
# what git tracks plus untracked files it does not ignore, uncommitted
# changes included) to a temporary directory, copies packaging/debian to
# debian/ there, and runs dpkg-buildpackage -us -uc -b.
# The .deb, its .buildinfo and .changes (and the -dbgsym .ddeb) land in
# OUTDIR.
#   scripts/build-deb.sh [OUTDIR]       default: build-deb/ (gitignored)
# Needs the Build-Depends of packaging/debian/control (scripts/install-deps.sh
# installs them). Works as root and with no standard input.
# CRASHCAPTURE_DEB_VERSION=V builds version V instead of the changelog's
# (a stanza added to the copy's debian/changelog, never to the repository's):
# the newer package of the guest's upgrade test.
# CRASHCAPTURE_DEB_ARCH=arm64 cross-builds crashcaptured_VERSION_arm64.deb
# (dpkg-buildpackage -a arm64, Debian multiarch: the :arm64 Build-Depends and
# pkgconf:arm64 that scripts/install-deps.sh installs). The repository's
# debian/control names amd64, the architecture the crash cycles prove; the
# copy's names the one asked for.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${1:-$top/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=${CRASHCAPTURE_DEB_VERSION:-$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)}
work=$(mktemp -d "${TMPDIR:-/tmp}/crashcaptured-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/crashcaptured-$version
mkdir -p "$src"

scripts/copy-source-tree.sh "$src"
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"
host_arch=${CRASHCAPTURE_DEB_ARCH:-$(dpkg --print-architecture)}
build_args=()
if [ "$host_arch" != "$(dpkg --print-architecture)" ]; then
    sed -i "s/^Architecture: amd64\$/Architecture: amd64 $host_arch/" "$src/debian/control"
    build_args=(-a "$host_arch")
fi
if [ -n "${CRASHCAPTURE_DEB_VERSION:-}" ]; then
    {
        printf 'crashcaptured (%s) %s; urgency=medium\n\n' "$version" \
            "$(dpkg-parsechangelog -l packaging/debian/changelog -S Distribution)"
        printf '  * Built as %s by scripts/build-deb.sh (CRASHCAPTURE_DEB_VERSION).\n\n' "$version"
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)" \
            "$(date -R)"
        cat packaging/debian/changelog
    } > "$src/debian/changelog"
fi

echo "build-deb.sh: building crashcaptured $version in $src"
(
    cd "$src"
    export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
    dpkg-buildpackage -us -uc -b "${build_args[@]}" < /dev/null
)

shopt -s nullglob
results=("$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes)
[ ${#results[@]} -gt 0 ] || { echo "build-deb.sh: dpkg-buildpackage made no package" >&2; exit 1; }
for f in "${results[@]}"; do
    rm -f "$out/$(basename "$f")"
    mv "$f" "$out/"
done
echo "build-deb.sh: $(ls "$out"/crashcaptured_"${version}"_"${host_arch}".deb)"
echo "build-deb.sh: $(ls "$out"/cockpit-crashcapture_"${version}"_all.deb)"
