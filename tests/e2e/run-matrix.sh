#!/bin/bash
# The long matrix (scripts/test.sh with FULL=1): test-crash-cycle.sh for
# every combination of kernel, kexec call, saver and crashkernel size.
#   run-matrix.sh [--kernels "6.1 6.12"] [--kexec "ours s c"] [--save "ours mdf"]
#                 [--crash "256M"] [--busy MIB]
# Each cycle's results go to $CACHE/runs/matrix/<kver>-ck<size>-k<kexec>-<save>/;
# the PASS/FAIL line of each is collected in $CACHE/runs/matrix/summary.txt.
# Exit status 0 when every cycle passed.
#
# The crashkernel= sweep (a measurement, not a test):
#   run-matrix.sh --sweep [--kernels ...] [--sizes "256M 192M ..."]
#                 [--kexec ours] [--save ours] [--busy 448]      (or SWEEP=1)
# One test-crash-cycle.sh per kernel and size (1 GiB guest, MEM), from the
# largest size down, every size even after a failure. Each cycle goes to
# $SWEEP_DIR/<kver>-ck<size>-k<kexec>-<save>/ (SWEEP_DIR: $CACHE/runs/sweep);
# one table line per cycle in $SWEEP_DIR/summary.txt (emptied first):
#   test      test-crash-cycle.sh's verdict (PASS: captured and checked);
#   boot_kib  the capture kernel's "Memory: available/total" at boot, what
#             is left after its own image, the initrd and early allocations;
#   memtotal  MemTotal at the capture /init (kB);
#   avail     MemAvailable when the saver started (kB);
#   rss_kib   the saver's peak resident set (VmHWM, KiB);
#   done_s    crash -> capture done (s);
#   outcome   how it ended: captured, refused by kexec_file_load, out of
#             memory unpacking the initramfs or otherwise before /init,
#             saver killed by the OOM killer, ... Exit status 0
# when the largest size passed on every kernel.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KERNELS="6.1 6.12"
KEXECS="ours s c"
SAVES="ours mdf"
CRASHES=256M
BUSY=${BUSY:-448}
SWEEP=${SWEEP:-0}
SWEEP_SIZES=${SWEEP_SIZES:-"256M 192M 160M 128M 112M 104M 96M 88M 80M"}
kexec_given=
save_given=
while [ $# -gt 0 ]; do
    case $1 in
        --kernels) KERNELS=$2 ;;
        --kexec) KEXECS=$2 kexec_given=1 ;;
        --save) SAVES=$2 save_given=1 ;;
        --crash) CRASHES=$2 ;;
        --busy) BUSY=$2 ;;
        --sizes) SWEEP_SIZES=$2 ;;
        --sweep)
            SWEEP=1
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

# classify DIR: how a cycle ended, from its serial log and files, in a few
# words (the kernel's own words where it gave some). The log is split at the
# capture kernel's "Linux version": the first kernel's part ends with its own
# sysrq panic. Here-strings, not pipes: grep -q ending a pipe early fails it
# under pipefail.
classify() {
    local dir=$1 log=$1/serial.log line first capture panic oom=
    if grep -q 'E2E: CAPTURE_DONE' "$log" 2> /dev/null; then
        if grep -q '^FAIL' "$dir/check.txt" 2> /dev/null; then
            echo "captured, but a dump check failed ($(grep -m1 '^FAIL' "$dir/check.txt"))"
        else
            echo "captured"
        fi
        return
    fi
    first=$(awk '/Linux version/ { n++ } n < 2' "$log" 2> /dev/null || true)
    capture=$(awk '/Linux version/ { n++ } n >= 2' "$log" 2> /dev/null || true)
    if line=$(grep -m1 -o 'E2E: FAIL .*' <<< "$first") && [ -n "$line" ]; then
        case $line in
            *kexec*)
                echo "load refused: $({ grep -m1 -oE '(crashcapture-kexec-load: cannot|Could not|Cannot|kexec_file_load failed).*' <<< "$first" || echo "$line"; } | cut -c1-200)"
                ;;
            *) echo "first kernel: ${line#E2E: }" ;;
        esac
        return
    fi
    if [ -z "$capture" ]; then
        echo "the capture kernel never started (see serial.log)"
        return
    fi
    # cap_grep ARGS: grep over the capture kernel's log.
    cap_grep() { grep "$@" <<< "$capture"; }
    panic=$(cap_grep -m1 -oE 'Kernel panic - not syncing: .*' || true)
    cap_grep -qE 'Out of memory|oom-kill|invoked oom-killer|deadlocked on memory' && oom=1
    if line=$(cap_grep -m1 -oE 'Initramfs unpacking failed.*|junk in compressed archive.*') && [ -n "$line" ]; then
        echo "initramfs unpacking failed ($line): out of memory before /init"
    elif ! cap_grep -q 'E2E: INIT_CAPTURE'; then
        if [ -n "$oom" ] && cap_grep -q 'unpack_to_rootfs'; then
            echo "out of memory unpacking the initramfs, before /init: ${panic:-no panic line}"
        elif [ -n "$oom" ]; then
            echo "out of memory before /init: ${panic:-$(cap_grep -m1 -oE 'Out of memory.*')}"
        elif line=$(cap_grep -m1 -o 'E2E: FAIL .*') && [ -n "$line" ]; then
            echo "capture /init: ${line#E2E: }"
        elif [ -n "$panic" ]; then
            echo "panic before /init: $panic"
        else
            echo "no /init in the capture kernel (timeout?)"
        fi
    elif cap_grep -qE 'Killed process [0-9]+ \(crashcapture-sa'; then
        echo "saver killed by the OOM killer: $(cap_grep -m1 -oE 'Killed process [0-9]+ \(crashcapture-sa.*' | cut -c1-160)"
    elif [ -n "$oom" ]; then
        echo "out of memory after /init: ${panic:-$(cap_grep -m1 -oE 'Killed process .*' | cut -c1-160)}"
    elif line=$(cap_grep -m1 -o 'E2E: CAPTURE_FAILED.*') && [ -n "$line" ]; then
        echo "${line#E2E: }: $(cap_grep -E 'crashcapture-save: (failed|incomplete|error)' | tail -1 | sed 's/^\[[ 0-9.]*\] //' | cut -c1-160)"
    elif line=$(cap_grep -m1 -o 'E2E: FAIL .*') && [ -n "$line" ]; then
        echo "capture /init: ${line#E2E: }"
    elif [ -n "$panic" ]; then
        echo "panic after /init: $panic"
    else
        echo "no CAPTURE_DONE (timeout?)"
    fi
}

# value DIR KEY: a line of DIR/timings.txt
value() { awk -v k="$2" '$1 == k { print $2 }' "$1/timings.txt" 2> /dev/null; }

if [ "$SWEEP" = 1 ]; then
    [ -n "$kexec_given" ] || KEXECS=ours
    [ -n "$save_given" ] || SAVES=ours
    sweep=${SWEEP_DIR:-$CACHE/runs/sweep}
    mkdir -p "$sweep"
    summary=$sweep/summary.txt
    {
        echo "# crashkernel= sweep: MEM=${MEM:-1024} MiB, BUSY=$BUSY MiB, $(date -u +%FT%TZ)"
        printf '%-22s %-5s %-4s %-4s %-4s %-15s %-8s %-8s %-7s %-6s %s\n' kernel crash kexec save \
            test boot_kib memtotal avail rss_kib done_s outcome
    } > "$summary"
    broken=0
    for series in $KERNELS; do
        kver=$(e2e_kver "$series")
        largest=${SWEEP_SIZES%% *}
        for crash in $SWEEP_SIZES; do
            for kexec in $KEXECS; do
                for save in $SAVES; do
                    name=$kver-ck$crash-k$kexec-$save
                    dir=$sweep/$name
                    result=FAIL
                    if KEXEC=$kexec SAVE=$save CRASH=$crash BUSY=$BUSY OUT=$dir TIMEOUT=${TIMEOUT:-240} \
                        "$E2E_DIR/test-crash-cycle.sh" "$kver" > "$sweep/$name.log" 2>&1; then
                        result=PASS
                    elif [ "$crash" = "$largest" ]; then
                        broken=$((broken + 1))
                    fi
                    boot="$(value "$dir" capture_boot_available_kib)/$(value "$dir" capture_boot_total_kib)"
                    printf '%-22s %-5s %-4s %-4s %-4s %-15s %-8s %-8s %-7s %-6s %s\n' "$kver" "$crash" "$kexec" \
                        "$save" "$result" "$boot" "$(value "$dir" capture_memtotal_kib)" \
                        "$(value "$dir" save_memavailable_kib)" "$(value "$dir" save_vmhwm_kib)" \
                        "$(value "$dir" crash_to_capture_done)" "$(classify "$dir")" | tee -a "$summary"
                done
            done
        done
    done
    e2e_log "sweep table: $summary"
    [ $broken = 0 ]
    exit
fi

matrix=$CACHE/runs/matrix
mkdir -p "$matrix"
summary=$matrix/summary.txt
: > "$summary"
failed=0
for series in $KERNELS; do
    kver=$(e2e_kver "$series")
    for crash in $CRASHES; do
        for kexec in $KEXECS; do
            for save in $SAVES; do
                name=$kver-ck$crash-k$kexec-$save
                if result=$(KEXEC=$kexec SAVE=$save CRASH=$crash BUSY=$BUSY OUT=$matrix/$name \
                    "$E2E_DIR/test-crash-cycle.sh" "$kver" 2>&1 | tee "$matrix/$name.log" | tail -1) &&
                    [[ $result == PASS:* ]]; then
                    echo "$name: $result" | tee -a "$summary"
                else
                    failed=$((failed + 1))
                    echo "$name: ${result:-FAIL} ($(classify "$matrix/$name"); log: $matrix/$name.log)" |
                        tee -a "$summary"
                fi
            done
        done
    done
done
echo "$(grep -c ': PASS:' "$summary") passed, $failed failed"
[ $failed = 0 ]
