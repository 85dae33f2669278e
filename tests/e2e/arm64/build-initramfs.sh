#!/bin/bash
# Build the arm64 guest images for one kernel from its sysroot (fetch.sh):
#   build-initramfs.sh KVER OUTDIR [SAVER_BINARY]
# KVER is a full release (6.1.0-57-arm64); SAVER_BINARY an arm64
# crashcapture-save (optional: without it the guest saves with cp).
#
# OUTDIR receives:
#   Image        the Debian arm64 vmlinuz as is: a plain, uncompressed arm64
#                Image with an EFI-stub PE header (# CONFIG_EFI_ZBOOT is not
#                set), which both qemu -kernel and kexec -c take
#   capture.img  gzip cpio: busybox, kexec, vmcore-dmesg, makedumpfile, the
#                saver, their shared libraries, the modules for an ext4 virtio
#                disk, guest-init.sh as /init
#   first.img    an uncompressed cpio with /boot/vmlinuz and
#                /boot/capture.img (what kexec -p loads), then capture.img
#                (the same /init serves both kernels; ../build-initramfs.sh
#                says why the uncompressed archive comes first)
#
# Nothing here runs arm64 code: shared libraries are resolved from the ELF
# NEEDED entries (readelf -d; ldd cannot run a foreign binary), recursively,
# in the sysroot and then in the host's multiarch arm64 directories
# (/lib/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu: where the arm64 -dev
# packages a cross-built saver links against put their libraries).
# Reused while nothing it is made of changed (OUTDIR/.fingerprint).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || e2e_die "usage: build-initramfs.sh KVER OUTDIR [SAVER_BINARY]"
KVER=$1
OUTDIR=$2
SAVER=${3:-}
SYSROOT=$ARM64_CACHE/sysroot-$KVER
[ -e "$SYSROOT/.complete" ] || e2e_die "no sysroot for $KVER in $ARM64_CACHE (run fetch.sh $KVER)"
if [ -n "$SAVER" ]; then
    arm64_is_aarch64 "$SAVER" || e2e_die "$SAVER is not an arm64 ELF binary: $(file -b "$SAVER")"
fi
e2e_need busybox cpio gzip depmod modprobe readelf xz file
MODULES=(virtio_pci virtio_blk crc32c_generic ext4)
PROGRAMS=(/sbin/kexec /sbin/vmcore-dmesg /usr/bin/makedumpfile)
LIBDIRS=(lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu)

fingerprint() {
    {
        sha256sum "$ARM64_DIR/build-initramfs.sh" "$ARM64_DIR/guest-init.sh" "$ARM64_DIR/lib.sh" "$ARM64_DIR/../guest-measure.sh"
        stat -c '%n %s %Y' "$SYSROOT/.complete"
        [ -z "$SAVER" ] || sha256sum "$SAVER"
        [ -z "${LOADER:-}" ] || sha256sum "$LOADER"
        echo "modules ${MODULES[*]}"
    } | sha256sum | cut -d' ' -f1
}
want=$(fingerprint)
if [ -s "$OUTDIR/first.img" ] && [ "$(cat "$OUTDIR/.fingerprint" 2> /dev/null)" = "$want" ]; then
    e2e_log "up to date: $OUTDIR (kernel $KVER, saver: ${SAVER:-none})"
    exit 0
fi

mkdir -p "$OUTDIR"
work=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,boot,etc} "$root/lib/modules/$KVER"

# ---- busybox ----
# busybox --list cannot run here (arm64): the applet list comes from the
# host's busybox-static, the same 1.35 (reference RESULTS.md, pitfall 8).
cp "$SYSROOT/bin/busybox" "$root/bin/busybox"
for applet in $(busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -sf ../bin/busybox "$root/sbin/modprobe"

# ---- programs and their NEEDED libraries ----
declare -A seen=()
# find_library NAME -> the file providing NAME: sysroot first (the versions
# the guest's kexec was built with), then the host's arm64 multiarch dirs.
find_library() {
    local dir
    for dir in "${LIBDIRS[@]/#/$SYSROOT/}" "${LIBDIRS[@]/#//}"; do
        [ -e "$dir/$1" ] && { echo "$dir/$1"; return 0; }
    done
    return 1
}
# add_libraries ELF: its NEEDED libraries, recursively, into the image's
# /lib/aarch64-linux-gnu (on the loader's default search path for arm64).
add_libraries() {
    local name path
    for name in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -n "${seen[$name]:-}" ] && continue
        seen[$name]=1
        path=$(find_library "$name") || e2e_die "no arm64 $name (NEEDED by $1) in $SYSROOT or the host"
        cp -L "$path" "$root/lib/aarch64-linux-gnu/$name"
        add_libraries "$path"
    done
}
mkdir -p "$root/lib/aarch64-linux-gnu"
for program in "${PROGRAMS[@]}"; do
    mkdir -p "$root$(dirname "$program")"
    cp -L "$SYSROOT$program" "$root$program"
    add_libraries "$SYSROOT$program"
done
# install_arm64_binary BINARY NAME: BINARY as /usr/bin/NAME, with its
# libraries. The capture kernel unpacks the initramfs into its reserved
# memory: ship the code, not the DWARF. The host's binutils strip knows x86
# only; the cross one (binutils-aarch64-linux-gnu, which a cross build has)
# or llvm-strip (any machine) do, else the binary goes in as built.
install_arm64_binary() {
    local strip_tool
    strip_tool=$(command -v aarch64-linux-gnu-strip || command -v llvm-strip || true)
    if [ -n "$strip_tool" ]; then
        "$strip_tool" --strip-debug -o "$root/usr/bin/$2" "$1"
    else
        install -m 0755 "$1" "$root/usr/bin/$2"
    fi
    add_libraries "$1"
}
[ -z "$SAVER" ] || install_arm64_binary "$SAVER" crashcapture-save
# LOADER: an arm64 crashcapture-kexec-load, the library's loader as the
# daemon uses it (e2e.kexec=ours in guest-init.sh).
if [ -n "${LOADER:-}" ]; then
    arm64_is_aarch64 "$LOADER" || e2e_die "$LOADER is not an arm64 ELF binary: $(file -b "$LOADER")"
    install_arm64_binary "$LOADER" crashcapture-kexec-load
fi
# PT_INTERP of every Debian arm64 program.
cp -L "$SYSROOT/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$root/lib/aarch64-linux-gnu/"
ln -sf aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"

# ---- modules, resolved on the host, decompressed (6.12 ships .ko.xz) ----
for module in "${MODULES[@]}"; do
    modprobe -d "$SYSROOT" -S "$KVER" --show-depends "$module" ||
        e2e_die "modprobe -S $KVER cannot resolve $module"
done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r ko; do
    rel=${ko#"$SYSROOT"}
    dest=$root${rel%.xz}
    dest=${dest%.zst}
    mkdir -p "$(dirname "$dest")"
    case $ko in
        *.xz) xz -dc "$ko" > "$dest" ;;
        *.zst) zstd -q -dc "$ko" > "$dest" ;;
        *) cp "$ko" "$dest" ;;
    esac
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
    cp "$SYSROOT/lib/modules/$KVER/$f" "$root/lib/modules/$KVER/"
done
depmod -b "$root" "$KVER"
install -m 0755 "$ARM64_DIR/guest-init.sh" "$root/init"
install -m 0644 "$ARM64_DIR/../guest-measure.sh" "$root/guest-measure.sh"

# ---- the images ----
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) > "$work/capture.img"
extra=$work/extra
mkdir -p "$extra/boot"
cp "$SYSROOT/boot/vmlinuz-$KVER" "$extra/boot/vmlinuz"
cp "$work/capture.img" "$extra/boot/capture.img"
(cd "$extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$work/extra.cpio"
cat "$work/extra.cpio" "$work/capture.img" > "$work/first.img"
cp "$SYSROOT/boot/vmlinuz-$KVER" "$work/Image"
for f in Image capture.img first.img; do
    mv -f "$work/$f" "$OUTDIR/$f"
done
echo "$want" > "$OUTDIR/.fingerprint"
e2e_log "built $OUTDIR for $KVER: capture.img $(stat -c %s "$OUTDIR/capture.img") bytes" \
    "(unpacked $(du -sh "$root" | cut -f1)), saver: ${SAVER:-none}"
