#!/usr/bin/python3
"""Compare the page bitmaps of two kdump-compressed files (ours and makedumpfile's).

  compare-bitmaps.py OURS THEIRS [--explain VMCORE]

Prints how many frames each file dumps and the frames only one of them dumps;
exit 0 when the 2nd ("dumpable") bitmaps are identical. Layout:
dump-formats.md §1.4 (disk_dump_header.block_size at 428, sub_hdr_size at 432,
bitmap_blocks at 436; bitmaps at (1 + sub_hdr_size) * block_size).
"""
import struct
import sys


def bitmaps(path):
    with open(path, "rb") as f:
        header = f.read(464)
        if header[:8] != b"KDUMP   ":
            raise SystemExit(f"{path}: not a kdump-compressed file")
        block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iiI", header, 428)
        f.seek((1 + sub_hdr_size) * block_size)
        both = f.read(bitmap_blocks * block_size)
        half = len(both) // 2
        return both[:half], both[half:]


def frames(bitmap):
    for index, byte in enumerate(bitmap):
        if byte:
            for bit in range(8):
                if byte >> bit & 1:
                    yield index * 8 + bit


def main():
    ours, theirs = sys.argv[1], sys.argv[2]
    (ours1, ours2), (theirs1, theirs2) = bitmaps(ours), bitmaps(theirs)
    a, b = set(frames(ours2)), set(frames(theirs2))
    print(f"ours dumps {len(a)} frames, theirs {len(b)}; 1st bitmaps "
          f"{'equal' if ours1 == theirs1 else 'DIFFER'}")
    only_ours, only_theirs = sorted(a - b), sorted(b - a)
    print(f"only ours: {len(only_ours)} {[hex(p) for p in only_ours[:10]]}")
    print(f"only theirs: {len(only_theirs)} {[hex(p) for p in only_theirs[:10]]}")
    return 0 if not only_ours and not only_theirs and ours1 == theirs1 else 1


if __name__ == "__main__":
    sys.exit(main())
