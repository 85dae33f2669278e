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

# arm64_binfmt_register: let this amd64 host run arm64 programs, for the
# arm64 Debian image of test-systemd-guest.sh (debootstrap --arch=arm64's
# second stage, `chroot dpkg -i`, dracut in the chroot). A static
# qemu-aarch64 of our own, registered under a private name
# ($ARM64_BINFMT_NAME) with the F (fix-binary) flag: the kernel opens the
# interpreter at registration, so it also runs in a chroot that has no QEMU.
# The static binary comes from the qemu-user-static .deb, downloaded once
# into $ARM64_CACHE/qemu-user-static and only unpacked there: installing it
# conflicts with qemu-user-binfmt. The magic and mask are those of
# qemu-user-binfmt's /usr/lib/binfmt.d/qemu-aarch64.conf (the same values
# when it is missing). Mounts binfmt_misc if it is not (then
# arm64_binfmt_unregister unmounts it again). Returns 1 with the reason on
# stderr when binfmt_misc cannot be mounted or written: the caller skips.
ARM64_BINFMT_NAME=crashcapture-aarch64
ARM64_BINFMT_DIR=/proc/sys/fs/binfmt_misc
arm64_binfmt_register() {
    local dir=$ARM64_CACHE/qemu-user-static qemu magic mask
    qemu=$dir/root/usr/bin/qemu-aarch64-static
    if [ ! -x "$qemu" ]; then
        mkdir -p "$dir"
        rm -rf "$dir/root" "$dir"/*.deb
        (cd "$dir" && apt-get download qemu-user-static > download.log 2>&1) ||
            { e2e_log "apt-get download qemu-user-static failed: $(tail -2 "$dir/download.log")"; return 1; }
        dpkg-deb -x "$dir"/qemu-user-static_*.deb "$dir/root" || return 1
        [ -x "$qemu" ] || { e2e_log "no usr/bin/qemu-aarch64-static in qemu-user-static"; return 1; }
    fi
    ARM64_BINFMT_MOUNTED=0
    if [ ! -e "$ARM64_BINFMT_DIR/register" ]; then
        mount -t binfmt_misc binfmt_misc "$ARM64_BINFMT_DIR" 2> /dev/null ||
            { e2e_log "cannot mount binfmt_misc on $ARM64_BINFMT_DIR"; return 1; }
        ARM64_BINFMT_MOUNTED=1
    fi
    magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
    mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    if [ -r /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
        IFS=: read -r _ _ _ _ magic mask _ < /usr/lib/binfmt.d/qemu-aarch64.conf
    fi
    # A leftover of a run that was killed: register it afresh.
    [ -e "$ARM64_BINFMT_DIR/$ARM64_BINFMT_NAME" ] && echo -1 > "$ARM64_BINFMT_DIR/$ARM64_BINFMT_NAME"
    printf ':%s:M::%s:%s:%s:F' "$ARM64_BINFMT_NAME" "$magic" "$mask" "$qemu" \
        > "$ARM64_BINFMT_DIR/register" 2> /dev/null ||
        { e2e_log "cannot register $ARM64_BINFMT_NAME in $ARM64_BINFMT_DIR/register"; arm64_binfmt_unregister; return 1; }
}

# arm64_binfmt_unregister: undo arm64_binfmt_register (safe to call twice).
arm64_binfmt_unregister() {
    if [ -e "$ARM64_BINFMT_DIR/$ARM64_BINFMT_NAME" ]; then
        echo -1 > "$ARM64_BINFMT_DIR/$ARM64_BINFMT_NAME" || true
    fi
    if [ "${ARM64_BINFMT_MOUNTED:-0}" = 1 ]; then
        umount "$ARM64_BINFMT_DIR" || true
        ARM64_BINFMT_MOUNTED=0
    fi
}
