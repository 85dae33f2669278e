#!/bin/bash
# Build the cache of real vmcores that the integration tests and benchmarks
# read, for each kernel Debian 12 ships (6.1 and 6.12):
#   crash-1024.vmcore   a real crash (sysrq-c) of a 1 GiB guest with busy
#                       memory, /proc/vmcore copied raw by the capture kernel
#                       (SAVE=cp), with crash-1024.dmesg.txt (vmcore-dmesg in
#                       the capture kernel) and crash-1024.serial.log
#   qemu-1024.vmcore, qemu-2048.vmcore, qemu-4096.vmcore
#                       QEMU dump-guest-memory ELF cores of busy live guests,
#                       program headers at e_phoff 192 as QEMU 7.2 writes them;
#                       qemu-M.mdf.vmcore beside each when makedumpfile 1.7.2
#                       cannot read QEMU's layout (program headers moved to 64)
# in $CACHE/corpus/<kver>/, with a NAME.info per file and
# $CACHE/corpus/manifest.txt listing them all.
#
#   make-corpus.sh [--quick] [--kernels "6.1 6.12"]
# --quick: only crash-1024.vmcore of each kernel (what CI uses).
# Idempotent: files that exist are kept; a file appears only when complete.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QUICK=0
KERNELS="6.1 6.12"
while [ $# -gt 0 ]; do
    case $1 in
        --quick)
            QUICK=1
            shift
            ;;
        --kernels)
            KERNELS=$2
            shift 2
            ;;
        -h | --help)
            e2e_usage "$0"
            ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
done
e2e_need makedumpfile readelf fallocate
CORPUS=$CACHE/corpus
CRASHKERNEL=256M

# busy_mib MEM: memory the guest fills before it is dumped, about 3/4 of what
# the kernel leaves free after crashkernel=256M, its own ~80 MiB and the
# initramfs, so that the dump is mostly real data (reference PITFALLS.md:
# an idle guest's memory is mostly zero and free pages).
busy_mib() {
    case $1 in
        1024) echo 448 ;;
        2048) echo 1152 ;;
        4096) echo 2688 ;;
        *) echo $((($1 - 456) * 3 / 4 / 64 * 64)) ;;
    esac
}

# e_phoff FILE -> the ELF header's program header offset
e_phoff() { od -An -t u8 -j 32 -N 8 "$1" | tr -d ' '; }

# finish FILE INFO_LINES...: make FILE sparse and record what it is.
# fallocate --dig-holes frees the all-zero blocks (a 1 GiB guest's raw copy
# has ~200 MiB of them) without changing a byte a reader sees.
finish() {
    local file=$1
    shift
    fallocate --dig-holes "$file" 2> /dev/null || true
    chmod 0644 "$file"
    {
        echo "file=$(basename "$file")"
        echo "bytes=$(stat -c %s "$file")"
        echo "e_phoff=$(e_phoff "$file")"
        printf '%s\n' "$@"
        echo "created=$(date -u +%FT%TZ)"
    } > "${file%.vmcore}.info"
    e2e_log "corpus: $file ($(stat -c %s "$file") bytes)"
}

# crash_info VMCORE: finish VMCORE, a crash copy, with facts from the serial
# log kept beside it (also for a copy made before its .info was written).
crash_info() {
    local target=$1 kver mem serial
    kver=$(basename "$(dirname "$target")")
    mem=$(basename "$target" .vmcore)
    mem=${mem#crash-}
    serial=${target%.vmcore}.serial.log
    finish "$target" kind=crash "kernel=$kver" "mem_mib=$mem" "busy_mib=$(busy_mib "$mem")" \
        "crashkernel=$CRASHKERNEL" kexec=-s save=cp \
        "marker=$(grep -o 'E2E_MARK_[0-9a-f-]*' "$serial" | head -1)" \
        "crash_to_capture_done_sec=$(e2e_elapsed "$(e2e_stamp "$serial" 'E2E: CRASH_TRIGGER')" \
            "$(e2e_stamp "$serial" 'E2E: CAPTURE_DONE')")"
}

# crash_vmcore KVER: crash-1024.vmcore, a real crash copied raw.
crash_vmcore() {
    local kver=$1 mem=1024 dir=$CORPUS/$1 run
    local target=$dir/crash-$mem.vmcore
    if [ -s "$target" ]; then
        [ -e "${target%.vmcore}.info" ] || crash_info "$target"
        return 0
    fi
    run=$CACHE/runs/corpus-$kver-crash-$mem
    KVER=$kver MEM=$mem CRASH=$CRASHKERNEL KEXEC=s SAVE=cp BUSY=$(busy_mib $mem) OUT=$run \
        TIMEOUT=300 "$E2E_DIR/run-cycle.sh"
    mkdir -p "$dir"
    cp "$run/vmcore-dmesg.txt" "${target%.vmcore}.dmesg.txt"
    cp "$run/serial.log" "${target%.vmcore}.serial.log"
    mv -f "$run/vmcore" "$target.partial"
    mv -f "$target.partial" "$target"
    crash_info "$target"
}

# qemu_vmcore KVER MEM: qemu-MEM.vmcore from dump-guest-memory, and the
# makedumpfile copy when needed.
qemu_vmcore() {
    local kver=$1 mem=$2 dir=$CORPUS/$1
    local target=$dir/qemu-$mem.vmcore
    local fixed=${target%.vmcore}.mdf.vmcore
    mkdir -p "$dir"
    if [ ! -s "$target" ]; then
        KVER=$kver MEM=$mem BUSY=$(busy_mib "$mem") CRASH=$CRASHKERNEL \
            "$E2E_DIR/dump-guest-memory.sh" --out "$target"
        finish "$target" kind=qemu-dump-guest-memory "kernel=$kver" "mem_mib=$mem" \
            "busy_mib=$(busy_mib "$mem")" "crashkernel=$CRASHKERNEL" \
            "marker=$(grep -o 'E2E_MARK_[0-9a-f-]*' "$target.run/serial.log" | head -1)" \
            "dump_guest_memory_sec=$(awk '$1 == "dump_guest_memory" { print $2 }' "$target.run/timings.txt")"
    fi
    [ -s "$fixed" ] && return 0
    # Does makedumpfile read QEMU's layout as written? If so no copy is needed.
    local probe
    probe=$(mktemp "$CACHE/runs/mdf-probe.XXXXXX")
    if makedumpfile --dump-dmesg "$target" "$probe.txt" > "$probe" 2>&1; then
        rm -f "$probe" "$probe.txt"
        return 0
    fi
    e2e_log "makedumpfile cannot read $target as written ($(grep -m1 -i 'get_elf_info\|PT_LOAD' "$probe" || tail -1 "$probe")); writing $fixed"
    cp --sparse=always "$target" "$fixed.partial"
    "$PYTHON" "$E2E_DIR/elf-phoff64.py" "$fixed.partial" >&2
    if ! makedumpfile --dump-dmesg "$fixed.partial" "$probe.txt" > "$probe" 2>&1; then
        rm -f "$fixed.partial"
        e2e_die "makedumpfile cannot read $fixed either: $(tail -2 "$probe" | tr '\n' ' ')"
    fi
    rm -f "$probe" "$probe.txt"
    mv -f "$fixed.partial" "$fixed"
    finish "$fixed" kind=qemu-dump-guest-memory-phoff64 "kernel=$kver" "mem_mib=$mem" \
        "from=$(basename "$target")"
}

mkdir -p "$CORPUS" "$CACHE/runs"
for series in $KERNELS; do
    kver=$(e2e_kver "$series")
    crash_vmcore "$kver"
    if [ $QUICK = 0 ]; then
        for mem in 1024 2048 4096; do
            qemu_vmcore "$kver" "$mem"
        done
    fi
done

# The manifest: one line per vmcore, from the .info files.
{
    echo "# crashcapture vmcore corpus, made by tests/e2e/make-corpus.sh; paths relative to this file"
    printf '# %s\t%s\t%s\t%s\t%s\t%s\t%s\n' path kind kernel mem_mib busy_mib bytes e_phoff
    find "$CORPUS" -name '*.info' | LC_ALL=C sort | while read -r info; do
        # shellcheck disable=SC2016 # awk program
        awk -F= -v dir="$(basename "$(dirname "$info")")" '
            { v[$1] = substr($0, length($1) + 2) }
            END { printf "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dir, v["file"], v["kind"], v["kernel"],
                  v["mem_mib"], (v["busy_mib"] == "" ? "-" : v["busy_mib"]), v["bytes"], v["e_phoff"] }' "$info"
    done
} > "$CORPUS/manifest.txt.partial"
mv -f "$CORPUS/manifest.txt.partial" "$CORPUS/manifest.txt"
cat "$CORPUS/manifest.txt"
