#!/bin/bash
# The crash cycles behind issue 18 §2 and §4 (README, "Capture kernel CPUs"):
# Linux 6.1 guests with two vCPUs (-smp 2, multi-threaded TCG), our
# kexec_file_load, crashkernel=256M, memory filled to 7/16 before the crash.
#   bench/run-capture-cpus.sh OUTDIR [RUN...]
# Runs (all by default, in this order):
#   cal-C cal-A0 cal-A cal-B   1 GiB, one capture CPU: the model's calibration
#                              (bench/capture-model.py; cal-B is the default save)
#   m2048-c1 m4096-c1 m4096-c2 2 and 4 GiB, capture nr_cpus=1 and 2, our saver
#   m4096-mdf-c1               4 GiB, makedumpfile -l -d 31 (1.7.2: one thread)
#   m1024-c2 m2048-c2          1 and 2 GiB with two capture CPUs
# The saving runs go through tests/e2e/test-crash-cycle.sh (crash, drgn and
# libkdumpfile checks); the calibration runs that write no dump
# (--dump-to /dev/null) through run-cycle.sh alone. One line per run in
# OUTDIR/summary.txt.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
E2E=$HERE/../tests/e2e
out=${1:?usage: run-capture-cpus.sh OUTDIR [RUN...]}
shift
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(cal-C cal-A0 cal-A cal-B m2048-c1 m4096-c1 m4096-c2 m4096-mdf-c1 m1024-c2 m2048-c2)
mkdir -p "$out"
export KVER=${KVER:-6.1} SMP=2 KEXEC=ours CRASH=256M TIMEOUT=900
for run in "${runs[@]}"; do
    unset SAVE_ARGS
    export SAVE=ours CAPTURE_CPUS=1 MEM=1024 BUSY=448
    script=test-crash-cycle.sh
    case $run in
        cal-C) export SAVE_ARGS=--dump-level,0,-c,none,--dump-to,/dev/null; script="run-cycle.sh" ;;
        cal-A0) export SAVE_ARGS=-c,none,--dump-to,/dev/null; script="run-cycle.sh" ;;
        cal-A) export SAVE_ARGS=-c,none ;;
        cal-B) ;;
        m1024-c2) CAPTURE_CPUS=2 ;;
        m2048-c1) MEM=2048 BUSY=896 ;;
        m2048-c2) MEM=2048 BUSY=896 CAPTURE_CPUS=2 ;;
        m4096-c1) MEM=4096 BUSY=1792 ;;
        m4096-c2) MEM=4096 BUSY=1792 CAPTURE_CPUS=2 ;;
        m4096-mdf-c1) MEM=4096 BUSY=1792 SAVE=mdf ;;
        m4096-mdf-c2) MEM=4096 BUSY=1792 SAVE=mdf CAPTURE_CPUS=2 ;;
        *) echo "unknown run $run" >&2; exit 2 ;;
    esac
    export OUT=$out/$run
    if [ "$script" = run-cycle.sh ]; then
        "$E2E/run-cycle.sh" > "$out/$run.log" 2>&1
    else
        "$E2E/test-crash-cycle.sh" "$KVER" > "$out/$run.log" 2>&1
    fi
    rc=$?
    t() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/timings.txt" 2> /dev/null; }
    echo "$run rc=$rc save=$SAVE cpus=$CAPTURE_CPUS mem=$MEM busy=$BUSY crash_to_done=$(t crash_to_capture_done)" \
        "save_s=$(t save_duration) memtotal_kib=$(t capture_memtotal_kib) memavailable_kib=$(t save_memavailable_kib)" \
        "vmhwm_kib=$(t save_vmhwm_kib) online=$(t capture_online_cpus) bytes=$(stat -c %s "$OUT/vmcore" 2> /dev/null || echo 0)" |
        tee -a "$out/summary.txt"
done
