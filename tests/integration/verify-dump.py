#!/usr/bin/python3
"""Check a crashcapture dump with the readers kernel engineers use.

  verify-dump.py --source VMCORE --dump DUMP [--record status.json]

* libkdumpfile (python3-libkdumpfile) reads every page frame the source ELF
  vmcore has data for, through the dump, and each must equal the source page;
  the number of frames it can read must equal the record's pages.dumpable;
* drgn (python3-drgn, which reads kdump files through libkdumpfile) opens the
  dump and reads the kernel release through a virtual address
  (SYMBOL(init_uts_ns) from VMCOREINFO), which must equal OSRELEASE.

Needs Debian's /usr/bin/python3 (a pyenv python does not see dist-packages).
Exit 0 = every check passed; otherwise a one-line reason per failure.
"""
import argparse
import json
import struct
import sys

import drgn
import kdumpfile

PAGE_SIZE = 4096
PT_LOAD, PT_NOTE = 1, 4
# struct new_utsname: six char[65]; release is the third (include/uapi/linux/utsname.h).
UTS_FIELD = 65


def elf_segments(path):
    """PT_LOAD (paddr, filesz, offset) and the PT_NOTE blob of an ELF64 LE core."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF":
            raise SystemExit(f"{path}: not an ELF file")
        e_phoff, = struct.unpack_from("<Q", ehdr, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(e_phoff)
        table = f.read(e_phentsize * e_phnum)
        loads, notes = [], b""
        for i in range(e_phnum):
            p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz, _memsz, _align = \
                struct.unpack_from("<IIQQQQQQ", table, i * e_phentsize)
            if p_type == PT_LOAD:
                loads.append((p_paddr, p_filesz, p_offset))
            elif p_type == PT_NOTE:
                f.seek(p_offset)
                notes += f.read(p_filesz)
        return loads, notes


def vmcoreinfo(notes):
    """VMCOREINFO note text as a dict."""
    pos = 0
    while pos + 12 <= len(notes):
        namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
        name = notes[pos + 12:pos + 12 + namesz].rstrip(b"\0")
        desc_at = pos + 12 + ((namesz + 3) & ~3)
        if name == b"VMCOREINFO":
            text = notes[desc_at:desc_at + descsz].decode(errors="replace")
            return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        pos = desc_at + ((descsz + 3) & ~3)
        if namesz == 0 and descsz == 0:
            break
    raise SystemExit("source vmcore has no VMCOREINFO note")


def source_pages(path, loads):
    """Yield (pfn, bytes) for every frame the source has data for, each pfn once."""
    seen = set()
    with open(path, "rb") as f:
        for paddr, filesz, offset in loads:
            first = paddr // PAGE_SIZE
            for i in range(filesz // PAGE_SIZE):
                pfn = first + i
                if pfn in seen:
                    continue  # the kernel-image PT_LOAD aliases the direct map
                seen.add(pfn)
                f.seek(offset + i * PAGE_SIZE)
                yield pfn, f.read(PAGE_SIZE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--record")
    ap.add_argument("--allow-excluded-data", action="store_true",
                    help="pages with data may be missing (dump levels that filter by type)")
    args = ap.parse_args()
    failures = []

    loads, notes = elf_segments(args.source)
    info = vmcoreinfo(notes)
    dump = kdumpfile.kdumpfile(args.dump)
    # Without an OS type libkdumpfile cannot set up translation and refuses
    # even physical reads ("Cannot determine 5-level paging").
    dump.attr["addrxlat.ostype"] = "linux"
    kvaddr_release = bytes(dump.read(kdumpfile.KDUMP_KVADDR,
                                     int(info["SYMBOL(init_uts_ns)"], 16) + 2 * UTS_FIELD,
                                     UTS_FIELD)).split(b"\0")[0].decode()
    if kvaddr_release != info["OSRELEASE"]:
        failures.append(f"libkdumpfile reads release {kvaddr_release!r} through KVADDR")
    description = dump.attr["file.description"]
    checked = mismatched = unreadable = 0
    for pfn, expected in source_pages(args.source, loads):
        try:
            got = dump.read(kdumpfile.KDUMP_KPHYSADDR, pfn * PAGE_SIZE, PAGE_SIZE)
        except Exception:  # excluded by the dump level, or missing
            unreadable += 1
            # Dump levels 0 and 1 may only leave out pages that were all zero.
            if not args.allow_excluded_data and any(expected):
                failures.append(f"page {pfn:#x} has data but is not in the dump")
            continue
        checked += 1
        if got != expected:
            mismatched += 1
            if mismatched <= 3:
                failures.append(f"libkdumpfile: page {pfn:#x} differs from the source")
    if mismatched:
        failures.append(f"libkdumpfile: {mismatched} of {checked} pages differ")
    print(f"libkdumpfile ({description}): {checked} pages equal the source, "
          f"{unreadable} not in the dump")

    if args.record:
        with open(args.record) as f:
            record = json.load(f)
        dumpable = record["pages"]["dumpable"]
        if checked != dumpable:
            failures.append(f"libkdumpfile reads {checked} pages, the record says "
                            f"{dumpable} dumpable")
        if record["pages"]["written"] + record["pages"]["zero"] != dumpable:
            failures.append("record: written + zero != dumpable")

    prog = drgn.Program()
    prog.set_core_dump(args.dump)
    address = int(info["SYMBOL(init_uts_ns)"], 16) + int(info.get("OFFSET(uts_namespace.name)", "0"))
    release = prog.read(address + 2 * UTS_FIELD, UTS_FIELD).split(b"\0")[0].decode()
    print(f"drgn: init_uts_ns.name.release = {release}")
    if release != info["OSRELEASE"]:
        failures.append(f"drgn reads release {release!r}, VMCOREINFO says {info['OSRELEASE']!r}")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
