#!/bin/bash
# Build the RPM (crashcaptured-VERSION-1.x86_64.rpm) from
# packaging/rpm/crashcaptured.spec with rpmbuild, in a private _topdir: a
# tarball of the source tree (scripts/copy-source-tree.sh) is Source0. The
# .rpm lands in OUTDIR.
#   scripts/build-rpm.sh [OUTDIR]       default: build-rpm/ (gitignored)
# On Fedora and its relatives, install the spec's BuildRequires first. On
# Debian (its "rpm" package provides rpmbuild) those names mean nothing to
# rpm's empty database, so the build runs with --nodeps on the Debian -dev
# packages of scripts/install-deps.sh; the spec defines its own %cmake and
# systemd scriptlet macros where Fedora's are missing, no debuginfo package
# is made (Debian's rpm has no find-debuginfo), and brp-compress runs with
# bash. Works as root and with no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${1:-$top/build-rpm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
spec=packaging/rpm/crashcaptured.spec

version=$(rpmspec -q --srpm --qf '%{version}\n' "$spec" 2> /dev/null | head -1)
[ -n "$version" ] || { echo "build-rpm.sh: cannot read the version from $spec" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/crashcaptured-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
topdir=$work/rpmbuild
mkdir -p "$topdir"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
scripts/copy-source-tree.sh "$work/crashcaptured-$version"
tar -C "$work" -czf "$topdir/SOURCES/crashcaptured-$version.tar.gz" "crashcaptured-$version"

options=(--define "_topdir $topdir")
if [ -e /etc/debian_version ]; then
    # Debian's rpm runs brp-compress (a bash script: read -d) with /bin/sh,
    # which is dash there: run it with bash, so man pages are gzipped as on Fedora.
    options+=(--nodeps --define 'debug_package %{nil}'
        --define '__brp_compress bash /usr/lib/rpm/brp-compress %{?_prefix}')
fi
echo "build-rpm.sh: building crashcaptured $version in $topdir"
rpmbuild -bb "${options[@]}" "$spec" < /dev/null

shopt -s nullglob
rpms=("$topdir"/RPMS/*/*.rpm)
[ ${#rpms[@]} -gt 0 ] || { echo "build-rpm.sh: rpmbuild made no package" >&2; exit 1; }
for f in "${rpms[@]}"; do
    rm -f "$out/$(basename "$f")"
    mv "$f" "$out/"
    echo "build-rpm.sh: $out/$(basename "$f")"
done
