# shellcheck shell=bash
# Helpers shared by the arm64 crash-cycle scripts in tests/e2e/arm64/ (issue
# 14). Sourced, never run. On top of ../lib.sh (timestamps, ext4 disk
# helpers, PYTHON): where the arm64 pieces live in the cache and which Debian
# arm64 kernel a short name means.
#
# Nothing arm64 is installed on the host: the arm64 .debs are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into
#   $CACHE/arm64/debs/             the .debs
#   $CACHE/arm64/sysroot-<kver>/   one kernel and the guest's user space
#   $CACHE/arm64/initramfs/<kver>-<saver>/   Image, capture.img, first.img
#   $CACHE/arm64/runs/<name>/      one cycle's serial log, timings and dump
#   $CACHE/arm64/vmcores/<kver>/   vmcores kept for other tests (make-vmcores.sh)

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# shellcheck disable=SC2034 # used by the scripts that source this file
ARM64_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ARM64_CACHE=$CACHE/arm64

# The arm64 user space of both guest kernels (Debian 12 arm64 builds):
# busybox-static for the shell, kexec-tools to load the capture kernel,
# makedumpfile for comparison, and their shared libraries. kexec-tools:arm64
# is built with Xen support: it NEEDs libxenctrl.so.4.17 (libxenmisc4.17),
# which pulls 7 more libxen* (reference qemu-kdump-arm64 RESULTS.md,
# pitfall 6). libstdc++6 and libgcc-s1: for our C++ crashcapture-save.
# shellcheck disable=SC2034
ARM64_USER_PACKAGES=(busybox-static kexec-tools makedumpfile libc6 zlib1g liblzma5 libbz2-1.0
    libzstd1 libdw1 libelf1 liblzo2-2 libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1
    libxenforeignmemory1 libxengnttab1 libxentoollog1 libxentoolcore1 libstdc++6 libgcc-s1)

# arm64_kernel_package NAME -> the linux-image package of a short name (6.1,
# 6.12) or a full release (6.1.0-57-arm64), from the apt lists: what Debian's
# metapackages point at today (linux-image-arm64 is the 6.1 series in
# bookworm, linux-image-6.12-arm64 the 6.12 one in bookworm-security). Empty
# if the arm64 lists are missing (no `dpkg --add-architecture arm64`).
arm64_kernel_package() {
    local meta
    case $1 in
        6.1) meta=linux-image-arm64 ;;
        6.12) meta=linux-image-6.12-arm64 ;;
        *)
            echo "linux-image-$1"
            return 0
            ;;
    esac
    apt-cache depends "$meta:arm64" 2> /dev/null |
        awk '/Depends: linux-image-[0-9]/ { sub(/:arm64$/, "", $2); print $2; exit }'
}

# arm64_kver NAME -> full release. From the apt lists when they know the
# arm64 packages, else the newest sysroot of that series already in the
# cache (so a warm cache needs no apt lists and no network).
arm64_kver() {
    local pkg k best=
    pkg=$(arm64_kernel_package "$1")
    if [ -n "$pkg" ]; then
        echo "${pkg#linux-image-}"
        return 0
    fi
    for k in "$ARM64_CACHE"/sysroot-"$1".*-arm64/.complete; do
        [ -e "$k" ] || continue
        k=${k%/.complete}
        k=${k##*/sysroot-}
        best=$(printf '%s\n%s\n' "$best" "$k" | sed '/^$/d' | sort -V | tail -1)
    done
    [ -n "$best" ] || return 1
    echo "$best"
}

# arm64_is_aarch64 FILE: an AArch64 ELF executable (what `file` says).
arm64_is_aarch64() { file -L "$1" 2> /dev/null | grep -q 'ARM aarch64'; }
