#!/bin/bash
# The crash-type matrix: crash each Debian kernel in each way the project
# must capture (project issue 16, "every kind of crash captured") and check
# each capture with test-crash-cycle.sh.
#   run-crash-types.sh [--kernels "6.1 6.12"] [--types "bug null ..."]
#                      [--stable "timer nmi"] [--report-only]
# Types (guest-init.sh, crash_by_type): bug null warn timer hrtimer softlockup
# hungtask stack oom nmi, and sysrq (the other tests' crash, left out of the
# default list). Default: every type but sysrq, on both kernels.
#
# Per type and kernel, a full crash cycle (test-crash-cycle.sh, KEXEC=ours,
# SAVE=ours, CRASH_TYPE=type) into $CACHE/runs/crash-types/KVER-TYPE: the
# capture completes, vmcore-dmesg.txt holds the type's report lines (lib.sh,
# e2e_crash_expect), libkdumpfile and drgn read the dump. Then the crash's
# signature (lib/dump/panic-signature.cpp, through
# build/tests/panic-signature-probe) is taken from the captured log.
# --stable TYPES: for these types (default "timer nmi"), the signatures on
# all the kernels run must be equal: the same bug on another kernel has the
# same name. Types not run are skipped.
# --report-only: no cycles; the table from the directories an earlier run
# left (a cycle passed when its log has test-crash-cycle.sh's PASS line).
#
# Writes the table (type x kernel: result, trigger -> capture done, panic ->
# capture done, the crash line found, the signature) to
# $CACHE/runs/crash-types/summary.txt and prints it. Exit 0 when every cycle
# passed and the stable types' signatures agree.
# Env: BUSY [64] MiB filled before the crash; SAVER, LOADER (run-cycle.sh);
# PROBE [build/tests/panic-signature-probe].
# One guest at a time; before each, waits while 2 or more QEMU guests run on
# the machine (other tests' included).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernels="6.1 6.12"
types="bug null warn timer hrtimer softlockup hungtask stack oom nmi"
stable="timer nmi"
report_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --kernels) kernels=$2 ;;
        --types) types=$2 ;;
        --stable) stable=$2 ;;
        --report-only)
            report_only=1
            shift
            continue
            ;;
        -h | --help) e2e_usage "$0" ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
    [ $# -ge 2 ] || e2e_die "$1 needs a value"
    shift 2
done
for type in $types $stable; do
    e2e_crash_expect "$type" > /dev/null || e2e_die "unknown crash type $type (one of: $E2E_CRASH_TYPES)"
done
PROBE=${PROBE:-$REPO_DIR/build/tests/panic-signature-probe}
export BUSY=${BUSY:-64}
export KEXEC=ours SAVE=ours

runs=$CACHE/runs/crash-types
mkdir -p "$runs"
summary=$runs/summary.txt
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

# wait_for_qemu_slot: the machine is shared with other tests' guests, and
# TCG guests are CPU-bound: never a third one.
wait_for_qemu_slot() {
    while [ "$(pgrep -c "^qemu-system" || true)" -ge 2 ]; do
        e2e_log "2 QEMU guests are running; waiting"
        sleep 30
    done
}

failed=0
for type in $types; do
    for series in $kernels; do
        kver=$(e2e_kver "$series")
        out=$runs/$kver-$type
        if [ "$report_only" = 0 ]; then
            wait_for_qemu_slot
            e2e_log "crash type $type on $kver -> $out"
            if ! CRASH_TYPE=$type OUT=$out "$E2E_DIR/test-crash-cycle.sh" "$kver" > "$runs/$kver-$type.log" 2>&1; then
                tail -n 20 "$runs/$kver-$type.log" >&2
            fi
        fi
        result=FAIL
        grep -q '^PASS: ' "$runs/$kver-$type.log" 2> /dev/null && result=PASS
        [ "$result" = PASS ] || failed=1
        timing() { awk -v k="$1" '$1 == k { print $2 }' "$out/timings.txt" 2> /dev/null; }
        # The first of the type's lines as the crashed kernel printed it,
        # without its timestamp.
        first=$(e2e_crash_expect "$type" | head -1)
        line=$({ grep -F -m1 -- "$first" "$out/vmcore-dmesg.txt" 2> /dev/null || true; } |
            sed -E 's/^\[ *[0-9]+\.[0-9]+\] //')
        printf '%s\037%s\037%s\037%s\037%s\037%s\037%s\n' "$type" "$series" "$result" \
            "$(timing crash_to_capture_done)" "$(timing panic_to_capture_done)" \
            "${line:--}" "$out" >> "$rows"
    done
done

# The signatures, once all the cycles ran (the probe is built with the
# tests; checked here, so that a build still under way when the matrix
# started is no reason to lose the cycles).
[ -x "$PROBE" ] || e2e_die "$PROBE is not built (cmake --build build --target panic-signature-probe); the cycles are in $runs"
signed=$(mktemp)
trap 'rm -f "$rows" "$signed"' EXIT
while IFS=$'\037' read -r type series result trig panic line out; do
    signature=$("$PROBE" "$out/vmcore-dmesg.txt" 2> /dev/null || true)
    printf '%s\037%s\037%s\037%s\037%s\037%s\037%s\n' "$type" "$series" "$result" "$trig" "$panic" "$line" "${signature:--}"
done < "$rows" > "$signed"
mv "$signed" "$rows"

# The same type on every kernel: one signature.
stability=()
for type in $stable; do
    [[ " $types " == *" $type "* ]] || continue
    titles=$(awk -F'\037' -v t="$type" '$1 == t { print $7 }' "$rows" | sort -u)
    if [ "$(printf '%s\n' "$titles" | wc -l)" = 1 ] && [ "$titles" != - ]; then
        stability+=("ok: $type has one signature on $kernels: $titles")
    else
        stability+=("FAIL: $type's signatures differ across $kernels: $(printf '%s | ' "$titles")")
        failed=1
    fi
done

{
    echo "# crash-type matrix $(date -u +%Y-%m-%dT%H:%M:%SZ), BUSY=${BUSY} MiB, QEMU TCG, 1 vCPU"
    echo "# times in seconds: trigger = the guest's CRASH_TRIGGER line, panic = the"
    echo "# kernel's 'Kernel panic - not syncing', done = the capture's CAPTURE_DONE"
    printf '%-10s %-6s %-6s %-9s %-9s %-60s %s\n' type kernel result trig-done panic-done "crash line" "signature (hash title)"
    while IFS=$'\037' read -r type series result trig panic line signature; do
        printf '%-10s %-6s %-6s %-9s %-9s %-60.60s %s\n' "$type" "$series" "$result" \
            "${trig:--}" "${panic:--}" "$line" "$signature"
    done < "$rows"
    printf '%s\n' "${stability[@]}"
} > "$summary"
cat "$summary"
exit "$failed"
