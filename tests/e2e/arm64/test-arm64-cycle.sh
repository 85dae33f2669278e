#!/bin/bash
# The arm64 crash-cycle test (issue 14): a real Debian arm64 kernel crashed
# under qemu-system-aarch64 (TCG) on this amd64 host, captured by a capture
# kernel loaded with kexec -p -c, and the dump checked on the host.
#   test-arm64-cycle.sh [KVER]      (6.1 [default], 6.12 or a full release)
# Env: SAVER=PATH an arm64 crashcapture-save to save with (SAVE=ours; else
# cp), LOADER=PATH an arm64 crashcapture-kexec-load to load with (the
# library's loader: kexec_file_load, then kexec-tools; else kexec -p -c),
# SAVE, CPU, MEM, CRASH, TIMEOUT, OUT (see run-cycle.sh).
# Default -cpu: cortex-a57 for 6.1; for 6.12 max,pauth-impdef=on, the
# CPU with FEAT_LPA2 whose kernel then uses 52-bit virtual addresses
# (TCR_EL1_T1SZ 12), which cortex-a57 lacks (T1SZ 16 under VA_BITS=52).
#
# From a fresh host it fetches everything first (fetch.sh: root, network;
# a few minutes); with a warm $CRASHCAPTURE_CACHE/arm64 it runs offline.
# Checks, one PASS/FAIL/SKIP line each (tests/checks.sh):
#   * the cycle completed (CAPTURE_DONE);
#   * the marker the crashed kernel wrote is in the dump's kernel log, read
#     on the host by /usr/sbin/vmcore-dmesg (amd64 kexec-tools reads an
#     arm64 ELF vmcore) from the raw copy;
#   * python3-libkdumpfile opens the vmcore as aarch64 and reads
#     init_uts_ns's release through a kernel virtual address;
#   * python3-drgn opens it as AARCH64 and reads UTS_RELEASE;
#   * with SAVE=ours: ../check-dump.py, as test-crash-cycle.sh runs it, and
#     the saver's progress on the serial console.
# Exit: the number of failures; 77 when it cannot run here at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/checks.sh
. "$E2E_DIR/../checks.sh"

want=${1:-6.1}
case $want in
    6.1) default_cpu=cortex-a57 ;;
    *) default_cpu=max,pauth-impdef=on ;;
esac
export CPU=${CPU:-$default_cpu}
export SAVER=${SAVER:-}
export LOADER=${LOADER:-}
label="test-arm64-cycle $want"

# ---- can it run here? ----
if ! sysroot=$("$ARM64_DIR/fetch.sh" "$want"); then
    skip_script "$label: no arm64 sysroot for $want and fetch.sh could not make one (root and network needed once)"
fi
command -v qemu-system-aarch64 > /dev/null || skip_script "$label: no qemu-system-aarch64 (apt-get install qemu-system-arm)"
KVER=${sysroot##*/sysroot-}
export KVER
for binary in "$SAVER" "$LOADER"; do
    if [ -n "$binary" ] && ! arm64_is_aarch64 "$binary"; then
        fail "$label: $binary is not an arm64 ELF binary: $(file -b "$binary" 2> /dev/null)"
        checks_exit "$label"
    fi
done
export SAVE=${SAVE:-$([ -n "$SAVER" ] && echo ours || echo cp)}
export OUT=${OUT:-$ARM64_CACHE/runs/test-$KVER-${CPU%%,*}-$SAVE$([ -z "$LOADER" ] || echo -loader)}

# ---- the cycle ----
if ! "$ARM64_DIR/run-cycle.sh"; then
    fail "$label: the crash cycle did not complete (kernel $KVER, -cpu $CPU, save=$SAVE; $OUT/serial.log)"
    checks_exit "$label"
fi
timing() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/timings.txt"; }
pass "$label: $KVER -cpu $CPU save=$SAVE: crash -> capture done $(timing crash_to_capture_done) s" \
    "(capture kernel up $(timing crash_to_capture_init) s, save $(timing save_duration) s)," \
    "whole cycle $(timing whole_cycle) s"
mark=$({ grep -o 'E2E_MARK_[0-9a-f-]*' "$OUT/serial.log" || true; } | head -1)
[ -n "$mark" ] || fail "$label: no marker in $OUT/serial.log"
if [ -n "$LOADER" ]; then
    # The library's loader, as crashcaptured runs it: it printed the derived
    # command line, and on this kernel went through kexec-tools.
    if grep -q 'crashcapture-kexec-load: command line: .*nr_cpus=1.*swiotlb=noforce' "$OUT/serial.log" &&
        grep -q 'crashcapture-kexec-load: loaded; kexec_crash_loaded: 1' "$OUT/serial.log"; then
        pass "$label: loaded by crashcapture-kexec-load (the daemon's code path): $(grep -o 'crashcapture-kexec-load: command line: .*' "$OUT/serial.log" | head -1 | cut -c40-260)"
    else
        fail "$label: crashcapture-kexec-load did not report the arm64 command line and the load ($OUT/serial.log)"
    fi
fi

# ---- the dump ----
vmcore=$OUT/vmcore
if [ ! -s "$vmcore" ]; then
    fail "$label: no vmcore in $OUT"
    checks_exit "$label"
fi
if [ "$SAVE" = ours ]; then
    # The x86 test's dump checks (status.json complete, the marker and the
    # sysrq line in the saver's vmcore-dmesg.txt, libkdumpfile reads exactly
    # the written + zero pages, drgn reads the release): none is x86-specific.
    if "$PYTHON" "$E2E_DIR/check-dump.py" "$OUT" "$mark" > "$OUT/check.txt" 2>&1; then
        pass "$label: check-dump.py: $(grep -c '^ok' "$OUT/check.txt") checks ok"
    else
        sed 's/^/    /' "$OUT/check.txt"
        fail "$label: check-dump.py: $(grep -c '^FAIL' "$OUT/check.txt") dump check(s) failed ($OUT/check.txt)"
    fi
    if grep -q 'crashcapture-save:.*%' "$OUT/serial.log"; then
        pass "$label: crashcapture-save's progress reached the serial console"
    else
        fail "$label: no crashcapture-save progress line in $OUT/serial.log"
    fi
fi
# The host's vmcore-dmesg reads ELF vmcores only (cp); makedumpfile's and
# our saver's kdump-compressed files are read by libkdumpfile and drgn below.
if [ "$(head -c 4 "$vmcore")" = $'\x7fELF' ]; then
    # Into a file first: under pipefail, grep -q closing the pipe early makes
    # vmcore-dmesg die of SIGPIPE and the check fail at random.
    /usr/sbin/vmcore-dmesg "$vmcore" > "$OUT/host-vmcore-dmesg.txt" 2>&1 || true
    if grep -q -- "$mark" "$OUT/host-vmcore-dmesg.txt"; then
        pass "$label: the marker is in the vmcore's kernel log (host vmcore-dmesg)"
    else
        fail "$label: the marker $mark is not in the host vmcore-dmesg output ($OUT/host-vmcore-dmesg.txt)"
    fi
    # What an arm64 address translation needs, for the log.
    "$PYTHON" "$ARM64_DIR/check-vmcore.py" vmcoreinfo "$vmcore" |
        grep -E '^(PAGESIZE|NUMBER\((VA_BITS|TCR_EL1_T1SZ|KERNELPACMASK)\))=' | tr '\n' ' ' | sed 's/^/vmcoreinfo: /'
    echo
elif [ "$SAVE" = mdf ]; then
    # makedumpfile's kdump file: the capture kernel's own vmcore-dmesg of
    # /proc/vmcore. (SAVE=ours: check-dump.py read the saver's above.)
    if grep -q -- "$mark" "$OUT/vmcore-dmesg.txt" 2> /dev/null; then
        pass "$label: the marker is in the capture kernel's vmcore-dmesg.txt"
    else
        fail "$label: the marker $mark is not in $OUT/vmcore-dmesg.txt"
    fi
fi
for reader in libkdumpfile drgn; do
    status=0
    detail=$("$PYTHON" "$ARM64_DIR/check-vmcore.py" "$reader" "$vmcore" "$KVER") || status=$?
    case $status in
        0) pass "$label: $detail" ;;
        77) skip "$label: $detail (with $PYTHON)" ;;
        *) fail "$label: $reader: $detail" ;;
    esac
done
checks_exit "$label"
