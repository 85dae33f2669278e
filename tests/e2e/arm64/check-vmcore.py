#!/usr/bin/python3
"""Open an arm64 vmcore with one reader and read the kernel release through it.

    check-vmcore.py libkdumpfile|drgn|vmcoreinfo VMCORE [RELEASE]

libkdumpfile: the file opens, arch.name is aarch64, and a KVADDR read of
init_uts_ns.name (a virtual address, so libkdumpfile's aarch64 translation
of the kernel's page tables is exercised) gives RELEASE.
drgn: the file opens as an AARCH64 program, and the UTS_RELEASE object
(found from VMCOREINFO, no debug info needed) reads as RELEASE.
vmcoreinfo: print the VMCOREINFO note (an ELF vmcore's, read directly).

Prints one line of detail. Exit 0: read as expected; 1: not; 77: the reader
is not installed (run with Debian's /usr/bin/python3: python3-libkdumpfile
and python3-drgn are not on a pyenv or virtualenv python's path).
"""
import struct
import sys


def vmcoreinfo_elf(path):
    """The VMCOREINFO note text of an ELF64 little-endian vmcore."""
    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
            raise ValueError("not an ELF64 little-endian file")
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", f.read(phentsize))
            if p_type != 4:  # PT_NOTE
                continue
            f.seek(p_offset)
            notes = f.read(p_filesz)
            o = 0
            while o + 12 <= len(notes):
                namesz, descsz, _ = struct.unpack_from("<III", notes, o)
                o += 12
                name = notes[o:o + namesz].rstrip(b"\0")
                o += (namesz + 3) & ~3
                desc = notes[o:o + descsz]
                o += (descsz + 3) & ~3
                if name == b"VMCOREINFO":
                    return desc.rstrip(b"\0").decode(errors="replace")
    raise ValueError("no VMCOREINFO note")


def check_libkdumpfile(path, release):
    try:
        import kdumpfile
    except ImportError:
        print("python3-libkdumpfile is not installed")
        return 77
    k = kdumpfile.kdumpfile(path)
    k.attr["addrxlat.ostype"] = "linux"
    raw = bytes(k.attr["linux.vmcoreinfo.raw"]).decode()
    vi = dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)
    uts = int(vi["SYMBOL(init_uts_ns)"], 16) + int(vi.get("OFFSET(uts_namespace.name)", "0"))
    # struct new_utsname: six char[65]; release is the third.
    fields = [bytes(k.read(kdumpfile.KDUMP_KVADDR, uts + 65 * i, 65)).split(b"\0")[0].decode()
              for i in range(3)]
    arch = k.attr["arch.name"]
    print(f"libkdumpfile: format {k.attr['file.format']}, arch {arch},"
          f" init_uts_ns.name via KVADDR {fields}")
    return 0 if arch == "aarch64" and fields[0] == "Linux" and (not release or fields[2] == release) else 1


def check_drgn(path, release):
    try:
        import drgn
    except ImportError:
        print("python3-drgn is not installed")
        return 77
    p = drgn.Program()
    p.set_core_dump(path)
    arch = p.platform.arch.name
    got = p["UTS_RELEASE"].string_().decode()
    print(f"drgn: platform {arch}, UTS_RELEASE {got}")
    return 0 if arch == "AARCH64" and (not release or got == release) else 1


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    what, path = sys.argv[1], sys.argv[2]
    release = sys.argv[3] if len(sys.argv) == 4 else ""
    if what == "vmcoreinfo":
        print(vmcoreinfo_elf(path))
        return 0
    check = {"libkdumpfile": check_libkdumpfile, "drgn": check_drgn}[what]
    try:
        return check(path, release)
    except Exception as e:  # a reader's failure is the finding, not a crash
        print(f"{what}: {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
