#!/usr/bin/python3
"""Check the page filter of a crashcapture dump against the crashed kernel itself.

  check-page-filter.py --source VMCORE --dump OURS --record status.json
                       [--makedumpfile THEIRS]

* Free pages, proven from the kernel's own buddy free lists: every block on
  node_data[n]->node_zones[z].free_area[order].free_list[type] (walked with
  drgn through raw reads and VMCOREINFO offsets, no debug info) must be left
  out of our dump, and the record's excluded_free must equal the frames on
  those lists.
* Against makedumpfile's file of the same level: frames only one of the two
  dumps must each be explained, or the check fails. The one explanation
  known: on Linux >= 6.10 slab pages are a page type (_mapcount ==
  PAGE_SLAB_MAPCOUNT_VALUE) and makedumpfile 1.7.2, which predates that,
  takes slab pages whose page->mapping has bit 0 set for anonymous memory and
  drops them at dump level 8 (fixed upstream in makedumpfile bad2a7c).
  And: on Linux >= 6.6 the order of a compound page (a THP, a large folio
  of the page cache) is the low byte of the first tail page's flags
  (folio._flags_1); makedumpfile 1.7.2 looks for it where 6.1 kept it, reads
  no order, excludes only the head page and keeps every tail page (fixed
  upstream in makedumpfile 9661c1d). Such a frame is explained when it is a
  tail page (compound_head bit 0) whose head page both dumps exclude.
"""
import argparse
import json
import struct
import sys

import drgn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from importlib import import_module  # noqa: E402

verify = import_module("verify-dump")
compare = import_module("compare-bitmaps")


def first_present_section_map(info, u64, sym, off):
    """The vmemmap base from the first section marked present (bit 0,
    SECTION_MARKED_PRESENT), its low 5 flag bits cleared (include/linux/mmzone.h)."""
    # VMCOREINFO_SYMBOL_ARRAY(mem_section): the roots array itself.
    roots = sym("mem_section")
    section_size = int(info["SIZE(mem_section)"])
    per_root = int(info["PAGESIZE"]) // section_size
    for root_index in range(int(info.get("LENGTH(mem_section)", "1"))):
        root = u64(roots + 8 * root_index)
        if root == 0:
            continue
        for nr in range(per_root):
            coded = u64(root + nr * section_size + off("mem_section.section_mem_map"))
            if coded & 1:
                return coded & ~0x1F
    raise SystemExit("no present memory section")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--makedumpfile")
    args = ap.parse_args()
    failures = []

    _loads, notes = verify.elf_segments(args.source)
    info = verify.vmcoreinfo(notes)
    num = lambda key: int(info[key], 0) if info[key].startswith(("0x", "-0x")) else int(info[key])
    sym = lambda key: int(info[f"SYMBOL({key})"], 16)
    off = lambda key: int(info[f"OFFSET({key})"])
    prog = drgn.Program()
    prog.set_core_dump(args.source)
    u64 = lambda addr: struct.unpack("<Q", prog.read(addr, 8))[0]
    u32 = lambda addr: struct.unpack("<I", prog.read(addr, 4))[0]

    record = json.load(open(args.record))
    page_size = int(info["PAGESIZE"])
    struct_page = int(info["SIZE(page)"])
    _ours1, ours2 = compare.bitmaps(args.dump)
    dumped = lambda pfn: pfn // 8 < len(ours2) and ours2[pfn // 8] >> (pfn % 8) & 1

    # struct page -> pfn: vmemmap base (VMCOREINFO_SYMBOL_ARRAY(vmemmap) on
    # newer kernels exports the base itself; else the first section's mem_map,
    # dump-formats.md §3.4).
    if "SYMBOL(vmemmap)" in info:
        vmemmap = sym("vmemmap")
    else:
        # The first present section's coded mem_map is the vmemmap base
        # (sparse_encode_mem_map()); arm64 memory starts above section 0.
        vmemmap = first_present_section_map(info, u64, sym, off)
    page_to_pfn = lambda page: (page - vmemmap) // struct_page

    # Walk the buddy free lists (include/linux/mmzone.h).
    free_frames = set()
    nodes = int(info.get("LENGTH(node_data)", "1"))
    zone_size, free_area_size = int(info["SIZE(zone)"]), int(info["SIZE(free_area)"])
    orders, types = int(info["LENGTH(zone.free_area)"]), int(info["LENGTH(free_area.free_list)"])
    lru = off("page.lru")
    if "SYMBOL(node_data)" in info:
        pgdats = [u64(sym("node_data") + 8 * node) for node in range(nodes)]
    elif "SYMBOL(contig_page_data)" in info:
        pgdats = [sym("contig_page_data")]  # !CONFIG_NUMA: one node, not a pointer
    else:
        print("SKIP: VMCOREINFO has neither SYMBOL(node_data) nor SYMBOL(contig_page_data) "
              "(arm64 exports neither): the free lists cannot be found without debug info")
        return 77
    for pgdat in pgdats:
        if pgdat == 0:
            continue
        nr_zones = u32(pgdat + off("pglist_data.nr_zones"))
        for zone_index in range(nr_zones):
            zone = pgdat + off("pglist_data.node_zones") + zone_index * zone_size
            for order in range(orders):
                area = zone + off("zone.free_area") + order * free_area_size
                for migratetype in range(types):
                    head = area + off("free_area.free_list") + migratetype * 16
                    entry, steps = u64(head), 0
                    while entry != head and steps < 1 << 22:
                        pfn = page_to_pfn(entry - lru)
                        free_frames.update(range(pfn, pfn + (1 << order)))
                        entry, steps = u64(entry), steps + 1
    still_dumped = [p for p in sorted(free_frames) if dumped(p)]
    print(f"free lists: {len(free_frames)} free frames; {len(still_dumped)} of them in our dump")
    if record["dump_level"] & 16:
        if still_dumped:
            failures.append(f"{len(still_dumped)} free frames are dumped, e.g. "
                            f"{[hex(p) for p in still_dumped[:5]]}")
        if record["pages"]["excluded_free"] != len(free_frames):
            failures.append(f"record excluded_free {record['pages']['excluded_free']} != "
                            f"{len(free_frames)} frames on the free lists")

    if args.makedumpfile:
        _t1, theirs2 = compare.bitmaps(args.makedumpfile)
        ours_set = set(compare.frames(ours2))
        theirs_set = set(compare.frames(theirs2))
        slab_value = int(info.get("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)", "0"))
        explained = tails = 0
        unexplained = []
        present = set(compare.frames(_t1))
        for pfn in sorted(ours_set ^ theirs_set):
            page = vmemmap + pfn * struct_page
            mapcount = struct.unpack("<i", prog.read(page + off("page._mapcount"), 4))[0]
            mapping = u64(page + off("page.mapping"))
            compound_head = u64(page + off("page.compound_head"))
            head_pfn = page_to_pfn(compound_head - 1) if compound_head & 1 else None
            if (pfn in ours_set and "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)" in info
                    and mapcount == slab_value and mapping & 1):
                explained += 1
            elif (pfn in theirs_set and head_pfn is not None and head_pfn in present
                  and head_pfn not in ours_set and head_pfn not in theirs_set
                  and "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)" in info):
                tails += 1
            else:
                unexplained.append(f"{pfn:#x} (only {'ours' if pfn in ours_set else 'theirs'}, "
                                   f"_mapcount {mapcount:#x}, mapping {mapping:#x})")
        print(f"vs makedumpfile: {len(ours_set)} / {len(theirs_set)} frames; {explained} differences "
              f"are slab pages makedumpfile 1.7.2 takes for anonymous; {tails} are tail pages of "
              f"excluded compound pages it keeps; {len(unexplained)} unexplained")
        if unexplained:
            failures.append("unexplained differences from makedumpfile: " + ", ".join(unexplained[:5]))

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
