#!/bin/bash
# The arm64 package (issue 14), cross-built on this amd64 host by
# `CRASHCAPTURE_DEB_ARCH=arm64 scripts/build-deb.sh`, checked without
# running it (installing it in an arm64 Debian guest is
# tests/e2e/test-systemd-guest.sh --arch arm64, FULL=1):
#   - lintian finds no error;
#   - it says Architecture: arm64 and depends on kexec-tools (Debian's arm64
#     kernels have no kexec_file_load: the daemon loads through kexec(8));
#   - every ELF file in it is an AArch64 one, and there are some;
#   - it ships the same paths as the amd64 package built from the same
#     source (AMD64_DEB), so no file is lost or added by the cross build.
#   tests/integration/test-package-arm64.sh ARM64_DEB [AMD64_DEB]
# Exit status = number of failures (tests/checks.sh).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"

[ $# -ge 1 ] || { echo "usage: test-package-arm64.sh ARM64_DEB [AMD64_DEB]" >&2; exit 2; }
deb=$1
amd64_deb=${2:-}
[ -s "$deb" ] || { fail "no package: $deb"; checks_exit; }
work=$(mktemp -d "${TMPDIR:-/tmp}/crashcaptured-arm64-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

lintian --fail-on error --display-info --tag-display-limit 0 "$deb" > "$work/lintian.txt" 2>&1
status=$?
sed 's/^/  /' "$work/lintian.txt"
if [ "$status" = 0 ] && ! grep -q '^E: ' "$work/lintian.txt"; then
    pass "lintian $(basename "$deb"): no errors ($(grep -c '^W: ' "$work/lintian.txt") warnings)"
else
    fail "lintian $(basename "$deb") reports errors (exit $status)"
fi

architecture=$(dpkg-deb -f "$deb" Architecture)
if [ "$architecture" = arm64 ]; then pass "Architecture: arm64"; else fail "Architecture: $architecture, not arm64"; fi
depends=$(dpkg-deb -f "$deb" Depends)
if echo "$depends" | tr ',' '\n' | sed -E 's/^ +//; s/ .*//' | grep -qx kexec-tools; then
    pass "Depends names kexec-tools"
else
    fail "Depends does not name kexec-tools: $depends"
fi

dpkg-deb -x "$deb" "$work/root"
elf_count=0 foreign=()
while IFS= read -r -d '' file; do
    description=$(file -b "$file")
    case $description in ELF*) ;; *) continue ;; esac
    elf_count=$((elf_count + 1))
    case $description in *"ARM aarch64"*) ;; *) foreign+=("${file#"$work/root"}: $description") ;; esac
done < <(find "$work/root" -type f -print0)
if [ "$elf_count" -gt 0 ] && [ ${#foreign[@]} = 0 ]; then
    pass "all $elf_count ELF files are AArch64"
else
    fail "$elf_count ELF files, not AArch64: ${foreign[*]:-}"
fi

if [ -n "$amd64_deb" ]; then
    paths() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|/$||' | LC_ALL=C sort; }
    # The paths of one architecture's shared libraries differ by design.
    paths "$deb" | sed 's/aarch64-linux-gnu/MULTIARCH/' > "$work/arm64.paths"
    paths "$amd64_deb" | sed 's/x86_64-linux-gnu/MULTIARCH/' > "$work/amd64.paths"
    if diff -u "$work/amd64.paths" "$work/arm64.paths" > "$work/paths.diff"; then
        pass "the same $(wc -l < "$work/arm64.paths") paths as $(basename "$amd64_deb")"
    else
        sed 's/^/  /' "$work/paths.diff"
        fail "the arm64 package's paths differ from the amd64 package's"
    fi
fi
checks_exit
