#!/bin/bash
# A vmcore of a live guest, without a crash: boot the test guest, let it fill
# its memory and idle, then have QEMU write all guest RAM as an ELF core with
# the QMP command dump-guest-memory. -device vmcoreinfo plus the guest's
# qemu_fw_cfg module let QEMU find the kernel's VMCOREINFO and put it in a
# note, as /proc/vmcore has it; this reaches any memory size quickly, where a
# real crash cycle has to copy /proc/vmcore through the emulated disk.
#
#   dump-guest-memory.sh --out FILE [--kver K] [--mem MIB] [--busy MIB] [--timeout S]
# Environment twins: OUT, KVER [6.1], MEM [1024], BUSY [0], CRASH [256M],
# TIMEOUT [600], CPU [qemu64], ACCEL [tcg].
# FILE is the ELF as QEMU 7.2 writes it (program headers at e_phoff 192);
# the run's serial log and timings go to FILE.run/. Exit status 0 when FILE
# exists and carries a VMCOREINFO note.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${OUT:-}
KVER=${KVER:-6.1}
MEM=${MEM:-1024}
BUSY=${BUSY:-0}
CRASH=${CRASH:-256M}
TIMEOUT=${TIMEOUT:-600}
CPU=${CPU:-qemu64}
ACCEL=${ACCEL:-tcg}
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2 ;;
        --kver) KVER=$2 ;;
        --mem) MEM=$2 ;;
        --busy) BUSY=$2 ;;
        --timeout) TIMEOUT=$2 ;;
        -h | --help)
            e2e_usage "$0"
            ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
    [ $# -ge 2 ] || e2e_die "$1 needs a value"
    shift 2
done
[ -n "$OUT" ] || e2e_die "--out FILE is required"
e2e_need qemu-system-x86_64 readelf timeout
KVER=$(e2e_kver "$KVER")
images=$(e2e_initramfs "$KVER" "")

run=$OUT.run
rm -rf "$run"
mkdir -p "$run"
sock=$run/qmp.sock
partial=$OUT.partial
rm -f "$partial" "$OUT.bad"

# crashkernel= stays on the command line: a machine set up for crash capture
# has that memory reserved, and the dump should show it.
cmdline="console=ttyS0 crashkernel=$CRASH panic=1 e2e.action=idle e2e.busy=$BUSY"
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -accel "$ACCEL" -cpu "$CPU"
    -smp 1 -m "$MEM" -kernel "$images/vmlinuz" -initrd "$images/first.img"
    -append "$cmdline" -device vmcoreinfo -qmp "unix:$sock,server=on,wait=off"
    -serial stdio -display none -no-reboot)
printf '%q ' "${qemu[@]}" > "$run/qemu-cmd.txt"
echo >> "$run/qemu-cmd.txt"

e2e_log "live dump: kernel $KVER, ${MEM} MiB, busy ${BUSY} MiB -> $OUT"
t0=$(e2e_us)
# The timestamper reads QEMU's output through a process substitution, so $!
# is timeout's pid (a pipeline's $! would be the timestamper's).
timeout -k 10 "$TIMEOUT" "${qemu[@]}" < /dev/null > >(e2e_timestamp "$t0" > "$run/serial.log") 2>&1 &
qemu_pid=$!
trap 'kill "$qemu_pid" 2> /dev/null || true; rm -f "$partial"' EXIT

fail() {
    echo "---- last 40 lines of $run/serial.log"
    tail -n 40 "$run/serial.log"
    e2e_die "$*"
}
until grep -q 'E2E: IDLE' "$run/serial.log" 2> /dev/null; do
    kill -0 "$qemu_pid" 2> /dev/null || fail "QEMU ended before the guest was idle"
    grep -q 'E2E: FAIL' "$run/serial.log" && fail "the guest failed"
    sleep 0.2
done
t_idle=$(e2e_us)
grep -q 'E2E: IDLE vmcoreinfo=none' "$run/serial.log" &&
    fail "the guest has no fw_cfg vmcoreinfo entry: the dump would lack VMCOREINFO"

# paging=false: physical memory as PT_LOADs, like /proc/vmcore; the guest's
# page tables are not walked (that would need a cooperative guest state).
t_dump=$(e2e_us)
"$PYTHON" "$E2E_DIR/qmp.py" "$sock" dump-guest-memory \
    "{\"paging\": false, \"protocol\": \"file:$partial\", \"format\": \"elf\"}" > "$run/qmp-dump.json" ||
    fail "dump-guest-memory: $(cat "$run/qmp-dump.json")"
t_done=$(e2e_us)
"$PYTHON" "$E2E_DIR/qmp.py" "$sock" quit > /dev/null 2>&1 || true
wait "$qemu_pid" || true
trap - EXIT

# Whole output first: grep -q closing the pipe early would kill readelf with
# SIGPIPE, which pipefail reports as a failure.
notes=$(readelf -n "$partial" 2>&1 || true)
if ! grep -q VMCOREINFO <<< "$notes"; then
    mv -f "$partial" "$OUT.bad"
    e2e_die "the dump has no VMCOREINFO note (kept as $OUT.bad; readelf: $(head -c 300 <<< "$notes"))"
fi
mv -f "$partial" "$OUT"
{
    echo "# kernel=$KVER mem=$MEM busy=$BUSY crashkernel=$CRASH"
    echo "boot_to_idle $(e2e_secs $((t_idle - t0)))"
    echo "dump_guest_memory $(e2e_secs $((t_done - t_dump)))"
    echo "bytes $(stat -c %s "$OUT")"
} > "$run/timings.txt"
e2e_log "wrote $OUT ($(stat -c %s "$OUT") bytes): idle after $(e2e_secs $((t_idle - t0))) s," \
    "dump-guest-memory $(e2e_secs $((t_done - t_dump))) s"
