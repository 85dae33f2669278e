#!/bin/bash
# Build the guest images for one kernel:
#   build-initramfs.sh KVER OUTDIR [SAVER_BINARY [LOADER_BINARY [MODULE]]]
# KVER may be a full release (6.1.0-56-amd64) or a series (6.1, 6.12).
# SAVER_BINARY defaults to build/cli/crashcapture-save; when it does not exist
# the images are built without it (the guest can then only save with cp/mdf).
# LOADER_BINARY defaults to build/tests/e2e/crashcapture-kexec-load; when it
# does not exist the first kernel can only load with kexec -p (-s or -c).
# MODULE (optional): the crashtest module built for KVER
# (crashtest/build-module.sh), put at /lib/crashtest.ko of the first kernel's
# part only, for the e2e.crash= types that need it.
#
# OUTDIR receives:
#   vmlinuz      the kernel, used for the first and the capture kernel
#   capture.img  gzip cpio: busybox, kexec, vmcore-dmesg, makedumpfile,
#                crashcapture-save, their shared libraries, the modules the
#                capture kernel needs for an ext4 virtio disk, guest-init.sh as /init
#   first.img    the first kernel's initrd: an uncompressed cpio holding
#                /boot/vmlinuz and /boot/capture.img (what `kexec -p` loads)
#                and crashcapture-kexec-load with the shared objects it needs
#                that capture.img lacks, followed by capture.img itself (the
#                same /init runs in both roles)
#
# Reused when nothing it is made of changed (fingerprint in OUTDIR/.fingerprint),
# so callers may run it before every cycle.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || e2e_die "usage: build-initramfs.sh KVER OUTDIR [SAVER_BINARY [LOADER_BINARY [MODULE]]]"
KVER=$(e2e_kver "$1")
OUTDIR=$2
SAVER=${3:-$DEFAULT_SAVER}
[ -x "$SAVER" ] || SAVER=
LOADER=${4:-$DEFAULT_LOADER}
[ -x "$LOADER" ] || LOADER=
MODULE=${5:-}

# What the capture kernel loads, in this order (guest-init.sh): the virtio PCI
# transport and disk, crc32c for ext4 metadata checksums, ext4 itself, and
# qemu_fw_cfg, through which QEMU's -device vmcoreinfo learns where the
# kernel's VMCOREINFO note is (for dump-guest-memory vmcores).
MODULES=(virtio_pci virtio_blk crc32c_generic ext4 qemu_fw_cfg)

e2e_need busybox cpio gzip depmod modprobe ldd strip xz kexec vmcore-dmesg makedumpfile
BUSYBOX=$(command -v busybox)
# Every dynamic program in the image, placed at its host path so that the
# library paths ldd prints are valid inside the guest too.
PROGRAMS=("$(command -v kexec)" "$(command -v vmcore-dmesg)" "$(command -v makedumpfile)")
file -L "$BUSYBOX" 2> /dev/null | grep -q 'statically linked' ||
    e2e_die "$BUSYBOX is not static: install busybox-static"

# ---- reuse ----
fingerprint() {
    {
        sha256sum "$E2E_DIR/build-initramfs.sh" "$E2E_DIR/guest-init.sh" "$E2E_DIR/lib.sh" "$E2E_DIR/guest-measure.sh"
        stat -L -c '%n %s %Y' "/boot/vmlinuz-$KVER" "$BUSYBOX" "${PROGRAMS[@]}"
        [ -z "$SAVER" ] || sha256sum "$SAVER"
        [ -z "$LOADER" ] || sha256sum "$LOADER"
        [ -z "$MODULE" ] || sha256sum "$MODULE"
        echo "modules ${MODULES[*]}"
    } | sha256sum | cut -d' ' -f1
}
want=$(fingerprint)
if [ -s "$OUTDIR/first.img" ] && [ "$(cat "$OUTDIR/.fingerprint" 2> /dev/null)" = "$want" ]; then
    e2e_log "up to date: $OUTDIR (kernel $KVER, saver: ${SAVER:-none}, loader: ${LOADER:-none})"
    exit 0
fi

mkdir -p "$OUTDIR"
work=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,boot,busy,etc} "$root/lib/modules/$KVER"

# copy_at_path FILE [ROOT]: FILE into the image tree ROOT (default: the
# capture image's) at the same absolute path (following symlinks, so
# /lib64/ld-linux-x86-64.so.2 becomes a real file).
copy_at_path() {
    local into=${2:-$root}
    mkdir -p "$into$(dirname "$1")"
    cp -L "$1" "$into$1"
}
# copy_libraries PROGRAM [ROOT]: exactly the shared objects ldd lists for
# PROGRAM (the "=> /path" targets and the loader, which ldd prints as a bare
# path) that neither ROOT nor the capture image has yet.
copy_libraries() {
    local lib into=${2:-$root}
    for lib in $(ldd "$1" | grep -oE '/[^ ]+'); do
        [ -e "$root$lib" ] || [ -e "$into$lib" ] || copy_at_path "$lib" "$into"
    done
}

# ---- busybox: the shell and every tool /init uses ----
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
# The kernel runs /sbin/modprobe for request_module() (e.g. the crypto-crc32c
# alias when ext4 mounts).
ln -sf ../bin/busybox "$root/sbin/modprobe"

# ---- kexec-tools, makedumpfile and our saver ----
for program in "${PROGRAMS[@]}"; do
    copy_at_path "$program"
    copy_libraries "$program"
done
if [ -n "$SAVER" ]; then
    # A RelWithDebInfo build carries ~10 MB of DWARF; the capture kernel
    # unpacks the initramfs into its small reserved memory, so ship the
    # code only.
    strip --strip-debug -o "$root/usr/bin/crashcapture-save" "$SAVER"
    copy_libraries "$SAVER"
fi

# ---- kernel modules, dependencies resolved on the host ----
# (decompressed: e2e_copy_modules)
e2e_copy_modules "$KVER" "$root" "${MODULES[@]}" > /dev/null
for f in modules.order modules.builtin modules.builtin.modinfo; do
    if [ -e "/lib/modules/$KVER/$f" ]; then
        cp "/lib/modules/$KVER/$f" "$root/lib/modules/$KVER/"
    fi
done
depmod -b "$root" "$KVER"

install -m 0755 "$E2E_DIR/guest-init.sh" "$root/init"
install -m 0644 "$E2E_DIR/guest-measure.sh" "$root/guest-measure.sh"

# ---- the capture initramfs ----
# cpio -R 0:0: files owned by root in the guest whoever builds the image.
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) > "$work/capture.img"

# ---- the first kernel's initrd ----
# The kernel unpacks concatenated archives in order, but it only finds an
# uncompressed cpio at the start or right after another uncompressed one:
# after a gzip member it reports "invalid magic at start of compressed
# archive" (reference PITFALLS.md). So the uncompressed archive with the
# kexec payload comes first, then the gzip capture image. The payload is
# stored as is: vmlinuz and capture.img are already compressed.
extra=$work/extra
mkdir -p "$extra/boot"
cp "/boot/vmlinuz-$KVER" "$extra/boot/vmlinuz"
cp "$work/capture.img" "$extra/boot/capture.img"
# Our loader (e2e.kexec=ours) runs in the first kernel only: it stays out of
# capture.img, whose size the crashkernel= sweep measures. Its shared objects
# are mostly the saver's, already in capture.img (unpacked after this
# archive, at the same paths); the others come along here.
if [ -n "$LOADER" ]; then
    mkdir -p "$extra/usr/bin"
    strip --strip-debug -o "$extra/usr/bin/crashcapture-kexec-load" "$LOADER"
    copy_libraries "$LOADER" "$extra"
fi
[ -z "$MODULE" ] || install -D -m 0644 "$MODULE" "$extra/lib/crashtest.ko"
(cd "$extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$work/extra.cpio"
cat "$work/extra.cpio" "$work/capture.img" > "$work/first.img"

# Rename into place, so a cycle running concurrently never reads a
# half-written image; the fingerprint goes last.
cp "/boot/vmlinuz-$KVER" "$work/vmlinuz"
for f in vmlinuz capture.img first.img; do
    mv -f "$work/$f" "$OUTDIR/$f"
done
echo "$want" > "$OUTDIR/.fingerprint"
e2e_log "built $OUTDIR for $KVER: capture.img $(stat -c %s "$OUTDIR/capture.img") bytes" \
    "(unpacked $(du -sh "$root" | cut -f1)), first.img $(stat -c %s "$OUTDIR/first.img") bytes," \
    "saver: ${SAVER:-none}, loader: ${LOADER:-none}"
