#!/bin/bash
# The unit tests and the binaries under the sanitizers (issue 19), each in a
# build of its own, configured with CRASHCAPTURE_SANITIZE (CMakeLists.txt):
#   build-asan/  AddressSanitizer (with LeakSanitizer) and
#                UndefinedBehaviorSanitizer, gcc: the whole project, every
#                ctest test (the unit tests, the e2e loader's dry run), then
#                the man-page check, which runs each binary's --help.
#   build-tsan/  ThreadSanitizer, gcc: the capture side only
#                (CRASHCAPTURE_SAVER_ONLY: lib/base, lib/dump, their unit
#                tests), and of those the tests that run the parallel
#                compressor (crashcapture-save --threads) on several threads.
#   tests/run-sanitizers.sh [--asan] [--full]
#     (none)  TSan over the parallel compressor's tests only: what
#             scripts/test.sh runs every time (a few minutes). The parsers
#             of untrusted bytes already run under ASan and UBSan there, in
#             the fuzzers (tests/fuzz).
#     --asan  also the ASan+UBSan build of the whole project and all its
#             tests (about 12 minutes to build on 2 idle cores).
#     --full  --asan, and ThreadSanitizer over every saver-side unit test,
#             and the daemon on a private bus (test-daemon.sh) built with
#             ASan+UBSan (scripts/test.sh with FULL=1).
# Any sanitizer report fails its test (-fno-sanitize-recover, halt_on_error);
# the script exits nonzero if any test failed. JUnit results:
# build-asan/unit-tests.xml, build-tsan/unit-tests.xml. Each skipped test is
# printed as "SKIP: unit test NAME (SANITIZER): reason", as scripts/test.sh
# collects skips.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0 asan=0
for argument in "$@"; do
    case $argument in
        --full) full=1 asan=1 ;;
        --asan) asan=1 ;;
        *)
            echo "usage: $0 [--asan] [--full]" >&2
            exit 2
            ;;
    esac
done
jobs=$(($(nproc) < 2 ? $(nproc) : 2))

# Every report is fatal and names where it happened. LeakSanitizer stops the
# process's threads with ptrace: under a ptrace-restricted sandbox it cannot,
# and says so ("LeakSanitizer has encountered a fatal error"), so the test
# fails loudly rather than passing unchecked.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1

# configure_and_build DIR SANITIZERS TARGET [CMAKE ARGS...]: -O1 -g, as the
# sanitizers' documentation advises: fast to build, stacks still readable.
# No -Werror here: gcc's sanitizer instrumentation adds false
# -Wmaybe-uninitialized warnings; scripts/test.sh checks the warnings in
# the Release build.
configure_and_build() {
    local dir=$1 sanitizers=$2 target=$3
    shift 3
    mkdir -p "$dir"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
        -DCRASHCAPTURE_SANITIZE="$sanitizers" -DBUILD_TESTING=ON "$@" \
        > "$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
    cmake --build "$dir" -j"$jobs" --target "$target"
}

# run_ctest DIR LABEL [CTEST ARGS...]: the tests, JUnit into DIR, and a
# SKIP line per skipped test with the reason GTEST_SKIP gave.
run_ctest() {
    local dir=$1 label=$2 status=0
    shift 2
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" \
        --output-junit "$PWD/$dir/unit-tests.xml" "$@" || status=$?
    tests/junit-skips.py "$dir/unit-tests.xml" "SKIP: unit test {name} ($label): {reason}"
    return "$status"
}

failed=()
# run_script VAR=VALUE... SCRIPT: an integration script on the sanitizer
# build; exit 77 is its own skip (it printed "SKIP: reason"), not a failure.
run_script() {
    local status=0
    env "$@" || status=$?
    [ "$status" = 0 ] || [ "$status" = 77 ] || failed+=("${*: -1} with ${1#BUILD=}/ (exit $status)")
}

if [ "$asan" = 1 ]; then
    echo "=== ASan+UBSan: configure and build (build-asan/)"
    configure_and_build build-asan address,undefined all
    echo "=== ASan+UBSan: ctest"
    run_ctest build-asan "ASan+UBSan" || failed+=("ctest in build-asan/")
    echo "=== ASan+UBSan: the binaries' --help and the configuration probe (test-manpages.sh)"
    run_script BUILD=build-asan tests/integration/test-manpages.sh
fi
if [ "$full" = 1 ]; then
    echo "=== ASan+UBSan: the daemon on a private bus (test-daemon.sh)"
    run_script BUILD=build-asan tests/integration/test-daemon.sh
fi

echo "=== TSan: configure and build (build-tsan/, the capture side)"
# The unit tests only: the saver is the same library code, run by them.
configure_and_build build-tsan thread unit-tests -DCRASHCAPTURE_SAVER_ONLY=ON
if [ "$full" = 1 ]; then
    echo "=== TSan: every test of the capture side"
    run_ctest build-tsan TSan -E '^e2e-' || failed+=("ctest in build-tsan/")
else
    # The thread pool's own tests, and the dump writer with several
    # compressing threads.
    echo "=== TSan: the parallel compressor's tests"
    run_ctest build-tsan TSan \
        -R '^(ParallelFor\.|KdumpWriterTest\.ThreadCount|Codecs/KdumpWriterCodecs\.FourThreads)' ||
        failed+=("ctest in build-tsan/")
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${failed[@]}"
    exit 1
fi
echo "sanitizers: no report, every test passed or skipped (listed above)"
