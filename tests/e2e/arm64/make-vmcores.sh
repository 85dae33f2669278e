#!/bin/bash
# Make the real arm64 vmcores other tests read (the arm64 address
# translation, byte-equality against makedumpfile), one crash cycle each:
#   make-vmcores.sh [NAME...]     (default: all three below)
#   6.1     Debian 6.1, -cpu cortex-a57: VA_BITS 48. Plus makedumpfile 1.7.2
#           (arm64) files: -l -d 31 and --dump-dmesg in the capture kernel,
#           and on the host under qemu-user -d 1 and -d 31 uncompressed
#   6.12    Debian 6.12, -cpu max,pauth-impdef=on: LPA2, 52-bit VA in use
#           (TCR_EL1_T1SZ 12). makedumpfile 1.7.2 cannot read it.
#   6.12-va48   the same kernel on cortex-a57 (no LPA2): VA_BITS 52 in
#           VMCOREINFO, but TCR_EL1_T1SZ 16 (48 bits in use)
# Into $VMCORES [$CRASHCAPTURE_CACHE/arm64/vmcores]/<kver>[-va48]/: vmcore
# (cp /proc/vmcore), vmcore-dmesg (the host's /usr/sbin/vmcore-dmesg),
# marker.txt (what the crashed kernel wrote to /dev/kmsg), serial.log,
# qemu-cmd.txt and the vmcore.mdf-* files, then an empty READY-<dir> next to
# it. An existing directory is kept (KASLR makes every vmcore different;
# other work may be reading it) unless FORCE=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "${1:-}" = --help ] || [ "${1:-}" = -h ] && e2e_usage "$0"
VMCORES=${VMCORES:-$ARM64_CACHE/vmcores}
[ $# -gt 0 ] || set -- 6.1 6.12 6.12-va48
mkdir -p "$VMCORES"

for name in "$@"; do
    series=${name%-va48}
    case $name in
        6.1) cpu=cortex-a57 save=cp+mdf ;;
        6.12) cpu=max,pauth-impdef=on save=cp ;;
        6.12-va48) cpu=cortex-a57 save=cp ;;
        *) e2e_die "unknown vmcore '$name' (6.1, 6.12 or 6.12-va48)" ;;
    esac
    sysroot=$("$ARM64_DIR/fetch.sh" "$series")
    kver=${sysroot##*/sysroot-}
    dir=$VMCORES/$kver${name#"$series"}
    if [ -e "$dir/vmcore" ] && [ "${FORCE:-0}" != 1 ]; then
        e2e_log "kept $dir (FORCE=1 makes it again)"
        continue
    fi
    out=$ARM64_CACHE/runs/vmcore-$name
    KVER=$kver CPU=$cpu SAVE=$save OUT=$out "$ARM64_DIR/run-cycle.sh"

    rm -f "$VMCORES/READY-${dir##*/}"
    rm -rf "$dir"
    mkdir -p "$dir"
    mv "$out/vmcore" "$dir/vmcore"
    cp "$out/serial.log" "$out/qemu-cmd.txt" "$dir/"
    grep -o 'E2E_MARK_[0-9a-f-]*' "$out/serial.log" | head -1 > "$dir/marker.txt"
    /usr/sbin/vmcore-dmesg "$dir/vmcore" > "$dir/vmcore-dmesg"
    grep -qf "$dir/marker.txt" "$dir/vmcore-dmesg" || e2e_die "the marker is not in $dir/vmcore-dmesg"
    if [ "$save" = cp+mdf ]; then
        mv "$out/vmcore.mdf-l-d31" "$out/vmcore.mdf-dmesg" "$dir/"
        mv "$out/makedumpfile.log" "$dir/vmcore.mdf-l-d31.log"
        # The host's makedumpfile is built for x86_64 only (the architecture
        # is chosen at compile time); the arm64 one runs under qemu-user.
        # -d 1 and -d 31 without -c/-l/-z/-p: uncompressed kdump-compressed
        # files, for byte-equality tests against our uncompressed output.
        e2e_need qemu-aarch64
        mdf=(qemu-aarch64 -L "$sysroot" "$sysroot/usr/bin/makedumpfile")
        for level in 1 31; do
            rm -f "$dir/vmcore.mdf-d$level"
            "${mdf[@]}" -d "$level" "$dir/vmcore" "$dir/vmcore.mdf-d$level" > "$dir/vmcore.mdf-d$level.log" 2>&1 ||
                e2e_die "makedumpfile -d $level under qemu-aarch64: $(tail -3 "$dir/vmcore.mdf-d$level.log")"
        done
        # Its --dump-dmesg on the host must equal the capture kernel's.
        "${mdf[@]}" --dump-dmesg "$dir/vmcore" "$out/host-mdf-dmesg" > "$dir/vmcore.mdf-dmesg.log" 2>&1 ||
            e2e_die "makedumpfile --dump-dmesg under qemu-aarch64 failed"
        cmp "$out/host-mdf-dmesg" "$dir/vmcore.mdf-dmesg" ||
            e2e_log "warning: makedumpfile --dump-dmesg differs between the capture kernel and qemu-user"
    fi
    chmod 0644 "$dir"/* # cp kept /proc/vmcore's mode 0400; these are for other tests to read
    touch "$VMCORES/READY-${dir##*/}"
    e2e_log "made $dir: $(stat -c %s "$dir/vmcore") bytes, $("$PYTHON" "$ARM64_DIR/check-vmcore.py" vmcoreinfo "$dir/vmcore" |
        grep -E '^(NUMBER\((VA_BITS|TCR_EL1_T1SZ)\))=' | tr '\n' ' ')"
done
