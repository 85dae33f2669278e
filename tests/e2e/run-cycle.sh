#!/bin/bash
# One full crash cycle of a real kernel under QEMU (TCG: no KVM needed):
#   first kernel boots -> /init loads the capture kernel (kexec -p, or our
#   crashcapture-kexec-load with KEXEC=ours), fills memory, writes a marker to the kernel log -> sysrq-c -> the capture kernel
#   boots -> /init saves /proc/vmcore into /dump on the ext4 disk -> poweroff.
# Then the host pulls /dump out of the disk image with debugfs (no mount).
#
#   run-cycle.sh [--kver K] [--mem MIB] [--crash SIZE] [--kexec s|c|ours]
#                [--save ours|cp|mdf] [--busy MIB] [--save-args A,B]
#                [--timeout S] [--out DIR] [--saver PATH] [--loader PATH]
#                [--keep-disk] [--crash-type TYPE]
# Each flag has an environment twin (defaults in brackets):
#   KVER [newest 6.1]   MEM [1024]   CRASH [256M]   KEXEC [s]
#   SAVE [ours when the saver is built, else cp]    BUSY [0]
#   SAVE_ARGS (extra crashcapture-save arguments, comma-separated)
#   TIMEOUT [300] for the whole QEMU run   OUT [$CACHE/runs/<kver>-<knobs>]
#   SAVER [build/cli/crashcapture-save]   KEEP_DISK [0]
#   LOADER [build/tests/e2e/crashcapture-kexec-load] (KEXEC=ours)
#   CPU [qemu64]   SMP [1]   ACCEL [tcg; tcg,thread=multi when SMP > 1, one
#     host thread per vCPU]   CAPTURE_CPUS [SMP]: the capture kernel's nr_cpus=
#   CRASH_TYPE [sysrq]: how the first kernel crashes (guest-init.sh's
#     e2e.crash=; lib.sh lists the types). Types other than sysrq build
#     crashtest.ko for the kernel (crashtest/build-module.sh) into images of
#     their own; nmi gives QEMU a QMP socket, OUT/qmp.sock, over which this
#     script sends inject-nmi once the guest prints CRASH_TRIGGER.
#
# OUT receives serial.log (each line prefixed with seconds since QEMU
# started), timings.txt, qemu-cmd.txt and the dump directory's files
# (vmcore, vmcore-dmesg.txt, status.json for ours, capture-kernel.log, ...).
# Exit status 0 when the guest reported CAPTURE_DONE; otherwise the last 40
# lines of the serial log and exit 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KVER=${KVER:-6.1}
MEM=${MEM:-1024}
CRASH=${CRASH:-256M}
KEXEC=${KEXEC:-s}
SAVE=${SAVE:-}
BUSY=${BUSY:-0}
SAVE_ARGS=${SAVE_ARGS:-}
TIMEOUT=${TIMEOUT:-300}
OUT=${OUT:-}
SAVER=${SAVER:-$DEFAULT_SAVER}
LOADER=${LOADER:-$DEFAULT_LOADER}
KEEP_DISK=${KEEP_DISK:-0}
CPU=${CPU:-qemu64}
SMP=${SMP:-1}
ACCEL=${ACCEL:-}
CAPTURE_CPUS=${CAPTURE_CPUS:-}
CRASH_TYPE=${CRASH_TYPE:-sysrq}

while [ $# -gt 0 ]; do
    case $1 in
        --kver) KVER=$2 ;;
        --mem) MEM=$2 ;;
        --crash) CRASH=$2 ;;
        --kexec) KEXEC=$2 ;;
        --save) SAVE=$2 ;;
        --busy) BUSY=$2 ;;
        --save-args) SAVE_ARGS=$2 ;;
        --timeout) TIMEOUT=$2 ;;
        --out) OUT=$2 ;;
        --saver) SAVER=$2 ;;
        --loader) LOADER=$2 ;;
        --crash-type) CRASH_TYPE=$2 ;;
        --keep-disk)
            KEEP_DISK=1
            shift
            continue
            ;;
        -h | --help)
            e2e_usage "$0"
            ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
    [ $# -ge 2 ] || e2e_die "$1 needs a value"
    shift 2
done

e2e_need qemu-system-x86_64 mkfs.ext4 debugfs timeout truncate
KVER=$(e2e_kver "$KVER")
if [ -z "$SAVE" ]; then
    SAVE="cp"
    [ -x "$SAVER" ] && SAVE=ours
fi
case $SAVE in
    ours) [ -x "$SAVER" ] || e2e_die "SAVE=ours but $SAVER is not built" ;;
    cp | mdf) ;;
    *) e2e_die "SAVE must be ours, cp or mdf, not '$SAVE'" ;;
esac
case $KEXEC in
    s | c) ;;
    ours) [ -x "$LOADER" ] || e2e_die "KEXEC=ours but $LOADER is not built (cmake --build build --target crashcapture-kexec-load)" ;;
    *) e2e_die "KEXEC must be s, c or ours, not '$KEXEC'" ;;
esac
case "$MEM$BUSY$TIMEOUT$SMP$CAPTURE_CPUS" in *[!0-9]*) e2e_die "MEM, BUSY, TIMEOUT, SMP and CAPTURE_CPUS are numbers" ;; esac
CAPTURE_CPUS=${CAPTURE_CPUS:-$SMP}
if [ -z "$ACCEL" ]; then
    ACCEL=tcg
    [ "$SMP" -le 1 ] || ACCEL=tcg,thread=multi
fi
[ "$SAVE" = ours ] || SAVER=
e2e_crash_expect "$CRASH_TYPE" > /dev/null || e2e_die "CRASH_TYPE must be one of: $E2E_CRASH_TYPES"
# Every type but sysrq gets the module in its images, also oom and nmi that
# do not load it: one image per kernel for the whole matrix, kept apart from
# the sysrq images every other test uses.
module=
if [ "$CRASH_TYPE" != sysrq ]; then
    module=$("$E2E_DIR/crashtest/build-module.sh" "$KVER") || e2e_die "no crashtest module for $KVER"
fi
OUT=${OUT:-$CACHE/runs/$KVER-m$MEM-ck$CRASH-k$KEXEC-$SAVE-b$BUSY}

images=$(e2e_initramfs "$KVER" "$SAVER" "$LOADER" "$module")

# OUT belongs to this run: it is emptied first, but only when a previous run
# made it (or it is empty), never an arbitrary directory.
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -e "$OUT/.e2e-run" ]; then
    e2e_die "$OUT exists and was not made by run-cycle.sh; refusing to empty it"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/.e2e-run"

# A sparse disk with room for a raw copy of all memory plus the logs.
disk=$OUT/disk.img
e2e_disk_create "$disk" $((MEM + 512))

cmdline="console=ttyS0 crashkernel=$CRASH panic=1 e2e.kexec=$KEXEC e2e.save=$SAVE e2e.busy=$BUSY"
[ "$CAPTURE_CPUS" = 1 ] || cmdline="$cmdline e2e.capcpus=$CAPTURE_CPUS"
[ -z "$SAVE_ARGS" ] || cmdline="$cmdline e2e.saveargs=$SAVE_ARGS"
[ "$CRASH_TYPE" = sysrq ] || cmdline="$cmdline e2e.crash=$CRASH_TYPE"
# -nodefaults: no VGA, NIC or floppy to probe (boot time under TCG);
# -no-reboot: the capture kernel's panic=1 ends QEMU instead of looping;
# cache=unsafe: the host's page cache is fine for a throwaway disk.
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -accel "$ACCEL" -cpu "$CPU"
    -smp "$SMP" -m "$MEM" -kernel "$images/vmlinuz" -initrd "$images/first.img"
    -append "$cmdline" -drive "file=$disk,format=raw,if=virtio,cache=unsafe"
    -serial stdio -display none -no-reboot)
[ "$CRASH_TYPE" != nmi ] || qemu+=(-qmp "unix:$OUT/qmp.sock,server=on,wait=off")
printf '%q ' "${qemu[@]}" > "$OUT/qemu-cmd.txt"
echo >> "$OUT/qemu-cmd.txt"

e2e_log "cycle: kernel $KVER, ${MEM} MiB, crashkernel=$CRASH, kexec=$KEXEC, save=$SAVE," \
    "busy ${BUSY} MiB, $SMP vCPU ($ACCEL), capture nr_cpus=$CAPTURE_CPUS, timeout ${TIMEOUT}s -> $OUT"
# inject_nmi_when_ready: what a BMC's "diagnostic interrupt" does, once the
# guest has set unknown_nmi_panic and says so with CRASH_TRIGGER.
inject_nmi_when_ready() {
    local _
    for _ in $(seq $((TIMEOUT * 2))); do
        if grep -q 'E2E: CRASH_TRIGGER' "$OUT/serial.log" 2> /dev/null; then
            "$PYTHON" "$E2E_DIR/qmp.py" "$OUT/qmp.sock" inject-nmi > "$OUT/inject-nmi.txt" 2>&1
            return
        fi
        sleep 0.5
    done
}
t0=$(e2e_us)
set +e
[ "$CRASH_TYPE" != nmi ] || inject_nmi_when_ready &
timeout -k 10 "$TIMEOUT" "${qemu[@]}" < /dev/null 2>&1 | e2e_timestamp "$t0" > "$OUT/serial.log"
qemu_rc=${PIPESTATUS[0]}
wait
set -e
t_exit=$(e2e_secs $(($(e2e_us) - t0)))

# ---- timings, from the guest's E2E: lines ----
log=$OUT/serial.log
at() { e2e_stamp "$log" "$@"; }
crash=$(at 'E2E: CRASH_TRIGGER')
# With two vCPUs the guest's CRASH_TRIGGER line never reached the serial log
# (it was still in the tty's buffer, we think, when the panic stopped the
# other CPU); the kernel's own line of the trigger (drivers/tty/sysrq.c,
# printed before the panic) is then the time of the crash.
[ -n "$crash" ] || [ "$CRASH_TYPE" != sysrq ] || crash=$(at 'sysrq: Trigger a crash')
# The panic itself: later than the trigger for the types a watchdog detects
# (soft lockup, hung task) or that take a while (OOM). Empty for an oops,
# which kexecs before any panic line (oops_end() calls crash_kexec()), and
# for an NMI, whose panic line reaches the log but not the serial console
# (printk from NMI context is flushed to consoles later, never here).
panic_at=$(at 'Kernel panic - not syncing')
done_at=$(at 'E2E: CAPTURE_DONE')
# field KEY: the value of KEY=... on the guest's E2E: lines ("" if none)
field() { { grep -o "E2E: .*[ ]$1=[^ ]*" "$log" || true; } | head -1 | sed "s/.*[ ]$1=//"; }
{
    echo "# kernel=$KVER mem=$MEM crashkernel=$CRASH kexec=$KEXEC save=$SAVE busy=$BUSY crash_type=$CRASH_TYPE smp=$SMP accel=$ACCEL capture_cpus=$CAPTURE_CPUS qemu_rc=$qemu_rc"
    echo "# seconds since QEMU started, then durations"
    echo "first_kernel_start $(at 'Linux version' 1)"
    echo "first_init $(at 'E2E: INIT_FIRST')"
    echo "kexec_load_start $(at 'E2E: KEXEC_LOAD_START')"
    echo "kexec_load_done $(at 'E2E: KEXEC_LOAD_DONE')"
    echo "busy_start $(at 'E2E: BUSY_START')"
    echo "busy_done $(at 'E2E: BUSY_DONE')"
    echo "crash_trigger $crash"
    echo "panic $panic_at"
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
    echo "panic_to_capture_done $(e2e_elapsed "$panic_at" "$done_at")"
    echo "whole_cycle $t_exit"
    # "Memory: 48788K/115316K available (...)": what the capture kernel had
    # left after its own image, the initrd and early allocations.
    echo "# the capture kernel's memory at boot (its \"Memory: A/T available\" line, KiB),"
    echo "# at /init (kB, /proc/meminfo), and the saver's peak RSS (VmHWM, KiB)"
    boot_memory=$(awk '/Linux version/ { n++ }
        n >= 2 && match($0, /Memory: [0-9]+K\/[0-9]+K/) { print substr($0, RSTART + 8, RLENGTH - 8); exit }' "$log")
    boot_memory=${boot_memory//K/}
    echo "capture_boot_available_kib ${boot_memory%/*}"
    echo "capture_boot_total_kib ${boot_memory#*/}"
    echo "capture_online_cpus $(field cpus)"
    echo "capture_memtotal_kib $({ grep -o 'E2E: INIT_CAPTURE.*MemTotal: [0-9]*' "$log" || true; } | head -1 | sed 's/.* //')"
    echo "save_memavailable_kib $(field memavailable_kib)"
    echo "save_vmhwm_kib $(field vmhwm_kib)"
} > "$OUT/timings.txt"

# ---- results out of the disk image ----
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
