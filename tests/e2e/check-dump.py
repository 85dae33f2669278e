#!/usr/bin/python3
"""Check a dump directory written by crashcapture-save in a QEMU crash cycle.

  check-dump.py [--no-record] [--expect TEXT]... DUMP_DIR MARKER

* status.json says "complete";
* vmcore-dmesg.txt holds MARKER (written to /dev/kmsg just before the crash)
  and each --expect TEXT, the crash's report lines (default: the line the
  kernel prints when sysrq-c fires; lib.sh's e2e_crash_expect has them for
  every crash type);
* libkdumpfile opens vmcore, and the number of page frames it can read
  equals status.json's pages.written + pages.zero (zero pages are kept
  through one shared descriptor, so they are readable too);
* drgn opens vmcore without debug info and reads init_uts_ns.name.release
  through a kernel virtual address; it must equal the release in VMCOREINFO
  and in status.json.

--no-record: the directory has no status.json (a raw /proc/vmcore copy or
makedumpfile's output); only the log, libkdumpfile opening the file and the
drgn read are checked, and the page count is printed.

Prints one line per check ("ok: ..." or "FAIL: ..."); exit status 1 if any
failed. Needs Debian's /usr/bin/python3 (python3-drgn, python3-libkdumpfile).
"""
import json
import os
import sys

import drgn
import kdumpfile

PAGE_SIZE = 4096
# The kernel's own words: __handle_sysrq() prints op->action_msg with
# pr_fmt "sysrq: ", and sysrq_crash_op's action_msg is "Trigger a crash"
# (drivers/tty/sysrq.c, 6.1 and 6.12).
SYSRQ_CRASH_LINE = "sysrq: Trigger a crash"
# struct new_utsname is six char[65] fields; release is the third
# (include/uapi/linux/utsname.h, __NEW_UTS_LEN + 1 = 65).
UTS_FIELD = 65
UTS_RELEASE_INDEX = 2

failures = []


def check(ok, message):
    print(("ok: " if ok else "FAIL: ") + message)
    if not ok:
        failures.append(message)


def main():
    args = sys.argv[1:]
    with_record = "--no-record" not in args
    args = [a for a in args if a != "--no-record"]
    expected_lines = []
    while "--expect" in args:
        at = args.index("--expect")
        if at + 1 >= len(args):
            raise SystemExit("check-dump.py: --expect needs a value")
        expected_lines.append(args[at + 1])
        del args[at:at + 2]
    expected_lines = expected_lines or [SYSRQ_CRASH_LINE]
    if len(args) != 2:
        raise SystemExit("usage: check-dump.py [--no-record] [--expect TEXT]... DUMP_DIR MARKER")
    directory, marker = args
    vmcore = os.path.join(directory, "vmcore")

    record = {}
    if with_record:
        with open(os.path.join(directory, "status.json")) as f:
            record = json.load(f)
        check(record.get("result") == "complete",
              f"status.json result is {record.get('result')!r} {record.get('error') or ''}".rstrip())
    pages = record.get("pages", {})

    try:
        with open(os.path.join(directory, "vmcore-dmesg.txt"), errors="replace") as f:
            log = f.read()
    except OSError as e:
        log = ""
        check(False, f"vmcore-dmesg.txt: {e.strerror}")
    check(marker in log, f"marker {marker} in vmcore-dmesg.txt")
    for line in expected_lines:
        check(line in log, f"'{line}' in vmcore-dmesg.txt")

    # libkdumpfile: without an OS type it cannot set up address translation
    # and refuses even physical reads.
    dump = kdumpfile.kdumpfile(vmcore)
    dump.attr["addrxlat.ostype"] = "linux"
    info = dump.attr["linux.vmcoreinfo.lines"]
    osrelease = info["OSRELEASE"]
    readable = zero = 0
    for pfn in range(dump.attr["max_pfn"]):
        try:
            data = dump.read(kdumpfile.KDUMP_KPHYSADDR, pfn * PAGE_SIZE, PAGE_SIZE)
        except Exception:  # not in the dump (filtered out, or never present)
            continue
        readable += 1
        zero += not any(data)
    seen = f"libkdumpfile ({dump.attr['file.description']}) reads {readable} pages ({zero} all-zero)"
    if with_record:
        expected = pages.get("written", 0) + pages.get("zero", 0)
        check(readable == expected, f"{seen}; status.json written {pages.get('written')} + zero "
              f"{pages.get('zero')} = {expected}")
    else:
        check(readable > 0, seen)

    prog = drgn.Program()
    prog.set_core_dump(vmcore)
    name = int(info["SYMBOL(init_uts_ns)"], 16) + int(info.get("OFFSET(uts_namespace.name)", "0"))
    release = prog.read(name + UTS_RELEASE_INDEX * UTS_FIELD, UTS_FIELD).split(b"\0")[0].decode()
    recorded = record.get("kernel_release", osrelease)
    check(release == osrelease == recorded,
          f"drgn reads init_uts_ns.name.release {release!r} (VMCOREINFO {osrelease!r}"
          + (f", status.json {recorded!r})" if with_record else ")"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
