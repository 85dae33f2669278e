// Excluding pages nobody needs, decided from the crashed kernel's own struct
// page array, located through VMCOREINFO and its page tables — makedumpfile's
// algorithm (makedumpfile.c __exclude_unnecessary_pages(), page_is_buddy_v3(),
// is_cache_page(), isSlab(), isOffline(), isHugetlb(); dump-formats.md §3).
//
// The rules follow the kernel's layout changes one named step at a time
// (PageLayout below); a kernel that lacks what a dump-level bit needs loses
// that bit, with a warning, never gets a wrong dump.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel-address-space.hpp"
#include "page-selection.hpp"
#include "result.hpp"
#include "vmcoreinfo.hpp"

namespace crashcapture {

// Dump level bits (makedumpfile.h DL_EXCLUDE_*).
inline constexpr int kDumpLevelCache = 2;         // page cache without PG_private
inline constexpr int kDumpLevelCachePrivate = 4;  // page cache with or without PG_private
inline constexpr int kDumpLevelUser = 8;          // anonymous and hugetlbfs pages
inline constexpr int kDumpLevelFree = 16;         // buddy-free (and unaccepted) pages

// What struct page looks like in the crashed kernel, read from VMCOREINFO.
struct PageLayout {
    uint64_t struct_size = 0;  // SIZE(page)
    uint64_t flags_offset = 0, mapping_offset = 0;
    std::optional<uint64_t> mapcount_offset, private_offset, compound_head_offset;
    // Page flag bit numbers (include/linux/page-flags.h enum pageflags).
    std::optional<int> pg_lru, pg_private, pg_swapcache, pg_swapbacked, pg_slab, pg_hwpoison,
        pg_hugetlb;
    uint64_t head_mask = 0;  // NUMBER(PG_head_mask): 1 << PG_head
    // Page types kept in _mapcount (include/linux/page-flags.h PAGE_TYPE_*);
    // compared whole, as makedumpfile does since 72c3414 (Linux 6.12 keeps
    // one type in the top byte, 4ffca5a96678c).
    std::optional<int32_t> buddy_mapcount, slab_mapcount, hugetlb_mapcount, offline_mapcount,
        unaccepted_mapcount;
    // Where the compound order and destructor of a head page live, relative
    // to the first tail page.
    enum class CompoundOrder {
        none,             // cannot tell: compound pages are treated page by page
        tail_flags_byte,  // 6.6+: folio._flags_1 & 0xff (tail page's flags)
        tail_field,       // <= 6.5: a u8 at compound_order_offset in the tail
    } compound_order = CompoundOrder::none;
    uint64_t compound_order_offset = 0;
    std::optional<uint64_t> compound_dtor_offset;  // <= 6.5, with HUGETLB_PAGE_DTOR
    std::optional<int64_t> hugetlb_dtor;
    uint64_t max_buddy_order = 0;  // LENGTH(zone.free_area): orders are below it

    static PageLayout from_vmcoreinfo(const Vmcoreinfo& info);
};

struct ExcludedPages {
    uint64_t cache = 0, cache_private = 0, user = 0, free = 0, hwpoison = 0, offline = 0;
    // Batches of struct pages that could not be read (their frames kept).
    uint64_t unreadable_batches = 0;
};

class PageFilter {
  public:
    // Locates the struct page of every memory section (SPARSEMEM, _EXTREME,
    // VMEMMAP). dump_level is what was asked; effective_dump_level() is what
    // this kernel's layout allows, and warnings() says why they differ.
    static Result<PageFilter> create(const KernelAddressSpace& memory, const Vmcoreinfo& info,
                                     uint64_t max_mapnr, int dump_level);

    // Clears the dumpable bits of excluded frames in the window. The window
    // must start at a multiple of 2^20 frames: no buddy block or compound page
    // then crosses its edge (the largest, a 1 GiB page, is 2^18 frames).
    void apply(PageWindow& window, ExcludedPages& excluded) const;

    int effective_dump_level() const { return dump_level_; }
    const std::vector<std::string>& warnings() const { return warnings_; }
    const PageLayout& layout() const { return layout_; }
    // Batches of struct pages that could not be read (kept, not excluded),
    // over every apply() so far; a pass's own count is in ExcludedPages.
    uint64_t unreadable_batches() const { return unreadable_batches_; }

  private:
    PageFilter(const KernelAddressSpace& memory) : memory_(memory) {}

    const KernelAddressSpace& memory_;
    PageLayout layout_;
    int dump_level_ = 0;
    uint64_t pages_per_section_ = 0;
    uint64_t max_mapnr_ = 0;
    // Virtual address of the struct page of each section's first frame; 0
    // for a section without a mem_map.
    std::vector<uint64_t> section_mem_map_;
    std::vector<std::string> warnings_;
    mutable uint64_t unreadable_batches_ = 0;
};

// The frames a dump holds: present in a PT_LOAD with data, minus what the
// filter (if any) excludes. Windows are aligned to kFilterWindowPages.
inline constexpr uint64_t kFilterWindowPages = 1ULL << 20;

class DumpableFrames {
  public:
    DumpableFrames(const std::vector<PhysicalRange>& ranges, uint64_t page_size,
                   const PageFilter* filter)
        : ranges_(ranges), page_size_(page_size), filter_(filter) {}

    // Fills both bitmaps of the window and applies the filter, adding what
    // it excluded to counts (when given).
    void fill(PageWindow& window, PageCounts* counts) const;
    // The whole machine, window by window: what the layout must know before
    // anything is written (makedumpfile's get_num_dumpable_cyclic()).
    PageCounts count(uint64_t max_mapnr) const;
    // One frame, through a cached window (for writers that do not go in
    // frame order, such as ELF with its overlapping PT_LOADs).
    bool is_dumpable(uint64_t pfn);

  private:
    const std::vector<PhysicalRange>& ranges_;
    uint64_t page_size_;
    const PageFilter* filter_;
    PageWindow cached_;
    bool cached_valid_ = false;
};

}  // namespace crashcapture
