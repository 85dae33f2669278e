#!/bin/bash
# crashcapture-save against the real tools, on a real vmcore from a QEMU crash.
#   test-real-vmcore.sh VMCORE [VMLINUX]
#   MAKEDUMPFILE="qemu-aarch64 -L SYSROOT SYSROOT/usr/bin/makedumpfile" \
#       test-real-vmcore.sh ARM64-VMCORE   (the arm64 makedumpfile under qemu-user:
#                                           the host's reads only x86_64 vmcores)
#   MAKEDUMPFILE= test-real-vmcore.sh VMCORE   (no makedumpfile can read it, e.g.
#       1.7.2 on 4K pages with 52-bit VA: those checks SKIP, the rest run)
# Checks (each prints PASS/FAIL, or SKIP where it cannot run here; exit
# status = number of failures, tests/checks.sh):
#  1. --compress none --dump-level 1 is byte-identical to `makedumpfile -d 1`
#     (headers, bitmaps, descriptors and data are laid out exactly as theirs);
#  1b. --compress lzo --dump-level 1 is byte-identical to `makedumpfile -l
#     -d 1` (the same lzo1x_1 blocks, kdump flag 0x2);
#  2. vmcore-dmesg.txt is byte-identical to `makedumpfile --dump-dmesg`;
#  3. zstd (default), zlib and lzo dumps: libkdumpfile reads every page and each
#     equals the source, drgn reads the release through a virtual address;
#  4. the flattened stream, to a file and to stdout, replayed by
#     `makedumpfile -R`, is byte-identical to the direct file;
#  5. ELF output: libkdumpfile and drgn read it the same way;
#  6. with VMLINUX: crash 8.0.2 runs `sys` and `log` on the zstd and lzo dumps;
#  7. bad input: a truncated copy gives an incomplete, flagged dump and the
#     kernel log; a full disk (small tmpfs, root only) likewise.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
vmcore=${1:?usage: test-real-vmcore.sh VMCORE [VMLINUX]}
vmlinux=${2:-}
SAVE=${CRASHCAPTURE_SAVE:-$HERE/../../build/cli/crashcapture-save}
# The makedumpfile that reads this vmcore's architecture, as command words.
read -r -a makedumpfile_command <<< "${MAKEDUMPFILE-makedumpfile}"
mdf() { "${makedumpfile_command[@]}" "$@"; }
have_mdf() { [ "${#makedumpfile_command[@]}" -gt 0 ]; }
no_mdf_reason="no makedumpfile reads this vmcore (MAKEDUMPFILE is empty)"
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/crashcapture-it.XXXXXX")
cleanup() {
    mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
    rm -rf "$work"
}
trap cleanup EXIT
echo "== $(basename "$vmcore"): $(stat -c %s "$vmcore") bytes, work dir $work"

save() { # save NAME ARGS... -> dump directory $work/NAME
    local name=$1; shift
    "$SAVE" --input "$vmcore" --output "$work/$name" --progress never "$@" \
        > "$work/$name.out" 2> "$work/$name.err"
}
record_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# byte_identical_to_makedumpfile NAME "MAKEDUMPFILE OPTIONS" OPTIONS...:
# crashcapture-save with OPTIONS (the dump stays in $work/NAME) and
# makedumpfile with its options on the same vmcore; PASS when the two
# files hold the same bytes.
byte_identical_to_makedumpfile() {
    local name=$1 mdf_options ours theirs
    read -r -a mdf_options <<< "$2"
    shift 2
    ours="$*" theirs="makedumpfile ${mdf_options[*]}"
    if ! save "$name" "$@"; then
        fail "saving with $ours failed: $(tail -1 "$work/$name.err")"
    elif ! have_mdf; then
        skip "$ours against $theirs: $no_mdf_reason"
    elif ! mdf "${mdf_options[@]}" "$vmcore" "$work/mdf-$name" > "$work/mdf-$name.log" 2>&1; then
        fail "$theirs failed: $(tail -1 "$work/mdf-$name.log")"
    elif cmp -s "$work/mdf-$name" "$work/$name/vmcore"; then
        pass "$ours is byte-identical to $theirs ($(stat -c %s "$work/mdf-$name") bytes)"
    else
        fail "$ours differs from $theirs: $(cmp "$work/mdf-$name" "$work/$name/vmcore" 2>&1 | head -1)"
    fi
    rm -f "$work/mdf-$name"
}

# 1. byte-identical to makedumpfile -d 1 (makedumpfile 1.7.2 says "The kernel
#    version is not supported" on 6.x and still works; its exit code is 0).
byte_identical_to_makedumpfile none "-d 1" --compress none --dump-level 1
# 1b. lzo: the pages makedumpfile -l writes, byte for byte
byte_identical_to_makedumpfile lzo-d1 "-l -d 1" --compress lzo --dump-level 1
rm -rf "$work/lzo-d1"

# 2. the kernel log
if ! have_mdf; then
    skip "vmcore-dmesg.txt against makedumpfile --dump-dmesg: $no_mdf_reason"
elif mdf --dump-dmesg "$vmcore" "$work/mdf-dmesg.txt" > "$work/mdf-dmesg.log" 2>&1; then
    if cmp -s "$work/mdf-dmesg.txt" "$work/none/vmcore-dmesg.txt"; then
        pass "vmcore-dmesg.txt is byte-identical to makedumpfile --dump-dmesg ($(wc -l < "$work/mdf-dmesg.txt") lines)"
    else
        fail "vmcore-dmesg.txt differs from makedumpfile --dump-dmesg: $(diff "$work/mdf-dmesg.txt" "$work/none/vmcore-dmesg.txt" | head -3 | tr '\n' ' ')"
    fi
else
    fail "makedumpfile --dump-dmesg failed: $(tail -2 "$work/mdf-dmesg.log" | tr '\n' ' ')"
fi

# 3. compressed dumps through libkdumpfile and drgn
for compression in zstd zlib lzo; do
    if save "$compression" --compress "$compression" &&
        [ "$(record_field "$work/$compression/status.json" result)" = complete ]; then
        if "$HERE/verify-dump.py" --source "$vmcore" --dump "$work/$compression/vmcore" \
            --record "$work/$compression/status.json" --allow-excluded-data \
            > "$work/$compression.verify" 2>&1; then
            pass "$compression dump ($(stat -c %s "$work/$compression/vmcore") bytes): $(tr '\n' ' ' < "$work/$compression.verify")"
        else
            fail "$compression dump: $(tr '\n' ' ' < "$work/$compression.verify")"
        fi
    else
        fail "saving with $compression failed: $(tail -1 "$work/$compression.err")"
    fi
done

# 3b. the page filter at every dump level makedumpfile documents: the frames
#     we keep must equal makedumpfile's, or each difference must be explained
#     by the crashed kernel's own struct pages; free pages must match the
#     kernel's buddy free lists.
for level in 2 4 8 16 31; do
    if ! have_mdf; then
        save "d$level" --compress none --dump-level "$level" ||
            fail "dump level $level: saving failed: $(tail -1 "$work/d$level.err")"
        skip "dump level $level against makedumpfile: $no_mdf_reason"
        continue
    fi
    if ! save "d$level" --compress none --dump-level "$level" ||
        ! mdf -d "$level" "$vmcore" "$work/mdf-d$level" > "$work/mdf-d$level.log" 2>&1; then
        fail "dump level $level: saving or makedumpfile failed: $(tail -1 "$work/d$level.err")"
        continue
    fi
    if cmp -s "$work/d$level/vmcore" "$work/mdf-d$level"; then
        pass "dump level $level: byte-identical to makedumpfile -d $level ($(grep -o '"dumpable": [0-9]*' "$work/d$level/status.json"))"
    elif "$HERE/check-page-filter.py" --source "$vmcore" --dump "$work/d$level/vmcore" \
        --record "$work/d$level/status.json" --makedumpfile "$work/mdf-d$level" > "$work/d$level.check" 2>&1; then
        pass "dump level $level: differs from makedumpfile 1.7.2 only where explained: $(tr '\n' ' ' < "$work/d$level.check")"
    else
        fail "dump level $level: $(tr '\n' ' ' < "$work/d$level.check")"
    fi
    rm -f "$work/mdf-d$level"
done
"$HERE/check-page-filter.py" --source "$vmcore" --dump "$work/d31/vmcore" \
    --record "$work/d31/status.json" > "$work/freelists.check" 2>&1
case $? in
    0) pass "dump level 31 against the kernel's free lists: $(head -1 "$work/freelists.check")" ;;
    77) skip "free lists: $(sed -n 's/^SKIP: //p' "$work/freelists.check")" ;;
    *) fail "free lists: $(tr '\n' ' ' < "$work/freelists.check")" ;;
esac

# 4. the flattened stream, to a file and to standard output
if save flat --format flattened --compress none --dump-level 1 &&
    makedumpfile -R "$work/flat/reassembled" < "$work/flat/vmcore.flat" > /dev/null 2>&1 &&
    cmp -s "$work/flat/reassembled" "$work/none/vmcore"; then
    pass "makedumpfile -R of the flattened file equals the direct dump"
else
    fail "flattened file: makedumpfile -R result differs or failed"
fi
if "$SAVE" --input "$vmcore" --output "$work/stdout" --progress never --format flattened \
    --dump-to - 2> "$work/stdout.err" | makedumpfile -R "$work/stdout-reassembled" > /dev/null 2>&1 &&
    save zstd-again && cmp -s "$work/stdout-reassembled" "$work/zstd-again/vmcore"; then
    pass "makedumpfile -R of the zstd stream on stdout equals the direct zstd dump"
else
    fail "flattened stdout: $(tail -1 "$work/stdout.err")"
fi

# 5. ELF output
if save elf --format elf --dump-level 1 &&
    "$HERE/verify-dump.py" --source "$vmcore" --dump "$work/elf/vmcore" > "$work/elf.verify" 2>&1; then
    pass "ELF dump ($(du -k "$work/elf/vmcore" | cut -f1) KiB on disk of $(stat -c %s "$work/elf/vmcore") bytes): $(tr '\n' ' ' < "$work/elf.verify")"
else
    fail "ELF dump: $(tr '\n' ' ' < "$work/elf.verify" 2>/dev/null) $(tail -1 "$work/elf.err")"
fi

# 6. crash with the matching vmlinux. crash 8.0.2 (Debian 12) predates some
#    kernels Debian 12 ships (6.12 exits silently even on the raw vmcore):
#    the check runs where crash can read the source vmcore itself.
crash_reads() { # crash_reads DUMP OUT -> true if crash identified the panic
    printf 'sys\nlog\nquit\n' | timeout 300 crash -s "$vmlinux" "$1" > "$2" 2>&1
    grep -q 'PANIC: "' "$2" && grep -q 'RELEASE:' "$2" && grep -q 'Kernel panic - not syncing' "$2"
}
if [ -n "$vmlinux" ]; then
    if ! crash_reads "$vmcore" "$work/crash-source.out"; then
        skip "crash $(crash --version 2>/dev/null | awk '/^crash/{print $2; exit}') cannot read even the raw vmcore of this kernel; nothing to compare"
    else
        for compression in zstd lzo; do
            if crash_reads "$work/$compression/vmcore" "$work/crash-$compression.out"; then
                pass "crash: sys and log on the $compression dump ($(grep 'PANIC:' "$work/crash-$compression.out" | xargs))"
            else
                fail "crash reads the raw vmcore but not our $compression dump: $(head -5 "$work/crash-$compression.out" | tr '\n' ' ')"
            fi
        done
    fi
else
    skip "no VMLINUX given: crash is not run"
fi

# 7. bad input and a full disk
head -c $(( $(stat -c %s "$vmcore") / 3 )) "$vmcore" > "$work/truncated.vmcore"
"$SAVE" --input "$work/truncated.vmcore" --output "$work/truncated" --progress never 2> "$work/truncated.err"
rc=$?
status_flag() { /usr/bin/python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1],"rb").read(428), 424)[0] & 8)' "$1"; }
if [ $rc = 3 ] && [ "$(record_field "$work/truncated/status.json" result)" = incomplete ] &&
    [ -s "$work/truncated/vmcore-dmesg.txt" ] && [ "$(status_flag "$work/truncated/vmcore.incomplete")" = 8 ]; then
    pass "truncated vmcore: exit 3, record incomplete, kernel log kept, header flagged incomplete"
else
    fail "truncated vmcore: exit $rc, $(tail -1 "$work/truncated.err")"
fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$work/full"
    # Half of what the default (zstd) dump needs: the disk fills mid-dump.
    full_kib=$(( $(stat -c %s "$work/zstd/vmcore" 2>/dev/null || echo 50331648) / 2048 ))
    mount -t tmpfs -o size="$(( full_kib > 1024 ? full_kib : 1024 ))k" tmpfs "$work/full"
    "$SAVE" --input "$vmcore" --output "$work/full/dump" --progress never 2> "$work/full.err"
    rc=$?
    if [ $rc = 3 ] && grep -q '"result": "incomplete"' "$work/full/dump/status.json" &&
        grep -q 'No space left' "$work/full/dump/status.json" &&
        [ -s "$work/full/dump/vmcore-dmesg.txt" ] &&
        [ "$(status_flag "$work/full/dump/vmcore.incomplete")" = 8 ]; then
        pass "full disk: exit 3, record says incomplete and why, kernel log kept, header flagged"
    else
        fail "full disk: exit $rc, $(tail -1 "$work/full.err")"
    fi
    umount "$work/full"
else
    skip "full-disk test needs root to mount a small tmpfs"
fi

checks_exit "== $(basename "$vmcore")"
