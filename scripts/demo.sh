#!/bin/bash
# The main job, shown for real: install what is needed, build, boot a Debian
# kernel in QEMU (no KVM needed), load a capture kernel into its crashkernel=
# reservation (with this project's kexec_file_load), crash it with sysrq-c, let crashcapture-save write the dump in
# the capture kernel, and open the result with drgn and libkdumpfile.
#   sudo scripts/demo.sh [6.1|6.12]      (default 6.1; about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=${1:-6.1}
export CRASHCAPTURE_CACHE=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}

echo "== installing dependencies (Debian packages)"
scripts/install-deps.sh
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
/usr/bin/python3 - "$out/status.json" <<'PY'
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
/usr/bin/python3 - "$out/vmcore" <<'PY'
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
