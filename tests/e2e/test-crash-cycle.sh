#!/bin/bash
# The end-to-end test of crashcapture-save: crash a real kernel in QEMU and
# check what the capture kernel saved with it.
#   test-crash-cycle.sh KVER        (6.1, 6.12 or a full release)
# Env: SAVE [ours], BUSY [448] MiB of memory filled before the crash, MEM,
# CRASH, KEXEC, TIMEOUT, SAVER (see run-cycle.sh), OUT [$CACHE/runs/test-KVER-SAVE].
#
# With SAVE=ours (the test) it asserts:
#   * the cycle completed (the guest printed CAPTURE_DONE, saver exit 0);
#   * check-dump.py: status.json "complete"; the boot's marker and the sysrq
#     crash line in vmcore-dmesg.txt; libkdumpfile reads exactly written +
#     zero pages; drgn reads the kernel release through a virtual address;
#   * the saver's progress reached the serial console.
# SAVE=cp (no saver built yet) checks the raw copy instead: the marker and
# the crash line in the capture kernel's vmcore-dmesg, and that drgn reads the
# release from the ELF vmcore.
# Exit 0 = pass, with one PASS line including the timings.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 1 ] || e2e_die "usage: test-crash-cycle.sh KVER"
KVER=$(e2e_kver "$1")
export SAVE=${SAVE:-ours}
export BUSY=${BUSY:-448}
export KVER
export OUT=${OUT:-$CACHE/runs/test-$KVER-$SAVE}

fail() {
    echo "FAIL: test-crash-cycle $KVER save=$SAVE: $*"
    exit 1
}

"$E2E_DIR/run-cycle.sh" || fail "the crash cycle did not complete (see above)"
log=$OUT/serial.log
timing() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/timings.txt"; }
mark=$(grep -o 'E2E_MARK_[0-9a-f-]*' "$log" | head -1 || true)
[ -n "$mark" ] || fail "no marker in $log"

case $SAVE in
    ours)
        "$PYTHON" "$E2E_DIR/check-dump.py" "$OUT" "$mark" | tee "$OUT/check.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep -c '^FAIL' "$OUT/check.txt") dump check(s) failed (above)"
        # The saver writes its progress to stderr, which is /dev/console in
        # the capture kernel; it must be on the serial console for a person
        # watching a slow dump.
        progress=$(grep -c 'crashcapture-save:.*%' "$log" || true)
        [ "$progress" -gt 0 ] || fail "no crashcapture-save progress line in $log"
        echo "ok: $progress serial log line(s) with crashcapture-save progress"
        detail="$(e2e_json "$OUT/status.json" 'd["pages"]["written"]') pages written,"
        detail="$detail $(e2e_json "$OUT/status.json" 'd["pages"]["zero"]') zero,"
        detail="$detail vmcore $(stat -c %s "$OUT/vmcore") bytes"
        ;;
    cp | mdf)
        # No status.json: check-dump.py checks the log and what drgn and
        # libkdumpfile read from the raw ELF copy (or makedumpfile's file).
        "$PYTHON" "$E2E_DIR/check-dump.py" --no-record "$OUT" "$mark" | tee "$OUT/check.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep -c '^FAIL' "$OUT/check.txt") dump check(s) failed (above)"
        detail="vmcore $(stat -c %s "$OUT/vmcore") bytes"
        ;;
    *) fail "SAVE must be ours, cp or mdf" ;;
esac

echo "PASS: test-crash-cycle $KVER save=$SAVE: crash -> capture done $(timing crash_to_capture_done) s" \
    "(capture kernel up $(timing crash_to_capture_init) s, save $(timing save_duration) s)," \
    "whole cycle $(timing whole_cycle) s; $detail"
