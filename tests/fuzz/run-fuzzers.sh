#!/bin/bash
# Builds the libFuzzer harnesses (tests/fuzz, clang, in build-fuzz/) and runs
# each for FUZZ_SECONDS (default 15; FULL=1: 300) on a scratch copy of its
# seed corpus (tests/fuzz/corpus/<harness>/), so the repository's seeds only
# change by hand, FUZZ_JOBS (default: one per core) at a time. Any crash,
# sanitizer report, leak or timeout fails the run; the input that did it is
# kept in build-fuzz/fuzz-artifacts/ (add it to the corpus as a regression
# seed once it is fixed).
#   tests/fuzz/run-fuzzers.sh [HARNESS...]    default: every harness
# Exits 77 with "SKIP: reason" when clang or libFuzzer is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${FULL:-0}" = 1 ]; then
    seconds=${FUZZ_SECONDS:-300}
else
    seconds=${FUZZ_SECONDS:-15}
fi
clang=${CLANGXX:-/usr/bin/clang++}
if ! command -v "$clang" > /dev/null; then
    echo "SKIP: $clang not found (Debian package clang)"
    exit 77
fi
if ! "$clang" -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q /; then
    echo "SKIP: libFuzzer not found for $clang (Debian package libclang-rt-14-dev)"
    exit 77
fi

build="build-fuzz"
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$clang" -DCRASHCAPTURE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)"

if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for source in tests/fuzz/fuzz-*.cpp; do
        name=${source#tests/fuzz/fuzz-}
        name=${name%.cpp}
        [ "$name" = support ] || harnesses+=("$name")
    done
fi

# In memory when /dev/shm allows: fuzz-raw-recovery fsyncs every file it
# writes, as the daemon does, which on a disk held it to 15 runs a second.
scratch=$(mktemp -d -p /dev/shm 2> /dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
failed=()

# With every harness: first the unit tests under this build's ASan+UBSan
# (unit-tests-asan, tests/fuzz/CMakeLists.txt).
# A skipped test is listed as "SKIP: unit test NAME (...): reason".
if [ $# -eq 0 ]; then
    echo "=== the unit tests (lib/base, dump, config, records, arming) under ASan+UBSan"
    status=0
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        TMPDIR=$scratch "$build/tests/fuzz/unit-tests-asan" --gtest_brief=1 \
        --gtest_output="xml:$build/unit-tests-asan.xml" > "$scratch/unit.log" 2>&1 ||
        status=$?
    tests/junit-skips.py "$build/unit-tests-asan.xml" \
        'SKIP: unit test {name} (ASan+UBSan): {reason}' || true
    if [ "$status" != 0 ]; then
        tail -n 80 "$scratch/unit.log"
        echo "FAIL: unit-tests-asan (exit $status)"
        failed+=(unit-tests-asan)
    else
        echo "PASS: unit-tests-asan: no sanitizer report"
    fi
fi
# fuzz_one NAME: one harness on its scratch corpus; its output goes to
# $scratch/NAME.log, its exit status to $scratch/NAME.status.
fuzz_one() {
    local name=$1 status=0
    # -rss_limit_mb: a capture kernel has a few hundred MiB; -timeout: one
    # input taking longer than 10 s is a hang. TMPDIR: what harnesses write.
    TMPDIR=$scratch "$build/tests/fuzz/fuzz-$name" "$scratch/$name" \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" > "$scratch/$name.log" 2>&1 || status=$?
    echo "$status" > "$scratch/$name.status"
}
# One harness per core at a time (FUZZ_JOBS, default nproc): each is one
# single-threaded process, so two cores fuzz twice as much in the same time.
jobs=${FUZZ_JOBS:-$(nproc)}
running=0
declare -A seeds
for name in "${harnesses[@]}"; do
    corpus=$scratch/$name
    mkdir -p "$corpus"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -r "tests/fuzz/corpus/$name/." "$corpus/"
    fi
    seeds[$name]=$(find "$corpus" -type f | wc -l)
    fuzz_one "$name" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
for name in "${harnesses[@]}"; do
    echo "=== fuzz-$name: ${seconds}s from ${seeds[$name]} seeds"
    status=$(cat "$scratch/$name.status")
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$scratch/$name.log" || true
    if [ "$status" != 0 ]; then
        tail -n 60 "$scratch/$name.log"
        echo "FAIL: fuzz-$name (exit $status; the input is in $artifacts/)"
        failed+=("$name")
    else
        echo "PASS: fuzz-$name ran ${seconds}s clean"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzers that failed: ${failed[*]}"
    exit 1
fi
echo "all ${#harnesses[@]} fuzzers ran ${seconds}s each without a crash"
