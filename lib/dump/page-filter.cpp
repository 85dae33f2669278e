#include "page-filter.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace crashcapture {
namespace {

// include/linux/mmzone.h: the low bits of mem_section.section_mem_map are
// flags. SECTION_MARKED_PRESENT is bit 0; SECTION_MAP_LAST_BIT is 1 << 5
// since Linux 4.13 (makedumpfile.h SECTION_MAP_MASK).
constexpr uint64_t kSectionMarkedPresent = 1ULL << 0;
constexpr uint64_t kSectionMapMask = ~((1ULL << 5) - 1);
// PAGE_MAPPING_ANON (include/linux/page-flags.h): bit 0 of page->mapping.
constexpr uint64_t kPageMappingAnon = 1;
// makedumpfile PGMM_CACHED: struct pages read per batch.
constexpr uint64_t kStructPagesPerBatch = 512;
// Buddy orders when VMCOREINFO has no LENGTH(zone.free_area): NR_PAGE_ORDERS
// is 11 on x86_64 (MAX_PAGE_ORDER 10, include/linux/mmzone.h). A kernel
// built with larger orders has its larger free blocks kept, never a page
// wrongly dropped; and 1 << order stays defined.
constexpr uint64_t kFallbackBuddyOrders = 11;
// A buddy order is a shift of a page count: 63 is the most that is defined.
constexpr uint64_t kMaxBuddyOrders = 63;
// struct mem_section is 16 bytes (include/linux/mmzone.h: section_mem_map
// and usage); the extreme layout puts a page of them under each root
// (SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section)), so it cannot
// be larger than a page.
constexpr uint64_t kMaxMemSectionBytes = 4096;
// Sections of a real machine: 64 TiB (x86_64 MAX_PHYSMEM_BITS 46) in 128 MiB
// sections (SECTION_SIZE_BITS 27) is 2^19. The filter keeps one address per
// section; more than this is a corrupt SECTION_SIZE_BITS.
constexpr uint64_t kMaxSections = 1ULL << 22;

// True if a field of field_size bytes at offset lies inside a structure of
// struct_size bytes (offsets from VMCOREINFO index buffers of that size).
bool field_fits(uint64_t offset, uint64_t field_size, uint64_t struct_size) {
    return offset <= struct_size && struct_size - offset >= field_size;
}

std::optional<int> flag_number(const Vmcoreinfo& info, const char* name) {
    auto value = info.number(name);
    if (!value || *value < 0 || *value >= 64) {
        return std::nullopt;
    }
    return static_cast<int>(*value);
}

std::optional<int32_t> mapcount_value(const Vmcoreinfo& info, const char* name) {
    if (auto value = info.number(name)) {
        return static_cast<int32_t>(*value);
    }
    return std::nullopt;
}

bool test_flag(uint64_t flags, std::optional<int> bit) {
    return bit && ((flags >> *bit) & 1);
}

template <typename T>
T load(const std::byte* at, uint64_t offset) {
    T value;
    std::memcpy(&value, at + offset, sizeof(T));
    return value;
}

}  // namespace

PageLayout PageLayout::from_vmcoreinfo(const Vmcoreinfo& info) {
    PageLayout l;
    l.struct_size = info.size("page").value_or(0);
    l.flags_offset = info.offset("page.flags").value_or(0);
    l.mapping_offset = info.offset("page.mapping").value_or(0);
    l.mapcount_offset = info.offset("page._mapcount");
    l.private_offset = info.offset("page.private");
    l.compound_head_offset = info.offset("page.compound_head");
    l.pg_lru = flag_number(info, "PG_lru");
    l.pg_private = flag_number(info, "PG_private");
    l.pg_swapcache = flag_number(info, "PG_swapcache");
    l.pg_swapbacked = flag_number(info, "PG_swapbacked");
    l.pg_slab = flag_number(info, "PG_slab");  // gone in 6.10 (slab became a page type)
    l.pg_hwpoison = flag_number(info, "PG_hwpoison");
    l.pg_hugetlb = flag_number(info, "PG_hugetlb");  // 6.6 - 6.8
    l.head_mask = static_cast<uint64_t>(info.number("PG_head_mask").value_or(0));
    l.buddy_mapcount = mapcount_value(info, "PAGE_BUDDY_MAPCOUNT_VALUE");
    l.slab_mapcount = mapcount_value(info, "PAGE_SLAB_MAPCOUNT_VALUE");        // 6.10+
    l.hugetlb_mapcount = mapcount_value(info, "PAGE_HUGETLB_MAPCOUNT_VALUE");  // 6.9+
    l.offline_mapcount = mapcount_value(info, "PAGE_OFFLINE_MAPCOUNT_VALUE");
    l.unaccepted_mapcount = mapcount_value(info, "PAGE_UNACCEPTED_MAPCOUNT_VALUE");  // 6.16+
    l.max_buddy_order = info.length("zone.free_area").value_or(0);
    l.hugetlb_dtor = info.number("HUGETLB_PAGE_DTOR");

    // The compound order moved three times (makedumpfile init_compound_offset()
    // and __exclude_unnecessary_pages()):
    if (l.hugetlb_mapcount || l.pg_hugetlb) {
        // 6.6 (makedumpfile 9661c1d): the order is the low byte of the first
        // tail page's flags (folio._flags_1); hugetlb is a flag (6.6-6.8)
        // or a page type (6.9+, makedumpfile 985e575).
        l.compound_order = CompoundOrder::tail_flags_byte;
    } else if (auto folio_order = info.offset("folio._folio_order"); folio_order && l.struct_size) {
        // 6.3 - 6.5 (makedumpfile 446c4f6): folio fields, past the head page.
        l.compound_order = CompoundOrder::tail_field;
        l.compound_order_offset = *folio_order - l.struct_size;
        if (auto dtor = info.offset("folio._folio_dtor")) {
            l.compound_dtor_offset = *dtor - l.struct_size;
        }
    } else if (auto order = info.offset("page.compound_order")) {
        // Up to 6.2: fields of the first tail page (a u8 since 4.16).
        l.compound_order = CompoundOrder::tail_field;
        l.compound_order_offset = *order;
        l.compound_dtor_offset = info.offset("page.compound_dtor");
    }
    return l;
}

Result<PageFilter> PageFilter::create(const KernelAddressSpace& memory, const Vmcoreinfo& info,
                                      uint64_t max_mapnr, int dump_level) {
    PageFilter filter(memory);
    filter.layout_ = PageLayout::from_vmcoreinfo(info);
    filter.max_mapnr_ = max_mapnr;
    const PageLayout& l = filter.layout_;
    if (l.struct_size == 0 || !info.offset("page.flags") || !info.offset("page.mapping")) {
        return make_error(0, "VMCOREINFO lacks SIZE(page)/OFFSET(page.flags)/OFFSET(page.mapping)");
    }
    if (l.struct_size > 4096) {
        return make_error(0, "SIZE(page)={} is implausible", l.struct_size);
    }
    // Every offset indexes a struct page read into a buffer of SIZE(page)
    // bytes (the compound fields index the first tail page).
    struct Field {
        std::optional<uint64_t> offset;
        uint64_t size;
        const char* name;
    };
    for (const Field& field : {
             Field{l.flags_offset, sizeof(uint64_t), "OFFSET(page.flags)"},
             Field{l.mapping_offset, sizeof(uint64_t), "OFFSET(page.mapping)"},
             Field{l.mapcount_offset, sizeof(int32_t), "OFFSET(page._mapcount)"},
             Field{l.private_offset, sizeof(uint64_t), "OFFSET(page.private)"},
             Field{l.compound_head_offset, sizeof(uint64_t), "OFFSET(page.compound_head)"},
             Field{l.compound_order == PageLayout::CompoundOrder::tail_field
                       ? std::optional(l.compound_order_offset)
                       : std::nullopt,
                   sizeof(uint8_t), "the compound order offset"},
             Field{l.compound_dtor_offset, sizeof(uint8_t), "the compound destructor offset"},
         }) {
        if (field.offset && !field_fits(*field.offset, field.size, l.struct_size)) {
            return make_error(0, "VMCOREINFO {} ({}) lies outside SIZE(page)={}", field.name,
                              *field.offset, l.struct_size);
        }
    }
    if (l.max_buddy_order > kMaxBuddyOrders) {
        return make_error(0, "VMCOREINFO LENGTH(zone.free_area)={} is implausible",
                          l.max_buddy_order);
    }

    // Drop the bits this kernel's layout cannot support; say why.
    int level = dump_level;
    auto drop = [&](int bit, const std::string& why) {
        if (level & bit) {
            level &= ~bit;
            filter.warnings_.push_back(
                fmt::format("dump level bit {} dropped: {}; those pages are kept", bit, why));
        }
    };
    if (!l.pg_lru || !l.pg_swapcache) {
        drop(kDumpLevelCache, "VMCOREINFO has no NUMBER(PG_lru)/NUMBER(PG_swapcache)");
        drop(kDumpLevelCachePrivate, "VMCOREINFO has no NUMBER(PG_lru)/NUMBER(PG_swapcache)");
    }
    if (!l.pg_private) {
        drop(kDumpLevelCache, "VMCOREINFO has no NUMBER(PG_private)");
    }
    if (!l.buddy_mapcount || !l.mapcount_offset || !l.private_offset) {
        // makedumpfile would walk the free lists instead; not implemented.
        drop(kDumpLevelFree,
             "VMCOREINFO has no NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE) or struct page offsets "
             "(free-list walking is not implemented)");
    }
    if (!l.slab_mapcount && !l.pg_slab && (level & (kDumpLevelUser | kDumpLevelFree))) {
        // Without a slab test, slab pages could be taken for anonymous or
        // free pages (makedumpfile 5f17bdd, bad2a7c): too risky.
        drop(kDumpLevelUser, "this kernel marks slab pages in a way VMCOREINFO does not describe");
        drop(kDumpLevelFree, "this kernel marks slab pages in a way VMCOREINFO does not describe");
    }
    filter.dump_level_ = level;

    // Sections (include/linux/mmzone.h, makedumpfile get_mm_sparsemem()), of
    // pages of the kernel's size: 4 KiB on x86_64, 4, 16 or 64 KiB on arm64.
    const uint64_t page_size = info.page_size().value_or(4096);
    if (page_size == 0 || (page_size & (page_size - 1)) != 0) {
        return make_error(0, "VMCOREINFO PAGESIZE={} is not a power of two", page_size);
    }
    const auto page_shift = static_cast<uint64_t>(std::countr_zero(page_size));
    const auto section_size_bits = info.number("SECTION_SIZE_BITS");
    const auto max_physmem_bits = info.number("MAX_PHYSMEM_BITS");
    const auto mem_section = info.symbol("mem_section");
    const auto mem_section_size = info.size("mem_section");
    const auto section_mem_map_offset = info.offset("mem_section.section_mem_map");
    if (!section_size_bits || !max_physmem_bits || !mem_section || !mem_section_size ||
        !section_mem_map_offset || *section_size_bits <= static_cast<int64_t>(page_shift) ||
        *max_physmem_bits <= *section_size_bits || *max_physmem_bits > 64 ||
        *mem_section_size == 0) {
        return make_error(0,
                          "VMCOREINFO does not describe SPARSEMEM sections (only SPARSEMEM "
                          "kernels are supported)");
    }
    // A root of SPARSEMEM_EXTREME is one page of struct mem_section
    // (SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section),
    // include/linux/mmzone.h): a struct larger than a page is no kernel's.
    if (*mem_section_size > kMaxMemSectionBytes || *mem_section_size > page_size ||
        !field_fits(*section_mem_map_offset, sizeof(uint64_t), *mem_section_size)) {
        return make_error(
            0,
            "VMCOREINFO SIZE(mem_section)={} / OFFSET(mem_section.section_mem_map)={} "
            "is implausible",
            *mem_section_size, *section_mem_map_offset);
    }
    filter.pages_per_section_ = 1ULL << (*section_size_bits - page_shift);
    const uint64_t nr_mem_sections = 1ULL << (*max_physmem_bits - *section_size_bits);
    // SECTIONS_PER_ROOT: a page of struct mem_section under each root.
    const uint64_t sections_per_root_extreme = page_size / *mem_section_size;
    const uint64_t sections =
        max_mapnr / filter.pages_per_section_ + (max_mapnr % filter.pages_per_section_ != 0);
    if (sections > std::min(nr_mem_sections, kMaxSections)) {
        return make_error(0,
                          "{} memory sections of 2^{} bytes (VMCOREINFO SECTION_SIZE_BITS) would "
                          "cover the vmcore: more than the kernel has ({}) or than is plausible",
                          sections, *section_size_bits, nr_mem_sections);
    }
    const auto length = info.length("mem_section");
    const bool extreme = !length || *length == (nr_mem_sections + sections_per_root_extreme - 1) /
                                                   sections_per_root_extreme;

    const uint64_t kernel_half_start = memory.lowest_kernel_address();
    auto decode = [&](uint64_t roots_address) -> std::optional<std::vector<uint64_t>> {
        std::vector<uint64_t> maps(sections, 0);
        std::vector<uint64_t> roots;
        if (extreme) {
            const uint64_t root_count =
                (sections + sections_per_root_extreme - 1) / sections_per_root_extreme;
            roots.resize(root_count);
            if (!memory.read(roots_address, std::as_writable_bytes(std::span(roots)))) {
                return std::nullopt;
            }
        }
        bool any = false;
        std::vector<std::byte> section(*mem_section_size);
        for (uint64_t nr = 0; nr < sections; ++nr) {
            uint64_t address;
            if (extreme) {
                const uint64_t root = roots[nr / sections_per_root_extreme];
                if (root == 0) {
                    continue;
                }
                address = root + (nr % sections_per_root_extreme) * *mem_section_size;
            } else {
                address = roots_address + nr * *mem_section_size;
            }
            if (!memory.read(address, section)) {
                return std::nullopt;
            }
            const uint64_t coded = load<uint64_t>(section.data(), *section_mem_map_offset);
            if (!(coded & kSectionMarkedPresent)) {
                continue;  // no mem_map, or hot-removed
            }
            // The kernel stores mem_map minus the section's first pfn times
            // SIZE(page) (sparse_encode_mem_map()).
            const uint64_t map =
                (coded & kSectionMapMask) + nr * filter.pages_per_section_ * l.struct_size;
            if (map < kernel_half_start) {
                return std::nullopt;  // not a kernel address: wrong interpretation
            }
            maps[nr] = map;
            any = true;
        }
        if (!any) {
            return std::nullopt;
        }
        return maps;
    };
    // SYMBOL(mem_section) is the root array; some kernels export a pointer
    // to it (makedumpfile get_mem_section(): validate, then dereference once).
    auto maps = decode(*mem_section);
    if (!maps && extreme) {
        if (auto pointer = memory.read_u64(*mem_section)) {
            maps = decode(*pointer);
        }
    }
    if (!maps) {
        return make_error(0, "cannot locate the struct page array through mem_section");
    }
    filter.section_mem_map_ = std::move(*maps);
    return filter;
}

void PageFilter::apply(PageWindow& window, ExcludedPages& excluded) const {
    const PageLayout& l = layout_;
    const int level = dump_level_;
    auto is_present = [&](uint64_t pfn) {
        const uint64_t bit = pfn - window.start_pfn;
        return (window.present[bit / 8] >> (bit % 8)) & 1;
    };
    auto exclude = [&](uint64_t first, uint64_t count, uint64_t& counter) {
        const uint64_t last = std::min(first + count, window.end_pfn);
        for (uint64_t pfn = first; pfn < last; ++pfn) {
            const uint64_t bit = pfn - window.start_pfn;
            const uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
            if (window.dumpable[bit / 8] & mask) {
                window.dumpable[bit / 8] &= static_cast<uint8_t>(~mask);
                ++counter;
            }
        }
    };
    auto is_slab = [&](uint64_t flags, int32_t mapcount) {
        return (l.slab_mapcount && mapcount == *l.slab_mapcount) || test_flag(flags, l.pg_slab);
    };
    auto is_cache = [&](uint64_t flags) {
        // makedumpfile is_cache_page(): on the LRU, or in the swap cache
        // (PG_swapcache means it only with PG_swapbacked, since 4.10).
        return test_flag(flags, l.pg_lru) ||
               ((!l.pg_swapbacked || test_flag(flags, l.pg_swapbacked)) &&
                test_flag(flags, l.pg_swapcache));
    };

    std::vector<std::byte> batch(kStructPagesPerBatch * l.struct_size);
    const uint64_t window_end = std::min(window.end_pfn, max_mapnr_);
    for (uint64_t section = window.start_pfn / pages_per_section_;
         section * pages_per_section_ < window_end && section < section_mem_map_.size();
         ++section) {
        const uint64_t mem_map = section_mem_map_[section];
        if (mem_map == 0) {
            continue;
        }
        const uint64_t section_start = section * pages_per_section_;
        const uint64_t end = std::min(section_start + pages_per_section_, window_end);
        uint64_t batch_first = 1, batch_last = 0;  // empty
        for (uint64_t pfn = std::max(section_start, window.start_pfn); pfn < end; ++pfn) {
            if (!is_present(pfn)) {
                continue;
            }
            if (pfn < batch_first || pfn > batch_last) {
                // Read up to the next multiple of 512 frames (makedumpfile's cache).
                const uint64_t count =
                    std::min((pfn / kStructPagesPerBatch + 1) * kStructPagesPerBatch, end) - pfn;
                const uint64_t address = mem_map + (pfn - section_start) * l.struct_size;
                if (!memory_.read(address, std::span(batch).first(count * l.struct_size))) {
                    ++unreadable_batches_;  // keep these pages: never a wrong exclusion
                    ++excluded.unreadable_batches;
                    pfn += count - 1;
                    continue;
                }
                batch_first = pfn;
                batch_last = pfn + count - 1;
            }
            const std::byte* page = batch.data() + (pfn - batch_first) * l.struct_size;
            const uint64_t flags = load<uint64_t>(page, l.flags_offset);
            const uint64_t mapping = load<uint64_t>(page, l.mapping_offset);
            const int32_t mapcount =
                l.mapcount_offset ? load<int32_t>(page, *l.mapcount_offset) : 0;
            const uint64_t private_value =
                l.private_offset ? load<uint64_t>(page, *l.private_offset) : 0;
            const uint64_t compound_head =
                l.compound_head_offset ? load<uint64_t>(page, *l.compound_head_offset) : 0;

            uint64_t order = 0;
            bool hugetlb = false;
            if (l.head_mask && (flags & l.head_mask) && pfn < batch_last) {
                const std::byte* tail = page + l.struct_size;
                if (l.compound_order == PageLayout::CompoundOrder::tail_flags_byte) {
                    const uint64_t tail_flags = load<uint64_t>(tail, l.flags_offset);
                    order = tail_flags & 0xff;
                    hugetlb = l.hugetlb_mapcount ? mapcount == *l.hugetlb_mapcount
                                                 : test_flag(tail_flags, l.pg_hugetlb);
                } else if (l.compound_order == PageLayout::CompoundOrder::tail_field) {
                    order = load<uint8_t>(tail, l.compound_order_offset);
                    if (l.compound_dtor_offset && l.hugetlb_dtor) {
                        hugetlb = load<uint8_t>(tail, *l.compound_dtor_offset) == *l.hugetlb_dtor;
                    }
                }
                if (order >= 64 || (pfn & ((1ULL << order) - 1)) != 0) {
                    order = 0;  // not a valid compound page
                }
            }
            if (compound_head & 1) {
                continue;  // a tail page: its head decided for it
            }
            const bool slab = is_slab(flags, mapcount);
            const bool anon = (mapping & kPageMappingAnon) && !slab;
            uint64_t count = 1ULL << order;
            uint64_t* counter = nullptr;
            if ((level & kDumpLevelFree) && !slab && mapcount == *l.buddy_mapcount) {
                if (private_value >=
                    (l.max_buddy_order ? l.max_buddy_order : kFallbackBuddyOrders)) {
                    continue;  // a corrupt order: keep the page
                }
                count = 1ULL << private_value;
                counter = &excluded.free;
            } else if ((level & kDumpLevelFree) && l.unaccepted_mapcount &&
                       mapcount == *l.unaccepted_mapcount && l.max_buddy_order) {
                // 6.16+: unaccepted memory is listed in MAX_PAGE_ORDER blocks.
                count = 1ULL << (l.max_buddy_order - 1);
                counter = &excluded.free;
            } else if ((level & kDumpLevelCache) && is_cache(flags) &&
                       !test_flag(flags, l.pg_private) && !anon) {
                counter = &excluded.cache;
            } else if ((level & kDumpLevelCachePrivate) && is_cache(flags) && !anon) {
                counter =
                    test_flag(flags, l.pg_private) ? &excluded.cache_private : &excluded.cache;
            } else if ((level & kDumpLevelUser) && (anon || hugetlb)) {
                counter = &excluded.user;
            } else if (test_flag(flags, l.pg_hwpoison)) {
                counter = &excluded.hwpoison;  // always: reading it could fault the machine
            } else if (l.offline_mapcount && !slab && mapcount == *l.offline_mapcount) {
                counter = &excluded.offline;  // always: ballooned or unplugged memory
            } else {
                continue;
            }
            exclude(pfn, count, *counter);
            pfn += count - 1;
        }
    }
}

void DumpableFrames::fill(PageWindow& window, PageCounts* counts) const {
    select_pages(ranges_, page_size_, window);
    if (!filter_) {
        return;
    }
    ExcludedPages excluded;
    filter_->apply(window, excluded);
    if (counts) {
        counts->excluded_cache += excluded.cache;
        counts->excluded_cache_private += excluded.cache_private;
        counts->excluded_user += excluded.user;
        counts->excluded_free += excluded.free;
        counts->excluded_hwpoison += excluded.hwpoison;
        counts->excluded_offline += excluded.offline;
        counts->unreadable_struct_page_batches += excluded.unreadable_batches;
    }
}

PageCounts DumpableFrames::count(uint64_t max_mapnr) const {
    PageCounts counts = count_pages(ranges_, page_size_);
    if (!filter_) {
        return counts;
    }
    uint64_t dumpable = 0;
    for (uint64_t start = 0; start < max_mapnr; start += kFilterWindowPages) {
        PageWindow window;
        window.start_pfn = start;
        window.end_pfn = std::min(start + kFilterWindowPages, (max_mapnr + 7) & ~uint64_t{7});
        fill(window, &counts);
        for (uint8_t byte : window.dumpable) {
            dumpable += static_cast<uint64_t>(__builtin_popcount(byte));
        }
    }
    counts.dumpable = dumpable;
    return counts;
}

bool DumpableFrames::is_dumpable(uint64_t pfn) {
    if (!cached_valid_ || pfn < cached_.start_pfn || pfn >= cached_.end_pfn) {
        cached_.start_pfn = pfn & ~(kFilterWindowPages - 1);
        cached_.end_pfn = cached_.start_pfn + kFilterWindowPages;
        fill(cached_, nullptr);
        cached_valid_ = true;
    }
    return cached_.is_dumpable(pfn);
}

}  // namespace crashcapture
