#!/bin/bash
# Cross-build crashcaptured for arm64 (aarch64) on a Debian 12 amd64 host
# with multiarch (cmake/toolchain-aarch64-linux-gnu.cmake: Debian's
# aarch64-linux-gnu-g++ and the :arm64 -dev packages that
# scripts/install-deps.sh installs), Release, warnings as errors as in the
# native build of scripts/test.sh; optionally run the arm64 unit tests under
# qemu-user (qemu-aarch64, no binfmt_misc needed).
#   scripts/build-arm64.sh [--saver] [--test] [OUTDIR]   default OUTDIR: build-arm64/
#     --saver  build only crashcapture-save, the unit tests of lib/base and
#              lib/dump, and tests/e2e's crashcapture-kexec-load (CMake's
#              CRASHCAPTURE_SAVER_ONLY; what CI checks), not the daemon,
#              crashcapturectl nor the man pages
#     --test   then run the unit tests (ctest) under qemu-aarch64
# The binaries are in OUTDIR (cli/crashcapture-save, daemon/crashcaptured,
# tests/unit-tests). CRASHCAPTURE_WERROR=OFF builds without -Werror; JOBS=N
# compiles and tests N at a time (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

saver_only=0 run_tests=0 out=build-arm64
while [ $# -gt 0 ]; do
    case $1 in
        --saver) saver_only=1 ;;
        --test) run_tests=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
        -*) echo "build-arm64.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done

for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
    command -v "$tool" > /dev/null ||
        { echo "build-arm64.sh: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

mkdir -p "$out"
cmake -S . -B "$out" --toolchain "$PWD/cmake/toolchain-aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCRASHCAPTURE_WERROR="${CRASHCAPTURE_WERROR:-ON}" -DBUILD_TESTING=ON \
    -DCRASHCAPTURE_SAVER_ONLY="$([ "$saver_only" = 1 ] && echo ON || echo OFF)" \
    > "$out/configure.log" 2>&1 || { cat "$out/configure.log"; exit 1; }
jobs=${JOBS:-$(nproc)}
cmake --build "$out" -j"$jobs"

# The saver goes into arm64 capture initrds: it must be an aarch64 binary.
saver=$out/cli/crashcapture-save
file -b "$saver" | grep -q 'ARM aarch64' ||
    { echo "build-arm64.sh: $saver is not an aarch64 binary: $(file -b "$saver")" >&2; exit 1; }
echo "build-arm64.sh: $saver: $(file -b "$saver")"

if [ "$run_tests" = 1 ]; then
    # CMAKE_CROSSCOMPILING_EMULATOR (the toolchain file) runs each test under
    # qemu-aarch64. CRASHCAPTURE_UNDER_QEMU_USER tells the few tests that
    # cannot mean anything there (an address-space limit applies to qemu
    # itself, not to the emulated program) to skip, and say so.
    CRASHCAPTURE_UNDER_QEMU_USER=1 ctest --test-dir "$out" --output-on-failure -j"$jobs" --output-junit unit-tests.xml
fi
