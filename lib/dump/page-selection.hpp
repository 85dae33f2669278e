// Which page frames exist and which get dumped, decided window by window so
// memory stays bounded whatever the machine's RAM (makedumpfile's cyclic
// mode, create_1st_bitmap_cyclic()/create_2nd_bitmap()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dump-options.hpp"
#include "result.hpp"
#include "vmcore-reader.hpp"

namespace crashcapture {

Status validate_dump_level(int dump_level);

struct PageCounts {
    uint64_t total = 0;            // frames present in memory (1st bitmap)
    uint64_t excluded_nodata = 0;  // present, but the vmcore has no data (p_filesz < p_memsz)
    // Excluded by the page filter (dump level bits, and always hwpoison/offline).
    uint64_t excluded_cache = 0;
    uint64_t excluded_cache_private = 0;
    uint64_t excluded_user = 0;
    uint64_t excluded_free = 0;
    uint64_t excluded_hwpoison = 0;
    uint64_t excluded_offline = 0;
    // Batches of struct pages the filter could not read: their frames kept.
    uint64_t unreadable_struct_page_batches = 0;
    uint64_t dumpable = 0;    // 2nd bitmap: frames the dump describes
    uint64_t zero = 0;        // dumpable frames that were all zero (shared descriptor)
    uint64_t written = 0;     // frames whose contents were stored
    uint64_t compressed = 0;  // of those, stored compressed
};

// Bit p of a window: byte (p - start) / 8, bit (p - start) % 8, LSB first
// (makedumpfile set_bitmap_buffer()); start is a multiple of 8.
struct PageWindow {
    uint64_t start_pfn = 0;
    uint64_t end_pfn = 0;  // exclusive
    std::vector<uint8_t> present;
    std::vector<uint8_t> dumpable;

    bool is_dumpable(uint64_t pfn) const {
        const uint64_t bit = pfn - start_pfn;
        return (dumpable[bit / 8] >> (bit % 8)) & 1;
    }
};

// Fills both bitmaps of [start_pfn, end_pfn) from the PT_LOADs: a frame is
// present if any byte of it is in a PT_LOAD, and dumpable if its first byte
// has file data.
void select_pages(const std::vector<PhysicalRange>& ranges, uint64_t page_size, PageWindow& window);

// Frames present / dumpable over the whole machine, for sizing the layout
// before anything is written.
PageCounts count_pages(const std::vector<PhysicalRange>& ranges, uint64_t page_size);

}  // namespace crashcapture
