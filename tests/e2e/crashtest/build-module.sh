#!/bin/bash
# Build the crashtest module (crashtest.c) for one Debian kernel:
#   build-module.sh KVER        (6.1, 6.12 or a full release)
# prints the path of crashtest.ko.
#
# The kernel's build tree comes from Debian's own packages, fetched from the
# mirror with apt-get download and unpacked with dpkg-deb -x under
# $CACHE/kernel-headers/KVER, not installed: installing linux-headers-KVER
# would pull linux-image-KVER (the package depends on it) and run its
# postinst hooks on the host, for a module only a QEMU guest loads.
#   linux-headers-KVER          the arch part (.config, Module.symvers,
#                               generated headers); its Makefile includes
#                               the common part by absolute path, rewritten
#                               here to the unpacked copy
#   linux-headers-KVER-common   the kernel's include/ and Makefiles, with
#                               KVER's ABI name minus the flavour (-amd64)
#   linux-kbuild-SERIES         scripts/ (modpost, fixdep) the arch part
#                               links to relatively; 6.1 names it
#                               linux-kbuild-6.1, 6.12 after its ABI name
# Debian builds its kernels with gcc-12 on bookworm; a module must be built
# with the same major version (the headers check CONFIG_GCC_VERSION).
#
# No BTF for the module (CONFIG_DEBUG_INFO_BTF_MODULES= on make's line):
# 6.12's headers ship a vmlinux with BTF, and generating the module's would
# need pahole (dwarves), which nothing else here needs.
#
# -fmacro-prefix-map: BUG()'s "kernel BUG at FILE:LINE!" names crashtest.c,
# not the build directory, which holds the kernel release and the cache's
# path: the crash's signature must be the same on both kernels.
#
# Reused when crashtest.c, Kbuild and this script are unchanged.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[ $# = 1 ] || e2e_die "usage: build-module.sh KVER"
KVER=$(e2e_kver "$1")
SRC=$E2E_DIR/crashtest
e2e_need apt-get dpkg-deb make gcc
# 6.1.0-57-amd64 -> common 6.1.0-57, kbuild 6.1;
# 6.12.118+deb12-amd64 -> common 6.12.118+deb12, kbuild 6.12.118+deb12.
abi=${KVER%-*}
case $abi in
    6.1.0-*) kbuild=linux-kbuild-6.1 ;;
    *) kbuild=linux-kbuild-$abi ;;
esac
root=$CACHE/kernel-headers/$KVER
kdir=$root/usr/src/linux-headers-$KVER

if [ ! -e "$root/.unpacked" ]; then
    rm -rf "$root"
    mkdir -p "$root/debs"
    # apt drops privileges to _apt for downloads; the cache directory is
    # root's, so download into a directory _apt may write, then move.
    (cd "$root/debs" && apt-get download -q "linux-headers-$KVER" "linux-headers-$abi-common" "$kbuild") >&2 ||
        e2e_die "apt-get download of linux-headers-$KVER, linux-headers-$abi-common, $kbuild failed (apt-get update?)"
    for deb in "$root"/debs/*.deb; do
        dpkg-deb -x "$deb" "$root"
    done
    sed -i "s|^include /usr/src/|include $root/usr/src/|" "$kdir/Makefile"
    rm -rf "$root/debs"
    touch "$root/.unpacked"
fi

out=$CACHE/crashtest/$KVER
want=$(cat "$SRC/crashtest.c" "$SRC/Kbuild" "$0" | sha256sum | cut -d' ' -f1)
if [ -s "$out/crashtest.ko" ] && [ "$(cat "$out/.fingerprint" 2> /dev/null)" = "$want" ]; then
    echo "$out/crashtest.ko"
    exit 0
fi
rm -rf "$out"
mkdir -p "$out"
cp "$SRC/crashtest.c" "$SRC/Kbuild" "$out/"
make -s -C "$kdir" M="$out" CC=gcc-12 CONFIG_DEBUG_INFO_BTF_MODULES= \
    KCFLAGS="-fmacro-prefix-map=$out/=" modules >&2 || e2e_die "building crashtest.ko for $KVER failed"
echo "$want" > "$out/.fingerprint"
echo "$out/crashtest.ko"
