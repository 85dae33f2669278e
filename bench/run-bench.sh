#!/bin/bash
# crashcapture-save against makedumpfile, side by side, on the same real vmcores.
#   bench/run-bench.sh [--rounds N] [VMCORE...]
# Default vmcores: every *.vmcore of the corpus ($CRASHCAPTURE_CACHE/corpus,
# built by tests/e2e/make-corpus.sh), except the phoff-fixed copies made for
# makedumpfile 1.7.2. For each vmcore, each contender runs N rounds (after one
# warm-up, so all read the vmcore from the page cache alike) at dump level 31:
#   ours-1t   crashcapture-save --threads 1  (zstd level 1; a capture kernel with nr_cpus=1)
#   ours-Nt   crashcapture-save, every CPU
#   ours-lzo  crashcapture-save --threads 1 --compress lzo (makedumpfile -l's codec)
#   mdf-l     makedumpfile -l -d 31          (lzo: its fastest)
#   mdf-c     makedumpfile -c -d 31          (zlib: its smallest on Debian 12, no zstd there)
# and the table gives median wall and CPU seconds, output bytes, peak RSS, and
# the ratios ours-1t/mdf-l (time) and ours-1t/mdf-c (size), and the same for
# ours-lzo.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SAVE=${CRASHCAPTURE_SAVE:-$HERE/../build/cli/crashcapture-save}
CACHE=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}
rounds=3
if [ "${1:-}" = --rounds ]; then rounds=$2; shift 2; fi
vmcores=("$@")
if [ ${#vmcores[@]} = 0 ]; then
    mapfile -t vmcores < <(find "$CACHE/corpus" -name '*.vmcore' ! -name '*.mdf.vmcore' | sort)
fi
[ ${#vmcores[@]} -gt 0 ] || { echo "no vmcores: run tests/e2e/make-corpus.sh first" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/crashcapture-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run NAME CMD... -> "wall user+sys rss_kib" of one run; output in $work/out
measure() {
    rm -rf "$work/out" "$work/dir"
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > /dev/null 2> "$work/err" ||
        { echo "FAILED: $* ($(tail -1 "$work/err"))" >&2; return 1; }
    read -r wall user sys rss < "$work/time"
    echo "$wall $(echo "$user + $sys" | bc) $rss"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-34s %-8s %8s %8s %12s %9s\n' vmcore tool wall_s cpu_s bytes rss_MiB
for vmcore in "${vmcores[@]}"; do
    name=$(basename "$(dirname "$vmcore")")/$(basename "$vmcore")
    mdf_input=$vmcore
    [ -e "${vmcore%.vmcore}.mdf.vmcore" ] && mdf_input=${vmcore%.vmcore}.mdf.vmcore
    declare -A wall=() bytes=()
    for tool in ours-1t ours-Nt ours-lzo mdf-l mdf-c; do
        case $tool in
            ours-1t) cmd=("$SAVE" --input "$vmcore" --output "$work/dir" --progress never --threads 1); out=$work/dir/vmcore ;;
            ours-Nt) cmd=("$SAVE" --input "$vmcore" --output "$work/dir" --progress never); out=$work/dir/vmcore ;;
            ours-lzo) cmd=("$SAVE" --input "$vmcore" --output "$work/dir" --progress never --threads 1 --compress lzo); out=$work/dir/vmcore ;;
            # crashcapture-save fsyncs what it writes (a capture kernel may be
            # reset any moment); makedumpfile does not, so its runs end with a
            # sync of the output file, to compare the same durable result.
            mdf-l) cmd=(sh -c 'makedumpfile -l -d 31 "$1" "$2" && sync "$2"' - "$mdf_input" "$work/out"); out=$work/out ;;
            mdf-c) cmd=(sh -c 'makedumpfile -c -d 31 "$1" "$2" && sync "$2"' - "$mdf_input" "$work/out"); out=$work/out ;;
        esac
        measure "${cmd[@]}" > /dev/null || continue  # warm-up
        : > "$work/runs"
        for _ in $(seq "$rounds"); do
            measure "${cmd[@]}" >> "$work/runs" || break
        done
        w=$(cut -d' ' -f1 "$work/runs" | median)
        c=$(cut -d' ' -f2 "$work/runs" | median)
        r=$(cut -d' ' -f3 "$work/runs" | median)
        b=$(stat -c %s "$out")
        wall[$tool]=$w; bytes[$tool]=$b
        printf '%-34s %-8s %8.2f %8.2f %12d %9.1f\n' "$name" "$tool" "$w" "$c" "$b" "$(echo "$r / 1024" | bc -l)"
    done
    if [ -n "${wall[ours-1t]:-}" ] && [ -n "${wall[mdf-l]:-}" ] && [ -n "${bytes[mdf-c]:-}" ]; then
        printf '%-34s ratios: time ours-1t/mdf-l %.2f, ours-Nt/mdf-l %.2f; size ours/mdf-c %.3f, ours/mdf-l %.3f\n' \
            "$name" "$(echo "${wall[ours-1t]} / ${wall[mdf-l]}" | bc -l)" \
            "$(echo "${wall[ours-Nt]} / ${wall[mdf-l]}" | bc -l)" \
            "$(echo "${bytes[ours-1t]} / ${bytes[mdf-c]}" | bc -l)" \
            "$(echo "${bytes[ours-1t]} / ${bytes[mdf-l]}" | bc -l)"
    fi
    if [ -n "${wall[ours-lzo]:-}" ] && [ -n "${wall[mdf-l]:-}" ] && [ -n "${bytes[mdf-c]:-}" ]; then
        printf '%-34s ratios: time ours-lzo/mdf-l %.2f; size ours-lzo/mdf-c %.3f, ours-lzo/mdf-l %.3f\n' \
            "$name" "$(echo "${wall[ours-lzo]} / ${wall[mdf-l]}" | bc -l)" \
            "$(echo "${bytes[ours-lzo]} / ${bytes[mdf-c]}" | bc -l)" \
            "$(echo "${bytes[ours-lzo]} / ${bytes[mdf-l]}" | bc -l)"
    fi
    unset wall bytes
done
