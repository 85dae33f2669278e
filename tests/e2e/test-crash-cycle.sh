#!/bin/bash
# The end-to-end test of crashcapture-save: crash a real kernel in QEMU and
# check what the capture kernel saved with it.
#   test-crash-cycle.sh KVER        (6.1, 6.12 or a full release)
# Env: SAVE [ours], KEXEC [ours], BUSY [448] MiB of memory filled before the
# crash, MEM, CRASH, TIMEOUT, SAVER, LOADER (see run-cycle.sh),
# OUT [$CACHE/runs/test-KVER-SAVE, or test-KVER-kKEXEC-SAVE for KEXEC s or c;
# -CRASH_TYPE appended for a type other than sysrq],
# CRASH_TYPE [sysrq]: how the kernel crashes (run-cycle.sh, guest-init.sh);
# the check then looks for that type's report lines (lib.sh,
# e2e_crash_expect) instead of sysrq's.
#
# With KEXEC=ours (the default) the capture kernel is loaded by
# crashcapture-kexec-load, the library's kexec_file_load on the command line
# it derives (lib/capture-cmdline.cpp), and the test also asserts:
#   * the derived line has no crashkernel=, has irqpoll nr_cpus=N
#     (CAPTURE_CPUS [SMP [1]], run-cycle.sh) reset_devices panic=10 and the
#     first boot's crashcapture.boot_id, and the capture kernel brought up
#     N CPUs;
#   * the capture kernel booted with exactly that line (after the
#     elfcorehdr= the kernel puts first);
#   * status.json's boot_id is the first boot's (the saver got it from the
#     capture kernel's command line).
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
export KEXEC=${KEXEC:-ours}
export BUSY=${BUSY:-448}
export CRASH_TYPE=${CRASH_TYPE:-sysrq}
export SMP=${SMP:-1}
export CAPTURE_CPUS=${CAPTURE_CPUS:-$SMP}
export KVER
type_suffix=
[ "$CRASH_TYPE" = sysrq ] || type_suffix=-$CRASH_TYPE
if [ "$KEXEC" = ours ]; then
    export OUT=${OUT:-$CACHE/runs/test-$KVER-$SAVE$type_suffix}
else
    export OUT=${OUT:-$CACHE/runs/test-$KVER-k$KEXEC-$SAVE$type_suffix}
fi
expect=()
while IFS= read -r line; do
    expect+=(--expect "$line")
done < <(e2e_crash_expect "$CRASH_TYPE" || e2e_die "CRASH_TYPE must be one of: $E2E_CRASH_TYPES")
type_label=
[ "$CRASH_TYPE" = sysrq ] || type_label=" crash=$CRASH_TYPE"

fail() {
    echo "FAIL: test-crash-cycle $KVER kexec=$KEXEC save=$SAVE$type_label: $*"
    exit 1
}

"$E2E_DIR/run-cycle.sh" || fail "the crash cycle did not complete (see above)"
log=$OUT/serial.log
timing() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/timings.txt"; }
mark=$(grep -o 'E2E_MARK_[0-9a-f-]*' "$log" | head -1 || true)
[ -n "$mark" ] || fail "no marker in $log"
boot_id=$({ grep -o 'E2E: KEXEC_LOAD_DONE boot_id=[0-9a-f-]*' "$log" || true; } | head -1 | sed 's/.*=//')
[ -n "$boot_id" ] || fail "no boot id in the KEXEC_LOAD_DONE line of $log"

if [ "$KEXEC" = ours ]; then
    # What crashcapture-kexec-load derived and loaded, and what the capture
    # kernel booted with: its own dmesg, saved next to the dump.
    derived=$({ grep -o 'crashcapture-kexec-load: command line: .*' "$log" || true; } | head -1 |
        sed 's/^crashcapture-kexec-load: command line: //')
    [ -n "$derived" ] || fail "no 'crashcapture-kexec-load: command line:' in $log"
    for word in irqpoll "nr_cpus=$CAPTURE_CPUS" reset_devices panic=10 "crashcapture.boot_id=$boot_id" console=ttyS0; do
        [[ " $derived " == *" $word "* ]] || fail "the derived command line lacks $word: $derived"
    done
    for name in crashkernel panic=1 e2e.kexec e2e.busy; do
        [[ " $derived " != *" $name"[=\ ]* ]] || fail "the derived command line still has $name: $derived"
    done
    echo "ok: derived capture command line: $derived"
    booted=$({ grep -o 'Command line: .*' "$OUT/capture-kernel.log" 2> /dev/null || true; } | head -1 |
        sed 's/^Command line: //')
    [ -n "$booted" ] || fail "no 'Command line:' in $OUT/capture-kernel.log"
    # arch/x86/kernel/kexec-bzimage64.c, setup_cmdline(): "elfcorehdr=0x%lx "
    # comes first on a crash kernel's line.
    if ! [[ $booted =~ ^elfcorehdr=0x[0-9a-f]+\ (.*)$ ]] || [ "${BASH_REMATCH[1]}" != "$derived" ]; then
        fail "the capture kernel booted with '$booted', not 'elfcorehdr=0x... $derived'"
    fi
    echo "ok: the capture kernel booted with elfcorehdr= and the derived line"
fi
# /sys/devices/system/cpu/online in the capture kernel: "0", "0-1", ...
online=$(timing capture_online_cpus)
online_count=0
IFS=, read -ra online_ranges <<< "$online"
for range in "${online_ranges[@]}"; do
    online_count=$((online_count + ${range#*-} - ${range%-*} + 1))
done
# A crash on another CPU than the boot CPU leaves the boot CPU out:
# disable_cpu_apicid= (which we add) keeps the capture kernel from sending it
# INIT ("APIC: Disabling requested cpu" in its log,
# arch/x86/kernel/apic/apic.c), so a guest with SMP CPUs has one fewer.
expected=$CAPTURE_CPUS
if [ "$CAPTURE_CPUS" -ge "$SMP" ] && grep -q 'APIC: Disabling requested cpu' "$OUT/capture-kernel.log" 2> /dev/null; then
    expected=$((SMP - 1))
fi
[ "$online_count" = "$expected" ] ||
    fail "the capture kernel had CPUs '$online' online, not $expected (nr_cpus=$CAPTURE_CPUS, $SMP vCPUs)"
echo "ok: the capture kernel brought up $online_count CPU(s) ($online; nr_cpus=$CAPTURE_CPUS)"

case $SAVE in
    ours)
        "$PYTHON" "$E2E_DIR/check-dump.py" "${expect[@]}" "$OUT" "$mark" | tee "$OUT/check.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep -c '^FAIL' "$OUT/check.txt") dump check(s) failed (above)"
        # The saver writes its progress to stderr, which is /dev/console in
        # the capture kernel; it must be on the serial console for a person
        # watching a slow dump.
        progress=$(grep -c 'crashcapture-save:.*%' "$log" || true)
        [ "$progress" -gt 0 ] || fail "no crashcapture-save progress line in $log"
        echo "ok: $progress serial log line(s) with crashcapture-save progress"
        if [ "$KEXEC" = ours ]; then
            recorded=$(e2e_json "$OUT/status.json" 'd.get("boot_id", "")')
            [ "$recorded" = "$boot_id" ] || fail "status.json boot_id '$recorded', the crashed boot was $boot_id"
            echo "ok: status.json boot_id is the crashed boot's ($boot_id)"
        fi
        detail="$(e2e_json "$OUT/status.json" 'd["pages"]["written"]') pages written,"
        detail="$detail $(e2e_json "$OUT/status.json" 'd["pages"]["zero"]') zero,"
        detail="$detail vmcore $(stat -c %s "$OUT/vmcore") bytes"
        ;;
    cp | mdf)
        # No status.json: check-dump.py checks the log and what drgn and
        # libkdumpfile read from the raw ELF copy (or makedumpfile's file).
        "$PYTHON" "$E2E_DIR/check-dump.py" --no-record "${expect[@]}" "$OUT" "$mark" | tee "$OUT/check.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep -c '^FAIL' "$OUT/check.txt") dump check(s) failed (above)"
        detail="vmcore $(stat -c %s "$OUT/vmcore") bytes"
        ;;
    *) fail "SAVE must be ours, cp or mdf" ;;
esac

echo "PASS: test-crash-cycle $KVER kexec=$KEXEC save=$SAVE$type_label crashkernel=${CRASH:-256M}:" \
    "crash -> capture done $(timing crash_to_capture_done) s" \
    "(capture kernel up $(timing crash_to_capture_init) s, save $(timing save_duration) s)," \
    "whole cycle $(timing whole_cycle) s; $detail; capture CPUs $online_count," \
    "MemTotal $(timing capture_memtotal_kib) kB, MemAvailable at save $(timing save_memavailable_kib) kB," \
    "saver peak RSS (VmHWM) $(timing save_vmhwm_kib) KiB"
