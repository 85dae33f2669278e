#!/bin/bash
# Fetch what an arm64 crash cycle needs, from a fresh Debian 12 amd64 host:
#   fetch.sh KVER       (6.1, 6.12 or a full release such as 6.1.0-57-arm64)
# Prints the sysroot directory: $CRASHCAPTURE_CACHE/arm64/sysroot-<kver>,
# the kernel's and the guest user space's arm64 .debs unpacked with
# `dpkg-deb -x`, plus a cross-arch `depmod`. No arm64 package is installed.
#
# As root and when missing, it adds the arm64 dpkg architecture and runs
# `apt-get update` (apt-get download needs the arm64 package lists; undo with
# `dpkg --remove-architecture arm64`), and installs qemu-system-arm and
# qemu-user (scripts/install-deps.sh installs them too).
# A complete sysroot (its .complete stamp) is reused without any apt call, so
# a warm cache works offline.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 1 ] || e2e_die "usage: fetch.sh KVER"
want=$1
export DEBIAN_FRONTEND=noninteractive

# Reuse: a sysroot that was unpacked completely, and no apt lists needed.
if kver=$(arm64_kver "$want") && [ -e "$ARM64_CACHE/sysroot-$kver/.complete" ] &&
    command -v qemu-system-aarch64 > /dev/null; then
    echo "$ARM64_CACHE/sysroot-$kver"
    exit 0
fi

[ "$(id -u)" = 0 ] || e2e_die "the arm64 sysroot for $want is not in $ARM64_CACHE; run as root to fetch it"
if ! command -v qemu-system-aarch64 > /dev/null || ! command -v qemu-aarch64 > /dev/null; then
    apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 qemu-system-arm qemu-user >&2
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    e2e_log "adding the arm64 dpkg architecture (for apt-get download of arm64 .debs only)"
    dpkg --add-architecture arm64
    apt-get update -o DPkg::Lock::Timeout=600 >&2
elif [ -z "$(arm64_kernel_package "$want")" ] || ! apt-cache show busybox-static:arm64 > /dev/null 2>&1; then
    apt-get update -o DPkg::Lock::Timeout=600 >&2
fi
pkg=$(arm64_kernel_package "$want")
[ -n "$pkg" ] || e2e_die "apt knows no arm64 kernel for '$want'"
kver=${pkg#linux-image-}
packages=("${ARM64_USER_PACKAGES[@]/%/:arm64}" "$pkg:arm64")

# Download only the .debs not in the cache yet: apt-get download would fetch
# every one again. --print-uris names each file without downloading it.
debs=$ARM64_CACHE/debs
mkdir -p "$debs"
files=()
missing=()
while read -r _ file _; do
    files+=("$file")
    [ -s "$debs/$file" ] || missing+=("${file%%_*}:arm64")
done < <(apt-get download --print-uris "${packages[@]}")
[ ${#files[@]} = ${#packages[@]} ] || e2e_die "apt-get download --print-uris named ${#files[@]} files for ${#packages[@]} packages"
if [ ${#missing[@]} -gt 0 ]; then
    e2e_log "downloading ${#missing[@]} arm64 .deb(s) into $debs"
    (cd "$debs" && apt-get download "${missing[@]}" >&2)
fi

root=$ARM64_CACHE/sysroot-$kver
rm -rf "$root"
mkdir -p "$root"
for file in "${files[@]}"; do
    dpkg-deb -x "$debs/$file" "$root"
done
# kmod reads modules of any ELF class and byte order: depmod and modprobe
# --show-depends work on the arm64 tree from the amd64 host.
depmod -b "$root" "$kver"
[ -s "$root/boot/vmlinuz-$kver" ] || e2e_die "no boot/vmlinuz-$kver in $root"
touch "$root/.complete"
e2e_log "sysroot $root: $(file -b "$root/boot/vmlinuz-$kver")"
echo "$root"
