#include "page-filter-fixture.hpp"

#include <fmt/format.h>

namespace crashcapture::fuzz {
namespace {

// struct page fields (the 6.1 layout of tests/unit/dump/test-page-filter.cpp).
constexpr uint64_t kFlagsOffset = 0;
constexpr uint64_t kCompoundHeadOffset = 8;
constexpr uint64_t kCompoundDtorOffset = 16;
constexpr uint64_t kCompoundOrderOffset = 17;
constexpr uint64_t kMappingOffset = 24;
constexpr uint64_t kPrivateOffset = 40;
constexpr uint64_t kMapcountOffset = 48;
// Linux 6.1 page flags (include/linux/page-flags.h) and _mapcount values.
constexpr int kPgLru = 4;
constexpr int kPgPrivate = 13;
constexpr int kPgSwapcache = 10;  // PG_owner_priv_1
constexpr int kPgSwapbacked = 19;
constexpr int kPgHwpoison = 23;
constexpr int kPgSlab = 9;
constexpr uint64_t kPgHeadMask = 1ULL << 16;  // PG_head
constexpr int32_t kBuddyMapcount = -129;      // PAGE_BUDDY_MAPCOUNT_VALUE, ~0x80
constexpr int32_t kOfflineMapcount = -257;    // PAGE_OFFLINE_MAPCOUNT_VALUE, ~0x100
constexpr uint8_t kHugetlbPageDtor = 2;
// SECTION_MARKED_PRESENT (include/linux/mmzone.h).
constexpr uint64_t kSectionMarkedPresent = 1;

}  // namespace

PageFilterFixture::PageFilterFixture() {
    auto& memory = kernel_.memory();
    const uint64_t mem_map_virt = kernel_.direct_map(kMemMapPhys);
    // sparse_encode_mem_map(): mem_map minus the section's first pfn times
    // SIZE(page); with one contiguous array that is mem_map_virt for all.
    for (uint64_t section = 0; section < kSections; ++section) {
        memory.write_u64(kSectionsPhys + section * kMemSectionSize,
                         mem_map_virt | kSectionMarkedPresent);
    }
    auto page = [&](uint64_t pfn) { return kMemMapPhys + pfn * kStructPageSize; };
    for (uint64_t pfn = 0; pfn < kFrames; ++pfn) {
        memory.write_u32(page(pfn) + kMapcountOffset, static_cast<uint32_t>(-1));
    }
    // A few frames of each kind the filter excludes.
    memory.write_u32(page(0x100) + kMapcountOffset, static_cast<uint32_t>(kBuddyMapcount));
    memory.write_u32(page(0x108) + kMapcountOffset, static_cast<uint32_t>(kBuddyMapcount));
    memory.write_u64(page(0x108) + kPrivateOffset, 3);  // a free block of order 3
    memory.write_u64(page(0x110) + kFlagsOffset, 1ULL << kPgLru);
    memory.write_u64(page(0x111) + kFlagsOffset, (1ULL << kPgLru) | (1ULL << kPgPrivate));
    memory.write_u64(page(0x114) + kFlagsOffset, 1ULL << kPgLru);
    memory.write_u64(page(0x114) + kMappingOffset, 0xffff888000123001ULL);  // PAGE_MAPPING_ANON
    memory.write_u64(page(0x115) + kFlagsOffset, 1ULL << kPgSlab);
    memory.write_u64(page(0x118) + kFlagsOffset, 1ULL << kPgHwpoison);
    memory.write_u32(page(0x119) + kMapcountOffset, static_cast<uint32_t>(kOfflineMapcount));
    // A compound head of order 2 at 0x120 (order and dtor in the first tail).
    memory.write_u64(page(0x120) + kFlagsOffset, kPgHeadMask | (1ULL << kPgLru));
    memory.write_u64(page(0x120) + kMappingOffset, 0xffff888000124001ULL);
    for (uint64_t tail = 0x121; tail < 0x124; ++tail) {
        memory.write_u64(page(tail) + kCompoundHeadOffset, kernel_.direct_map(page(0x120)) | 1);
    }
    memory.write(page(0x121) + kCompoundOrderOffset, std::as_bytes(std::span("\x02", 1)));
    memory.write(page(0x121) + kCompoundDtorOffset, std::as_bytes(std::span(&kHugetlbPageDtor, 1)));

    vmcoreinfo_ =
        kernel_.vmcoreinfo() +
        fmt::format(
            "SIZE(page)={}\nOFFSET(page.flags)={}\nOFFSET(page.mapping)={}\n"
            "OFFSET(page._mapcount)={}\nOFFSET(page.private)={}\nOFFSET(page.compound_head)={}\n"
            "OFFSET(page.compound_dtor)={}\nOFFSET(page.compound_order)={}\n"
            "NUMBER(HUGETLB_PAGE_DTOR)={}\nLENGTH(zone.free_area)=11\n"
            "NUMBER(PG_lru)={}\nNUMBER(PG_private)={}\nNUMBER(PG_swapcache)={}\n"
            "NUMBER(PG_swapbacked)={}\nNUMBER(PG_hwpoison)={}\nNUMBER(PG_slab)={}\n"
            "NUMBER(PG_head_mask)={}\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)={}\n"
            "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)={}\n"
            "SYMBOL(mem_section)={:x}\nLENGTH(mem_section)={}\nSIZE(mem_section)={}\n"
            "OFFSET(mem_section.section_mem_map)=0\nNUMBER(SECTION_SIZE_BITS)=15\n"
            "NUMBER(MAX_PHYSMEM_BITS)=23\n",
            kStructPageSize, kFlagsOffset, kMappingOffset, kMapcountOffset, kPrivateOffset,
            kCompoundHeadOffset, kCompoundDtorOffset, kCompoundOrderOffset, kHugetlbPageDtor,
            kPgLru, kPgPrivate, kPgSwapcache, kPgSwapbacked, kPgHwpoison, kPgSlab, kPgHeadMask,
            kBuddyMapcount, kOfflineMapcount, kernel_.direct_map(kSectionsPhys), kSections,
            kMemSectionSize);
}

}  // namespace crashcapture::fuzz
