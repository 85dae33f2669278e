#!/usr/bin/python3
"""Move an ELF64 vmcore's program headers to offset 64, in place.

  elf-phoff64.py VMCORE

Why: QEMU 7.2's dump-guest-memory writes the section header table right after
the ELF header and the program headers after it (e_phoff 192), which the ELF
specification allows. makedumpfile 1.7.2 assumes the program headers follow
the ELF header (offset 64) and fails with "Can't get the number of PT_LOAD"
(reference PITFALLS.md). Our reader follows e_phoff and is tested on QEMU's
layout as written; this makes the extra *.mdf.vmcore copy that makedumpfile
can read, for comparisons.

Only the headers change: the program header table is written at 64 over the
section headers (QEMU writes just the null entry and, at most, one holding
the real e_phnum), and e_shoff/e_shnum/e_shstrndx are cleared. Segment data
stays where it is, so every p_offset stays valid.
"""
import struct
import sys

EHDR_SIZE = 64  # sizeof(Elf64_Ehdr)
PN_XNUM = 0xFFFF  # e_phnum escape: the real count is in section header 0


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: elf-phoff64.py VMCORE")
    path = sys.argv[1]
    with open(path, "r+b") as f:
        ehdr = bytearray(f.read(EHDR_SIZE))
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            raise SystemExit(f"{path}: not a little-endian ELF64 file")
        # Elf64_Ehdr: e_phoff at 32, e_shoff at 40, e_phentsize/e_phnum at 54,
        # e_shentsize/e_shnum/e_shstrndx at 58 (ELF-64 Object File Format 1.5).
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        if phoff == EHDR_SIZE:
            print(f"{path}: program headers already at {EHDR_SIZE}")
            return 0
        if phnum == PN_XNUM:
            raise SystemExit(f"{path}: more than 65534 program headers; not supported")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        if len(table) != phentsize * phnum:
            raise SystemExit(f"{path}: program header table is truncated")
        # Elf64_Phdr: p_offset at 8, p_filesz at 32.
        first_data = min(struct.unpack_from("<Q", table, i * phentsize + 8)[0]
                         for i in range(phnum)
                         if struct.unpack_from("<Q", table, i * phentsize + 32)[0])
        if EHDR_SIZE + len(table) > first_data:
            raise SystemExit(f"{path}: no room for the program headers at {EHDR_SIZE}")
        struct.pack_into("<Q", ehdr, 32, EHDR_SIZE)
        struct.pack_into("<Q", ehdr, 40, 0)
        struct.pack_into("<HHH", ehdr, 58, 0, 0, 0)
        f.seek(0)
        f.write(ehdr + table)
    print(f"{path}: {phnum} program headers moved from {phoff} to {EHDR_SIZE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
