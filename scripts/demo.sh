#!/bin/bash
# The main job, shown for real: what an administrator gets on a server.
#
#   sudo scripts/demo.sh
#       The administrator's story in a Debian 12 guest under QEMU (no KVM
#       needed): the crashcaptured .deb is installed, the package enables
#       and starts crashcaptured, the daemon builds its dracut capture
#       initrd and arms by itself, crashcapturectl status says so, the
#       kernel crashes, the capture kernel saves the dump and reboots, and
#       crashcapturectl list and info show the dump with its panic line and
#       kernel log. The first run debootstraps the guest image (cached in
#       $CRASHCAPTURE_CACHE/guest); about 15 minutes then, 8-10 after.
#
#   sudo scripts/demo.sh --saver-only [6.1|6.12]
#       crashcapture-save alone, in a minimal busybox capture initramfs: a
#       kernel is crashed in QEMU, the capture kernel (loaded with
#       crashcaptured's kexec_file_load code) writes the dump, and drgn and
#       libkdumpfile open it. About 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASHCAPTURE_CACHE=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
mode=story
kernel=6.1
while [ $# -gt 0 ]; do
    case $1 in
        --saver-only) mode=saver; shift ;;
        -h | --help) usage 0 ;;
        6.1 | 6.12) kernel=$1; shift ;;
        *) echo "demo.sh: unknown argument $1" >&2; usage 2 >&2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it installs packages and builds guest images)" >&2; exit 1; }

echo "== installing dependencies (Debian packages)"
scripts/install-deps.sh

saver_only() {
    echo "== building"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON > /dev/null
    cmake --build build -j"$(nproc)" --target crashcapture-save crashcapture-kexec-load > /dev/null

    out=$CRASHCAPTURE_CACHE/runs/demo-$kernel
    echo "== crashing Linux $kernel in QEMU; the capture kernel runs crashcapture-save"
    # The capture kernel is loaded with crashcaptured's own kexec_file_load code
    # and derived command line (tests/e2e/crashcapture-kexec-load).
    tests/e2e/run-cycle.sh --kver "$kernel" --kexec ours --save ours --busy 256 --out "$out"

    echo
    echo "== the dump directory the capture kernel wrote ($out)"
    ls -l "$out"/vmcore "$out"/vmcore-dmesg.txt "$out"/status.json
    /usr/bin/python3 - "$out/status.json" << 'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["pages"]
print(f"result: {r['result']}   kernel: {r['kernel_release']}   dump level {r['dump_level']}, {r['compression']}")
print(f"panic: {r['panic_line']}")
print(f"pages: {p['total']} in memory, {p['dumpable']} dumped ({p['zero']} zero), "
      f"excluded: {p['excluded_free']} free, {p['excluded_cache']} cache, {p['excluded_user']} user")
print(f"{r['bytes_in'] / 2**20:.0f} MiB read, {r['bytes_out'] / 2**20:.1f} MiB written in {r['duration_sec']:.1f} s")
PY
    echo
    echo "== the crashed kernel's last words (vmcore-dmesg.txt)"
    grep -E 'E2E_MARK|sysrq|Kernel panic' "$out/vmcore-dmesg.txt" | tail -4
    echo
    echo "== drgn and libkdumpfile open the dump"
    /usr/bin/python3 - "$out/vmcore" << 'PY'
import sys, drgn, kdumpfile
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
k = kdumpfile.kdumpfile(sys.argv[1])
k.attr["addrxlat.ostype"] = "linux"
# new_utsname.release is the third char[65] of init_uts_ns.name
release = prog.read(k.attr["linux.vmcoreinfo.SYMBOL.init_uts_ns"] + 2 * 65, 65).split(b"\0")[0].decode()
print(f"libkdumpfile: {k.attr['file.description']}, release {k.attr['linux.uts.release']}")
print(f"drgn: init_uts_ns.name.release = {release}")
PY
    echo
    echo "With the kernel's debug symbols (apt install linux-image-<release>-dbg):"
    echo "  crash /usr/lib/debug/boot/vmlinux-<release> $out/vmcore"
    echo "  drgn -c $out/vmcore -s /usr/lib/debug/boot/vmlinux-<release>"
}

# What the guest prints while it runs, as it happens: the driver's "E2E:"
# steps and the capture's "crashcapture:" console lines, with a heartbeat
# when nothing new came for a minute (a first dracut build under TCG takes
# minutes and must not look hung).
follow_guest() {
    local pid=$1 serial=$2 log=$3 shown_serial=0 shown_log=0 quiet=0 lines
    while kill -0 "$pid" 2> /dev/null; do
        sleep 5
        quiet=$((quiet + 5))
        if [ -s "$log" ]; then
            lines=$(wc -l < "$log")
            if [ "$lines" -gt "$shown_log" ]; then
                sed -n "$((shown_log + 1)),${lines}p" "$log" | grep -E '^test-systemd-guest.sh: ' |
                    sed 's/^test-systemd-guest.sh: /   host: /' || true
                shown_log=$lines
            fi
        fi
        [ -s "$serial" ] || continue
        lines=$(wc -l < "$serial")
        [ "$lines" -gt "$shown_serial" ] || { heartbeat; continue; }
        if sed -n "$((shown_serial + 1)),${lines}p" "$serial" |
            grep -E 'E2E: |crashcapture: |Kernel panic|sysrq: Trigger a crash|Starting crashcapture' |
            sed -E 's/^\[ *([0-9.]+)\] */   [\1 s] /' | grep .; then
            quiet=0
        fi
        shown_serial=$lines
        heartbeat
    done
}
heartbeat() {
    if [ "$quiet" -ge 60 ]; then
        echo "   ... still working ($(tail -c 300 "$serial" 2> /dev/null | tr -cd '[:print:]\n' | tail -1 | cut -c1-100))"
        quiet=0
    fi
}

story() {
    local deb out log guest_status
    echo "== building the crashcaptured package (scripts/build-deb.sh)"
    rm -rf build/demo-deb
    scripts/build-deb.sh build/demo-deb > build/demo-build-deb.log 2>&1 ||
        { tail -30 build/demo-build-deb.log; exit 1; }
    deb=$(ls build/demo-deb/crashcaptured_*_amd64.deb)
    echo "   $deb"
    out=$CRASHCAPTURE_CACHE/runs/demo-story
    log=$CRASHCAPTURE_CACHE/runs/demo-story.log
    mkdir -p "$CRASHCAPTURE_CACHE/runs"
    echo "== a Debian 12 server in QEMU: apt installs the .deb, the package enables crashcaptured,"
    echo "   the daemon builds its capture initrd and arms, the kernel crashes, the dump is saved,"
    echo "   the server reboots and lists the dump (progress below; the whole log: $log)"
    tests/e2e/test-systemd-guest.sh --deb "$deb" --scenario capture --no-driver-update \
        --out "$out" > "$log" 2>&1 &
    local guest=$!
    follow_guest "$guest" "$out/serial.log" "$log"
    guest_status=0
    wait "$guest" || guest_status=$?
    local results=$out/results
    echo
    echo "== crashcapturectl status, in the guest once armed"
    sed 's/^/   /' "$results/status-phase1.txt" 2> /dev/null || echo "   (none: see $log)"
    echo
    echo "== crashcapturectl list, after the crash and the reboot"
    sed 's/^/   /' "$results/list.txt" 2> /dev/null || echo "   (none: see $log)"
    echo
    echo "== crashcapturectl info <id>: the record of the capture"
    /usr/bin/python3 - "$results/info.json" << 'PY' || echo "   (none: see $log)"
import json, sys
entry = json.load(open(sys.argv[1]))
r = entry.get("record", entry)
print(f"   id:      {entry.get('id', '?')}   result: {r['result']}   kernel: {r['kernel_release']}")
print(f"   panic:   {r['panic_line']}")
print(f"   dump:    {entry.get('path', '?')}/{r['dump_file']} ({r['format']}, dump level {r['dump_level']}, {r['compression']})")
print(f"   written: {r['bytes_out'] / 2**20:.1f} MiB of {r['bytes_in'] / 2**20:.0f} MiB in {r['duration_sec']:.1f} s")
PY
    echo
    echo "== crashcapturectl dmesg <id>: the crashed kernel's log, where it died"
    grep -E 'sysrq|Kernel panic|BUG:|Oops|RIP:|Call Trace' "$results/dmesg-via-dbus.txt" 2> /dev/null |
        head -8 | sed 's/^/   /' || echo "   (none: see $log)"
    echo
    echo "== the checks the test made on it"
    grep -E '^(PASS|FAIL|SKIP):' "$log" | sed 's/^/   /'
    echo
    echo "The dump, copied out of the guest: $out/crash/"
    echo "Open it with the kernel's debug symbols (apt install linux-image-<release>-dbg):"
    echo "  crash /usr/lib/debug/boot/vmlinux-<release> $out/crash/<id>/vmcore"
    echo "  drgn -c $out/crash/<id>/vmcore -s /usr/lib/debug/boot/vmlinux-<release>"
    [ "$guest_status" = 0 ] || { echo "demo.sh: the guest story had failures (exit $guest_status); see $log" >&2; exit 1; }
}

if [ "$mode" = saver ]; then
    saver_only
else
    story
fi
