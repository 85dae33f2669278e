#!/bin/bash
# One arm64 crash cycle of a real Debian arm64 kernel under
# qemu-system-aarch64 (TCG, on an amd64 host): the first kernel loads the
# capture kernel with kexec -p -c, writes a marker, crashes with sysrq-c; the
# capture kernel saves /proc/vmcore into /dump on an ext4 disk and powers
# off; the host pulls /dump out with debugfs. Builds the images first
# (reused when up to date); the sysroot must be fetched (fetch.sh).
#
# Env (defaults in brackets):
#   KVER [6.1]   6.1, 6.12 or a full release
#   SAVE [ours when SAVER is set, else cp]   cp, mdf, cp+mdf or ours
#   SAVER        an arm64 crashcapture-save to run in the capture kernel
#                (SAVE=ours), invoked as ../guest-init.sh does
#   CPU [cortex-a57]  -cpu max emulates QARMA pointer authentication and is
#                ~7x slower (reference RESULTS.md, pitfall 4); for LPA2
#                (52-bit VA in use, 6.12): max,pauth-impdef=on
#   MEM [1024]   CRASH [256M]   TIMEOUT [600]   KEEP_DISK [0]
#   KEXECOPT [-i]  kexec options; -i: no purgatory SHA-256 check (19.5 s
#                under TCG, pitfall 3)
#   OUT [$CACHE/arm64/runs/<kver>-<cpu>-<save>]
# OUT receives serial.log (host timestamps), timings.txt, qemu-cmd.txt and
# the dump directory (vmcore, vmcore-dmesg.txt, capture-kernel.log, ...).
# Exit 0 when the guest reported CAPTURE_DONE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "${1:-}" = --help ] || [ "${1:-}" = -h ] && e2e_usage "$0"
KVER=${KVER:-6.1}
SAVER=${SAVER:-}
SAVE=${SAVE:-}
CPU=${CPU:-cortex-a57}
MEM=${MEM:-1024}
CRASH=${CRASH:-256M}
TIMEOUT=${TIMEOUT:-600}
KEEP_DISK=${KEEP_DISK:-0}
KEXECOPT=${KEXECOPT--i}
# LOADER: an arm64 crashcapture-kexec-load; the first kernel then loads the
# capture kernel through it (e2e.kexec=ours) instead of kexec -p -c.
LOADER=${LOADER:-}
export LOADER

e2e_need qemu-system-aarch64 mkfs.ext4 debugfs timeout truncate
KVER=$(arm64_kver "$KVER") || e2e_die "no arm64 kernel '$KVER' (run fetch.sh $KVER)"
if [ -z "$SAVE" ]; then
    SAVE="cp"
    [ -z "$SAVER" ] || SAVE=ours
fi
case $SAVE in
    ours) [ -n "$SAVER" ] || e2e_die "SAVE=ours needs SAVER=PATH (an arm64 crashcapture-save)" ;;
    cp | mdf | cp+mdf) SAVER= ;;
    *) e2e_die "SAVE must be cp, mdf, cp+mdf or ours, not '$SAVE'" ;;
esac
# One cycle at a time: cycles share the images in $ARM64_CACHE/initramfs,
# and on a 2-core host two of them would time each other. A cycle waits for
# the one before it (another kind of guest, such as the arm64 systemd guest,
# may run beside it on the other core).
mkdir -p "$ARM64_CACHE"
exec 8> "$ARM64_CACHE/.run-cycle.lock"
flock 8
OUT=${OUT:-$ARM64_CACHE/runs/$KVER-${CPU%%,*}-$SAVE}
images=$ARM64_CACHE/initramfs/$KVER-$([ -n "$SAVER" ] && echo saver || echo nosaver)$([ -z "$LOADER" ] || echo -loader)
"$ARM64_DIR/build-initramfs.sh" "$KVER" "$images" ${SAVER:+"$SAVER"}

if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -e "$OUT/.e2e-run" ]; then
    e2e_die "$OUT exists and was not made by run-cycle.sh; refusing to empty it"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/.e2e-run"
disk=$OUT/disk.img
e2e_disk_create "$disk" $((MEM + 512))

cmdline="console=ttyAMA0 crashkernel=$CRASH panic=1 e2e.save=$SAVE"
[ -z "$KEXECOPT" ] || cmdline="$cmdline e2e.kexecopt=$KEXECOPT"
[ -z "$LOADER" ] || cmdline="$cmdline e2e.kexec=ours"
# virt: the generic arm64 board (PL011 console ttyAMA0, virtio-pci);
# -no-reboot: the capture kernel's panic=1 ends QEMU instead of looping.
qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu "$CPU" -smp 1 -m "$MEM"
    -kernel "$images/Image" -initrd "$images/first.img" -append "$cmdline"
    -drive "if=none,id=d0,file=$disk,format=raw,cache=unsafe" -device "virtio-blk-pci,drive=d0"
    -nodefaults -no-user-config -display none -serial stdio -no-reboot)
printf '%q ' "${qemu[@]}" > "$OUT/qemu-cmd.txt"
echo >> "$OUT/qemu-cmd.txt"

e2e_log "arm64 cycle: kernel $KVER, -cpu $CPU, ${MEM} MiB, crashkernel=$CRASH, save=$SAVE -> $OUT"
t0=$(e2e_us)
set +e
timeout -k 10 "$TIMEOUT" "${qemu[@]}" < /dev/null 2>&1 | e2e_timestamp "$t0" > "$OUT/serial.log"
qemu_rc=${PIPESTATUS[0]}
set -e
t_exit=$(e2e_secs $(($(e2e_us) - t0)))

log=$OUT/serial.log
at() { e2e_stamp "$log" "$@"; }
field() { { grep -o "E2E: .*[ ]$1=[^ ]*" "$log" || true; } | head -1 | sed "s/.*[ ]$1=//"; }
crash=$(at 'E2E: CRASH_TRIGGER')
done_at=$(at 'E2E: CAPTURE_DONE')
{
    echo "# kernel=$KVER cpu=$CPU mem=$MEM crashkernel=$CRASH save=$SAVE qemu_rc=$qemu_rc"
    echo "# seconds since QEMU started, then durations"
    echo "first_kernel_start $(at 'Linux version' 1)"
    echo "first_init $(at 'E2E: INIT_FIRST')"
    echo "kexec_load_start $(at 'E2E: KEXEC_LOAD_START')"
    echo "kexec_load_done $(at 'E2E: KEXEC_LOAD_DONE')"
    echo "crash_trigger $crash"
    echo "capture_kernel_start $(at 'Linux version' 2)"
    echo "capture_init $(at 'E2E: INIT_CAPTURE')"
    echo "disk_ready $(at 'E2E: DISK_READY')"
    echo "save_start $(at 'E2E: SAVE_START')"
    echo "save_done $(at 'E2E: SAVE_DONE')"
    echo "capture_done $done_at"
    echo "qemu_exit $t_exit"
    echo "crash_to_capture_init $(e2e_elapsed "$crash" "$(at 'E2E: INIT_CAPTURE')")"
    echo "save_duration $(e2e_elapsed "$(at 'E2E: SAVE_START')" "$(at 'E2E: SAVE_DONE')")"
    echo "crash_to_capture_done $(e2e_elapsed "$crash" "$done_at")"
    echo "whole_cycle $t_exit"
    echo "# the capture kernel's MemAvailable when the save started (kB) and the"
    echo "# saver's peak RSS (VmHWM, KiB; ../guest-measure.sh)"
    echo "save_memavailable_kib $(field memavailable_kib)"
    echo "save_vmhwm_kib $(field vmhwm_kib)"
    echo "save_bytes $(field bytes)"
} > "$OUT/timings.txt"

e2e_disk_extract "$disk" /dump "$OUT"
if [ -d "$OUT/dump" ]; then
    find "$OUT/dump" -mindepth 1 -maxdepth 1 -exec mv -f {} "$OUT/" \;
    rmdir "$OUT/dump"
fi
[ "$KEEP_DISK" = 1 ] || rm -f "$disk"

if [ -z "$done_at" ]; then
    why="no CAPTURE_DONE"
    [ "$qemu_rc" = 124 ] && why="timed out after ${TIMEOUT}s"
    grep -q 'E2E: CAPTURE_FAILED' "$log" && why=$(grep -o 'E2E: CAPTURE_FAILED.*' "$log" | head -1)
    grep -q 'E2E: FAIL' "$log" && why=$(grep -o 'E2E: FAIL.*' "$log" | head -1)
    echo "---- last 40 lines of $log"
    tail -n 40 "$log"
    echo "----"
    e2e_log "FAILED: $why (qemu exit $qemu_rc), results in $OUT"
    exit 1
fi
e2e_log "capture done: crash -> capture done $(e2e_elapsed "$crash" "$done_at") s," \
    "whole cycle $t_exit s, results in $OUT"
