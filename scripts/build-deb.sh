#!/bin/bash
# Build the Debian package (crashcaptured_VERSION_amd64.deb) from
# packaging/debian. Debian's tools want debian/ at the top of the source
# tree, and it lives in packaging/ here: this copies the source tree
# (scripts/copy-source-tree.sh: what git tracks plus untracked files it does
# not ignore, uncommitted changes included) to a temporary directory, copies
# packaging/debian to debian/ there, and runs dpkg-buildpackage -us -uc -b.
# The .deb, its .buildinfo and .changes (and the -dbgsym .ddeb) land in
# OUTDIR.
#   scripts/build-deb.sh [OUTDIR]       default: build-deb/ (gitignored)
# Needs the Build-Depends of packaging/debian/control (scripts/install-deps.sh
# installs them). Works as root and with no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${1:-$top/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
work=$(mktemp -d "${TMPDIR:-/tmp}/crashcaptured-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/crashcaptured-$version
mkdir -p "$src"

scripts/copy-source-tree.sh "$src"
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"

echo "build-deb.sh: building crashcaptured $version in $src"
(
    cd "$src"
    export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
    dpkg-buildpackage -us -uc -b < /dev/null
)

shopt -s nullglob
results=("$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes)
[ ${#results[@]} -gt 0 ] || { echo "build-deb.sh: dpkg-buildpackage made no package" >&2; exit 1; }
for f in "${results[@]}"; do
    rm -f "$out/$(basename "$f")"
    mv "$f" "$out/"
done
echo "build-deb.sh: $(ls "$out"/crashcaptured_"${version}"_*.deb)"
