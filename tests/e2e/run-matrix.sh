#!/bin/bash
# The long matrix (scripts/test.sh with FULL=1): test-crash-cycle.sh for
# every combination of kernel, kexec system call, saver and crashkernel size.
#   run-matrix.sh [--kernels "6.1 6.12"] [--kexec "s c"] [--save "ours mdf"]
#                 [--crash "256M"] [--busy MIB]
# Each cycle's results go to $CACHE/runs/matrix/<kver>-ck<size>-k<s|c>-<save>/;
# the PASS/FAIL line of each is collected in $CACHE/runs/matrix/summary.txt.
# Exit status 0 when every cycle passed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KERNELS="6.1 6.12"
KEXECS="s c"
SAVES="ours mdf"
CRASHES=256M
BUSY=${BUSY:-448}
while [ $# -gt 0 ]; do
    case $1 in
        --kernels) KERNELS=$2 ;;
        --kexec) KEXECS=$2 ;;
        --save) SAVES=$2 ;;
        --crash) CRASHES=$2 ;;
        --busy) BUSY=$2 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
    [ $# -ge 2 ] || e2e_die "$1 needs a value"
    shift 2
done

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
                    echo "$name: ${result:-FAIL} (log: $matrix/$name.log)" | tee -a "$summary"
                fi
            done
        done
    done
done
echo "$(grep -c ': PASS:' "$summary") passed, $failed failed"
[ $failed = 0 ]
