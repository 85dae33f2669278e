// The page filter against synthetic crashed kernels whose memory holds what
// makedumpfile reads (dump-formats.md §3): a mem_section table (SPARSEMEM,
// SPARSEMEM_EXTREME, or SYMBOL(mem_section) pointing at a pointer to the
// roots), a VMEMMAP-style struct page array mapped with 2 MiB pages, and
// struct pages laid out as Linux 6.1 and 6.12 lay them out.
#include "page-filter.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include "dump-writer.hpp"
#include "kdump-test-reader.hpp"
#include "save-dump.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

// ---------------------------------------------------------------------------
// The synthetic machine (SyntheticKernel, 8 MiB): frames 0x100-0x5ff and
// 0x700-0x7ff are in PT_LOADs, 0x600-0x6ff is a hole.
constexpr uint64_t kMaxMapnr = 0x800;

// struct page, Linux 6.1 and 6.12 (include/linux/mm_types.h, x86_64, as the
// Debian 6.1.0-56 VMCOREINFO reports it in dump-formats.md §3.2).
constexpr uint64_t kStructPageSize = 64;       // SIZE(page)
constexpr uint64_t kFlagsOffset = 0;           // OFFSET(page.flags)
constexpr uint64_t kCompoundHeadOffset = 8;    // OFFSET(page.compound_head) = page.lru
constexpr uint64_t kCompoundDtorOffset = 16;   // OFFSET(page.compound_dtor), <= 6.2
constexpr uint64_t kCompoundOrderOffset = 17;  // OFFSET(page.compound_order), <= 6.2
constexpr uint64_t kMappingOffset = 24;        // OFFSET(page.mapping)
constexpr uint64_t kPrivateOffset = 40;        // OFFSET(page.private)
constexpr uint64_t kMapcountOffset = 48;       // OFFSET(page._mapcount)
constexpr uint64_t kRefcountOffset = 52;       // OFFSET(page._refcount)

// Where the struct page array lives: a 2 MiB page (phys 4 MiB, inside the
// PT_LOAD [1 MiB, 6 MiB)) mapped at vmemmap_base. 0x800 struct pages of 64
// bytes fill [0x400000, 0x420000); the printk text ring at 0x4fff00 is clear.
constexpr uint64_t kMemMapPhys = 0x400000;
// vmemmap_base of the 6.1 test machine (KASLR-randomized; dump-formats.md §3.4).
constexpr uint64_t kVmemmap4 = 0xfffff64240000000ULL;
// __VMEMMAP_BASE_L5 (arch/x86/include/asm/pgtable_64_types.h).
constexpr uint64_t kVmemmap5 = 0xffd4000000000000ULL;
// The next 1 GiB after vmemmap_base (4-level): nothing is mapped there.
constexpr uint64_t kUnmappedMemMap = kVmemmap4 + (1ULL << 30);
// VMALLOC_START (4-level, no KASLR): unmapped in the synthetic kernel.
constexpr uint64_t kNowhere = 0xffffc90000000000ULL;

// The mem_section tables, in the direct map.
constexpr uint64_t kRootsPhys = 0x430000;         // struct mem_section *roots[]
constexpr uint64_t kRoot0Phys = 0x431000;         // sections 0-127
constexpr uint64_t kRoot1Phys = 0x432000;         // sections 128-255
constexpr uint64_t kFlatSectionsPhys = 0x433000;  // mem_section[NR_MEM_SECTIONS][1]
constexpr uint64_t kRootsPointerPhys = 0x435000;  // struct mem_section **mem_section

// include/linux/mmzone.h: section_mem_map flag bits.
constexpr uint64_t kSectionMarkedPresent = 1ULL << 0;
constexpr uint64_t kSectionHasMemMap = 1ULL << 1;
constexpr uint64_t kSectionIsOnline = 1ULL << 2;

// Kernel objects page->mapping points at (direct-map addresses; their
// contents do not matter to the filter).
constexpr uint64_t kFileMappingPhys = 0x440000;  // struct address_space
constexpr uint64_t kAnonVmaPhys = 0x441000;      // struct anon_vma
constexpr uint64_t kSlabCachePhys = 0x442000;    // struct kmem_cache
constexpr uint64_t kPageMappingAnon = 1;         // PAGE_MAPPING_ANON

// The page flags and page types of one kernel version.
struct KernelFlavor {
    std::string name;
    // include/linux/page-flags.h enum pageflags.
    int pg_lru, pg_private, pg_swapcache, pg_swapbacked, pg_hwpoison;
    std::optional<int> pg_slab;  // gone in 6.10
    uint64_t head_mask;          // 1 << PG_head
    // Page types in _mapcount.
    int32_t buddy, offline;
    std::optional<int32_t> slab_type, hugetlb_type;  // 6.10+ / 6.9+
    // <= 6.2: compound_dtor / compound_order are u8 fields of the first
    // tail page; 6.6+: the order is the low byte of its flags.
    bool order_in_tail_field;
};

// Linux 6.1 (the Debian 12 kernel; VMCOREINFO in dump-formats.md §3.2).
KernelFlavor linux_6_1() {
    return {"linux_6_1",
            /*lru*/ 4,
            /*private*/ 13,
            /*swapcache = PG_owner_priv_1*/ 10,
            /*swapbacked*/ 19,
            /*hwpoison*/ 23,
            /*slab*/ 9,
            /*PG_head 16*/ 65536,
            /*PAGE_BUDDY_MAPCOUNT_VALUE ~0x00000080*/ -129,
            /*PAGE_OFFLINE_MAPCOUNT_VALUE ~0x00000100*/ -257,
            std::nullopt,
            std::nullopt,
            true};
}

// Linux 6.12: one page type in the top byte of _mapcount (4ffca5a96678c),
// PG_slab gone (slab is a page type), the order in folio._flags_1.
KernelFlavor linux_6_12() {
    return {"linux_6_12",
            /*lru*/ 5,
            /*private*/ 14,
            /*swapcache*/ 10,
            /*swapbacked*/ 17,
            /*hwpoison*/ 20,
            std::nullopt,
            /*PG_head 6*/ 64,
            /*PGTY_buddy 0xf0 << 24*/ -268435456,
            /*PGTY_offline 0xf1 << 24*/ -251658240,
            /*PGTY_slab 0xf5 << 24*/ -184549376,
            /*PGTY_hugetlb 0xf4 << 24*/ -201326592,
            false};
}

// HUGETLB_PAGE_DTOR / TRANSHUGE_PAGE_DTOR / COMPOUND_PAGE_DTOR
// (include/linux/mm.h enum compound_dtor_id, 6.1).
constexpr uint8_t kCompoundPageDtor = 1;
constexpr uint8_t kHugetlbPageDtor = 2;
constexpr uint8_t kTranshugePageDtor = 3;

std::string page_layout_vmcoreinfo(const KernelFlavor& f) {
    std::string text = fmt::format(
        "SIZE(page)={}\nOFFSET(page.flags)={}\nOFFSET(page._refcount)={}\n"
        "OFFSET(page.mapping)={}\nOFFSET(page.lru)={}\nOFFSET(page._mapcount)={}\n"
        "OFFSET(page.private)={}\nOFFSET(page.compound_head)={}\n"
        "LENGTH(zone.free_area)=11\nLENGTH(free_area.free_list)=5\n"
        "NUMBER(PG_lru)={}\nNUMBER(PG_private)={}\nNUMBER(PG_swapcache)={}\n"
        "NUMBER(PG_swapbacked)={}\nNUMBER(PG_hwpoison)={}\nNUMBER(PG_head_mask)={}\n"
        "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)={}\nNUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)={}\n",
        kStructPageSize, kFlagsOffset, kRefcountOffset, kMappingOffset, kCompoundHeadOffset,
        kMapcountOffset, kPrivateOffset, kCompoundHeadOffset, f.pg_lru, f.pg_private,
        f.pg_swapcache, f.pg_swapbacked, f.pg_hwpoison, f.head_mask, f.buddy, f.offline);
    if (f.pg_slab) {
        text += fmt::format("NUMBER(PG_slab)={}\n", *f.pg_slab);
    }
    if (f.slab_type) {
        text += fmt::format("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)={}\n", *f.slab_type);
    }
    if (f.hugetlb_type) {
        text += fmt::format("NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)={}\n", *f.hugetlb_type);
    }
    if (f.order_in_tail_field) {
        text += fmt::format(
            "OFFSET(page.compound_dtor)={}\nOFFSET(page.compound_order)={}\n"
            "NUMBER(HUGETLB_PAGE_DTOR)={}\n",
            kCompoundDtorOffset, kCompoundOrderOffset, kHugetlbPageDtor);
    }
    return text;
}

// How the mem_section table is laid out (include/linux/mmzone.h).
enum class SectionTable {
    extreme,            // SPARSEMEM_EXTREME: roots of 128 sections, 8 frames per section
    flat,               // SPARSEMEM without _EXTREME: one static array
    pointer_to_roots,   // SYMBOL(mem_section) is &mem_section, not the array
    real_section_size,  // SECTION_SIZE_BITS=27: one section holds the whole machine
};

std::string to_string(SectionTable table) {
    switch (table) {
        case SectionTable::extreme:
            return "extreme";
        case SectionTable::flat:
            return "flat";
        case SectionTable::pointer_to_roots:
            return "pointer_to_roots";
        case SectionTable::real_section_size:
            return "real_section_size";
    }
    return "?";
}

struct ScenarioOptions {
    KernelFlavor flavor = linux_6_1();
    SectionTable table = SectionTable::extreme;
    int paging_levels = 4;
    // Section 240 (frames 0x780-0x787) gets a mem_map nothing maps.
    bool corrupt_section = false;
    // SYMBOL(mem_section) replaced by this address.
    std::optional<uint64_t> mem_section_symbol;
    // VMCOREINFO lines starting with one of these are left out.
    std::vector<std::string> drop_lines;
    // VMCOREINFO lines appended last (a later value of a key wins).
    std::string extra_vmcoreinfo;
    // Free block at 0x100 with this order instead of 0.
    uint64_t first_buddy_order = 0;
};

// Frames whose struct pages the scenario fills (everything else is a plain
// kernel page: flags 0, _mapcount -1).
namespace frame {
constexpr uint64_t kFreeOrder0 = 0x100;         // buddy, order 0
constexpr uint64_t kFreeOrder3 = 0x108;         // buddy, order 3: 0x108-0x10f
constexpr uint64_t kCache = 0x110;              // page cache, PG_lru
constexpr uint64_t kCachePrivate = 0x111;       // page cache, PG_lru | PG_private
constexpr uint64_t kSwapCache = 0x112;          // PG_swapcache | PG_swapbacked
constexpr uint64_t kOwnerPriv = 0x113;          // PG_swapcache alone = PG_owner_priv_1: not cache
constexpr uint64_t kAnon = 0x114;               // anonymous, on the LRU
constexpr uint64_t kSlabAnonBit = 0x115;        // slab, mapping bit 0 set: not anonymous
constexpr uint64_t kSlabBuddyMapcount = 0x116;  // 6.1: PG_slab with the buddy _mapcount
constexpr uint64_t kHugetlb = 0x118;            // hugetlb order 2: 0x118-0x11b
constexpr uint64_t kThp = 0x120;                // anonymous THP order 3: 0x120-0x127
constexpr uint64_t kFileFolio = 0x128;          // page cache order 2: 0x128-0x12b
constexpr uint64_t kFileFolioOddTail = 0x12a;   // its tail, looking free
constexpr uint64_t kHwpoison = 0x130;
constexpr uint64_t kOffline = 0x131;
constexpr uint64_t kKernel = 0x132;
constexpr uint64_t kOrphanTail = 0x133;       // a tail whose own fields look free and anonymous
constexpr uint64_t kCorruptBuddy = 0x134;     // buddy with private = 11
constexpr uint64_t kMisalignedHead = 0x135;   // anon head claiming order 2 at an odd pfn
constexpr uint64_t kUnreadableBuddy = 0x780;  // buddy order 3, in section 240
constexpr uint64_t kHiddenBuddy = 0x7f0;      // buddy order 3, section 254 not present
constexpr uint64_t kLastBuddy = 0x7f8;        // buddy order 3, section 255 (root 1)
}  // namespace frame

// Writes struct pages into the vmemmap backing.
class StructPages {
  public:
    StructPages(PhysicalImage& memory, const KernelFlavor& flavor, uint64_t vmemmap)
        : memory_(memory), f_(flavor), vmemmap_(vmemmap) {
        for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
            page(pfn, 0);
        }
    }

    uint64_t phys(uint64_t pfn) const { return kMemMapPhys + pfn * kStructPageSize; }
    uint64_t virt(uint64_t pfn) const { return vmemmap_ + pfn * kStructPageSize; }
    uint64_t bit(int number) const { return 1ULL << number; }

    void page(uint64_t pfn, uint64_t flags, uint64_t mapping = 0, int32_t mapcount = -1,
              uint64_t private_value = 0, uint64_t compound_head = 0) {
        memory_.write_u64(phys(pfn) + kFlagsOffset, flags);
        memory_.write_u64(phys(pfn) + kCompoundHeadOffset, compound_head);
        memory_.write_u64(phys(pfn) + kCompoundDtorOffset, 0);
        memory_.write_u64(phys(pfn) + kMappingOffset, mapping);
        memory_.write_u64(phys(pfn) + kPrivateOffset, private_value);
        memory_.write_u32(phys(pfn) + kMapcountOffset, static_cast<uint32_t>(mapcount));
        memory_.write_u32(phys(pfn) + kRefcountOffset, mapcount == -1 ? 1 : 0);
    }

    // mm/page_alloc.c set_buddy_order(): private = order, PageBuddy in
    // _mapcount; the rest of the block is plain struct pages.
    void buddy(uint64_t pfn, uint64_t order) { page(pfn, 0, 0, f_.buddy, order); }

    // A compound page (mm/page_alloc.c prep_compound_page()): the head has
    // PG_head, every tail points at it with bit 0 set, the first tail holds
    // the order (and on 6.1 the destructor).
    void compound(uint64_t pfn, uint8_t order, uint64_t head_flags, uint64_t mapping, bool hugetlb,
                  uint8_t dtor) {
        const int32_t head_mapcount = hugetlb && f_.hugetlb_type ? *f_.hugetlb_type : -1;
        page(pfn, head_flags | f_.head_mask, mapping, head_mapcount);
        for (uint64_t tail = pfn + 1; tail < pfn + (1ULL << order); ++tail) {
            page(tail, 0, 0, -1, 0, virt(pfn) | 1);
        }
        if (f_.order_in_tail_field) {
            memory_.write(phys(pfn + 1) + kCompoundDtorOffset, std::as_bytes(std::span(&dtor, 1)));
            memory_.write(phys(pfn + 1) + kCompoundOrderOffset,
                          std::as_bytes(std::span(&order, 1)));
        } else {
            memory_.write_u64(phys(pfn + 1) + kFlagsOffset, order);  // folio._flags_1 & 0xff
        }
    }

  private:
    PhysicalImage& memory_;
    const KernelFlavor& f_;
    uint64_t vmemmap_;
};

// A synthetic crashed kernel with a struct page array, written as an ELF
// vmcore and opened the way crashcapture-save opens /proc/vmcore.
class Scenario {
  public:
    explicit Scenario(ScenarioOptions options = {})
        : options_(std::move(options)), kernel_(kernel_options(options_)) {
        const auto& f = options_.flavor;
        const uint64_t vmemmap = options_.paging_levels == 5 ? kVmemmap5 : kVmemmap4;
        auto& memory = kernel_.memory();
        kernel_.page_tables().map(vmemmap, kMemMapPhys, 2 * kMiB, MappingSize::page_2m,
                                  PageTables::kNx);

        StructPages pages(memory, f, vmemmap);
        const uint64_t file_mapping = kernel_.direct_map(kFileMappingPhys);
        const uint64_t anon_mapping = kernel_.direct_map(kAnonVmaPhys) | kPageMappingAnon;
        pages.buddy(frame::kFreeOrder0, options_.first_buddy_order);
        pages.buddy(frame::kFreeOrder3, 3);
        pages.page(frame::kCache, pages.bit(f.pg_lru), file_mapping);
        pages.page(frame::kCachePrivate, pages.bit(f.pg_lru) | pages.bit(f.pg_private),
                   file_mapping, -1, /*buffer_head*/ kernel_.direct_map(0x443000));
        pages.page(frame::kSwapCache, pages.bit(f.pg_swapcache) | pages.bit(f.pg_swapbacked));
        pages.page(frame::kOwnerPriv, pages.bit(f.pg_swapcache), file_mapping);
        pages.page(frame::kAnon, pages.bit(f.pg_lru) | pages.bit(f.pg_swapbacked), anon_mapping);
        // Slab pages: 6.1 PG_slab, 6.10+ a page type. struct slab overlays
        // struct page, so "mapping" can have bit 0 set (makedumpfile 5f17bdd).
        const uint64_t slab_flags = f.pg_slab ? pages.bit(*f.pg_slab) : 0;
        const int32_t slab_mapcount = f.slab_type ? *f.slab_type : -1;
        pages.page(frame::kSlabAnonBit, slab_flags, kernel_.direct_map(kSlabCachePhys) | 1,
                   slab_mapcount);
        pages.page(frame::kSlabBuddyMapcount, slab_flags, kernel_.direct_map(kSlabCachePhys),
                   f.slab_type ? *f.slab_type : f.buddy);
        // hugetlbfs page: a file mapping, so only the hugetlb test catches it.
        pages.compound(frame::kHugetlb, 2, 0, file_mapping, true, kHugetlbPageDtor);
        pages.compound(frame::kThp, 3, pages.bit(f.pg_lru) | pages.bit(f.pg_swapbacked),
                       anon_mapping, false, kTranshugePageDtor);
        pages.compound(frame::kFileFolio, 2, pages.bit(f.pg_lru), file_mapping, false,
                       kCompoundPageDtor);
        // A tail page decides nothing, whatever its own fields say.
        pages.page(frame::kFileFolioOddTail, 0, anon_mapping, f.buddy, 0,
                   pages.virt(frame::kFileFolio) | 1);
        pages.page(frame::kHwpoison, pages.bit(f.pg_hwpoison));
        pages.page(frame::kOffline, 0, 0, f.offline);
        pages.page(frame::kKernel, 0);
        pages.page(frame::kOrphanTail, pages.bit(f.pg_lru), anon_mapping, f.buddy, 0,
                   pages.virt(frame::kKernel) | 1);
        pages.page(frame::kCorruptBuddy, 0, 0, f.buddy, 11);  // LENGTH(zone.free_area) = 11
        // Order 2 needs a pfn aligned to 4: not a valid compound page, only
        // the head goes; its tails still defer to it.
        pages.compound(frame::kMisalignedHead, 2, 0, anon_mapping, false, kTranshugePageDtor);
        pages.buddy(frame::kUnreadableBuddy, 3);
        pages.buddy(frame::kHiddenBuddy, 3);
        pages.buddy(frame::kLastBuddy, 3);

        vmcoreinfo_ = kernel_.vmcoreinfo() + page_layout_vmcoreinfo(f) + build_sections(vmemmap);
        for (const auto& prefix : options_.drop_lines) {
            std::string kept;
            size_t start = 0;
            while (start < vmcoreinfo_.size()) {
                const size_t end = vmcoreinfo_.find('\n', start);
                const std::string line = vmcoreinfo_.substr(start, end - start + 1);
                if (line.rfind(prefix, 0) != 0) {
                    kept += line;
                }
                start = end == std::string::npos ? vmcoreinfo_.size() : end + 1;
            }
            vmcoreinfo_ = kept;
        }
        vmcoreinfo_ += options_.extra_vmcoreinfo;

        // SyntheticKernel::vmcore_builder() without its VMCOREINFO note.
        VmcoreBuilder builder(kernel_.memory());
        for (const auto& load : kernel_.default_loads()) {
            builder.add_load(load);
        }
        builder.add_cpu_notes(2);
        builder.set_vmcoreinfo(vmcoreinfo_);
        builder.write(vmcore_path());
        auto vmcore = VmcoreFile::open(vmcore_path());
        if (!vmcore) {
            throw std::runtime_error(vmcore.error().message);
        }
        vmcore_.emplace(std::move(*vmcore));
        auto info = Vmcoreinfo::parse(vmcoreinfo_);
        if (!info) {
            throw std::runtime_error(info.error().message);
        }
        info_.emplace(std::move(*info));
        auto space = KernelAddressSpace::create(*vmcore_, *info_, vmcore_->segments());
        if (!space) {
            throw std::runtime_error(space.error().message);
        }
        space_.emplace(std::move(*space));
    }

    Result<PageFilter> create_filter(int dump_level) const {
        return PageFilter::create(*space_, *info_, kMaxMapnr, dump_level);
    }

    // The frames present in the vmcore, all dumpable before filtering.
    PageWindow window() const {
        PageWindow window;
        window.start_pfn = 0;
        window.end_pfn = kMaxMapnr;
        select_pages(vmcore_->physical_ranges(), kPageSize, window);
        return window;
    }

    std::string vmcore_path() const { return dir_.file("vmcore.elf"); }
    const TempDir& dir() const { return dir_; }
    const VmcoreFile& vmcore() const { return *vmcore_; }
    SyntheticKernel& kernel() { return kernel_; }

  private:
    static SyntheticKernelOptions kernel_options(const ScenarioOptions& options) {
        SyntheticKernelOptions o;
        o.paging_levels = options.paging_levels;
        return o;
    }

    // The mem_section table and its VMCOREINFO (kernel/vmcore_info.c:
    // VMCOREINFO_SYMBOL_ARRAY(mem_section), LENGTH(mem_section,
    // NR_SECTION_ROOTS), SIZE(mem_section), OFFSET(mem_section.section_mem_map),
    // NUMBER(SECTION_SIZE_BITS), NUMBER(MAX_PHYSMEM_BITS)).
    std::string build_sections(uint64_t vmemmap) {
        auto& memory = kernel_.memory();
        const bool real = options_.table == SectionTable::real_section_size;
        const bool flat = options_.table == SectionTable::flat;
        const int section_size_bits = real ? 27 : 15;  // 15: 8 frames per section
        const int max_physmem_bits = 46;               // MAX_PHYSMEM_BITS, 4-level
        const uint64_t pages_per_section = 1ULL << (section_size_bits - 12);
        const uint64_t sections = (kMaxMapnr + pages_per_section - 1) / pages_per_section;
        // struct mem_section: section_mem_map, usage (+ page_ext, pad with
        // CONFIG_PAGE_EXTENSION as on Debian): 32 bytes, or 16.
        const uint64_t section_size = flat ? 16 : 32;
        const uint64_t sections_per_root = flat ? 1 : kPageSize / section_size;
        const uint64_t nr_mem_sections = 1ULL << (max_physmem_bits - section_size_bits);
        const uint64_t nr_section_roots =
            (nr_mem_sections + sections_per_root - 1) / sections_per_root;

        auto entry_phys = [&](uint64_t nr) {
            if (flat) {
                return kFlatSectionsPhys + nr * section_size;
            }
            return (nr / 128 == 0 ? kRoot0Phys : kRoot1Phys) + (nr % 128) * section_size;
        };
        for (uint64_t nr = 0; nr < sections; ++nr) {
            const uint64_t first_pfn = nr * pages_per_section;
            if (!real &&
                ((first_pfn >= 0x600 && first_pfn < 0x700) || first_pfn == frame::kHiddenBuddy)) {
                continue;  // the hole, and a hot-removed section: no mem_map
            }
            // sparse_encode_mem_map(): mem_map - section_nr_to_pfn(nr).
            uint64_t mem_map = vmemmap + first_pfn * kStructPageSize;
            if (options_.corrupt_section && first_pfn == frame::kUnreadableBuddy) {
                mem_map = kUnmappedMemMap + first_pfn * kStructPageSize;
            }
            memory.write_u64(entry_phys(nr), (mem_map - first_pfn * kStructPageSize) |
                                                 kSectionMarkedPresent | kSectionHasMemMap |
                                                 kSectionIsOnline);
        }
        memory.write_u64(kRootsPhys, kernel_.direct_map(kRoot0Phys));
        memory.write_u64(kRootsPhys + 8, sections > 128 ? kernel_.direct_map(kRoot1Phys) : 0);
        memory.write_u64(kRootsPointerPhys, kernel_.direct_map(kRootsPhys));

        uint64_t symbol = kernel_.direct_map(flat ? kFlatSectionsPhys : kRootsPhys);
        if (options_.table == SectionTable::pointer_to_roots) {
            symbol = kernel_.direct_map(kRootsPointerPhys);
        }
        symbol = options_.mem_section_symbol.value_or(symbol);
        return fmt::format(
            "SYMBOL(mem_section)={:x}\nLENGTH(mem_section)={}\nSIZE(mem_section)={}\n"
            "OFFSET(mem_section.section_mem_map)=0\nNUMBER(SECTION_SIZE_BITS)={}\n"
            "NUMBER(MAX_PHYSMEM_BITS)={}\n",
            symbol, nr_section_roots, section_size, section_size_bits, max_physmem_bits);
    }

    ScenarioOptions options_;
    TempDir dir_;
    SyntheticKernel kernel_;
    std::string vmcoreinfo_;
    std::optional<VmcoreFile> vmcore_;
    std::optional<Vmcoreinfo> info_;
    std::optional<KernelAddressSpace> space_;
};

// ---------------------------------------------------------------------------
// What each dump level must exclude in the scenario.
void add_range(std::set<uint64_t>& set, uint64_t first, uint64_t count) {
    for (uint64_t pfn = first; pfn < first + count; ++pfn) {
        set.insert(pfn);
    }
}

struct Expected {
    std::set<uint64_t> frames;
    ExcludedPages counts;
};

Expected expected_exclusions(int level, SectionTable table, bool corrupt_section = false) {
    Expected e;
    auto add = [&](uint64_t first, uint64_t count, uint64_t& counter) {
        add_range(e.frames, first, count);
        counter += count;
    };
    if (level & kDumpLevelFree) {
        add(frame::kFreeOrder0, 1, e.counts.free);
        add(frame::kFreeOrder3, 8, e.counts.free);
        if (!corrupt_section) {
            add(frame::kUnreadableBuddy, 8, e.counts.free);
        }
        if (table == SectionTable::real_section_size) {
            add(frame::kHiddenBuddy, 8, e.counts.free);  // no section to hide it in
        }
        add(frame::kLastBuddy, 8, e.counts.free);
    }
    if (level & (kDumpLevelCache | kDumpLevelCachePrivate)) {
        add(frame::kCache, 1, e.counts.cache);
        add(frame::kSwapCache, 1, e.counts.cache);
        add(frame::kFileFolio, 4, e.counts.cache);
    }
    if (level & kDumpLevelCachePrivate) {
        add(frame::kCachePrivate, 1, e.counts.cache_private);
    }
    if (level & kDumpLevelUser) {
        add(frame::kAnon, 1, e.counts.user);
        add(frame::kHugetlb, 4, e.counts.user);
        add(frame::kThp, 8, e.counts.user);
        add(frame::kMisalignedHead, 1, e.counts.user);
    }
    add(frame::kHwpoison, 1, e.counts.hwpoison);
    add(frame::kOffline, 1, e.counts.offline);
    return e;
}

struct Applied {
    std::set<uint64_t> cleared;
    ExcludedPages counts;
};

Applied apply(const PageFilter& filter, const Scenario& scenario) {
    PageWindow window = scenario.window();
    const PageWindow before = window;
    Applied a;
    filter.apply(window, a.counts);
    for (uint64_t pfn = window.start_pfn; pfn < window.end_pfn; ++pfn) {
        EXPECT_FALSE(window.is_dumpable(pfn) && !before.is_dumpable(pfn)) << pfn;
        if (before.is_dumpable(pfn) && !window.is_dumpable(pfn)) {
            a.cleared.insert(pfn);
        }
    }
    EXPECT_EQ(window.present, before.present);
    return a;
}

std::string hex_set(const std::set<uint64_t>& set) {
    std::string text;
    for (uint64_t pfn : set) {
        text += fmt::format("{:#x} ", pfn);
    }
    return text;
}

void expect_counts(const ExcludedPages& actual, const ExcludedPages& expected) {
    EXPECT_EQ(actual.cache, expected.cache);
    EXPECT_EQ(actual.cache_private, expected.cache_private);
    EXPECT_EQ(actual.user, expected.user);
    EXPECT_EQ(actual.free, expected.free);
    EXPECT_EQ(actual.hwpoison, expected.hwpoison);
    EXPECT_EQ(actual.offline, expected.offline);
}

void expect_cleared(const Applied& applied, const Expected& expected) {
    EXPECT_EQ(hex_set(applied.cleared), hex_set(expected.frames));
    expect_counts(applied.counts, expected.counts);
}

bool contains(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const auto& line) { return line.find(needle) != std::string::npos; });
}

// ---------------------------------------------------------------------------
// Every level, both kernel layouts, every way of finding the sections.
struct LevelCase {
    bool linux_6_12;
    SectionTable table;
    int level;
};

class PageFilterLevels : public ::testing::TestWithParam<LevelCase> {};

TEST_P(PageFilterLevels, ClearsExactlyTheExpectedFrames) {
    const auto& p = GetParam();
    ScenarioOptions options;
    options.flavor = p.linux_6_12 ? linux_6_12() : linux_6_1();
    options.table = p.table;
    Scenario scenario(options);
    auto filter = scenario.create_filter(p.level);
    ASSERT_TRUE(filter) << filter.error().message;
    EXPECT_EQ(filter->effective_dump_level(), p.level);
    EXPECT_TRUE(filter->warnings().empty()) << ::testing::PrintToString(filter->warnings());
    expect_cleared(apply(*filter, scenario), expected_exclusions(p.level, p.table));
    EXPECT_EQ(filter->unreadable_batches(), 0u);
}

std::vector<LevelCase> level_cases() {
    std::vector<LevelCase> cases;
    for (bool v612 : {false, true}) {
        for (auto table : {SectionTable::extreme, SectionTable::flat,
                           SectionTable::pointer_to_roots, SectionTable::real_section_size}) {
            for (int level : {0, 1, 2, 4, 6, 8, 16, 31}) {
                cases.push_back({v612, table, level});
            }
        }
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(PageFilter, PageFilterLevels, ::testing::ValuesIn(level_cases()),
                         [](const ::testing::TestParamInfo<LevelCase>& param_info) {
                             return fmt::format(
                                 "{}_{}_level{}",
                                 param_info.param.linux_6_12 ? "linux_6_12" : "linux_6_1",
                                 to_string(param_info.param.table), param_info.param.level);
                         });

// ---------------------------------------------------------------------------

TEST(PageFilter, LayoutFromVmcoreinfo61) {
    auto info = Vmcoreinfo::parse(page_layout_vmcoreinfo(linux_6_1()));
    ASSERT_TRUE(info);
    const auto l = PageLayout::from_vmcoreinfo(*info);
    EXPECT_EQ(l.struct_size, 64u);
    EXPECT_EQ(l.mapping_offset, 24u);
    EXPECT_EQ(l.mapcount_offset, 48u);
    EXPECT_EQ(l.pg_slab, 9);
    EXPECT_EQ(l.head_mask, 65536u);
    EXPECT_EQ(l.buddy_mapcount, -129);
    EXPECT_EQ(l.offline_mapcount, -257);
    EXPECT_FALSE(l.slab_mapcount);
    EXPECT_EQ(l.compound_order, PageLayout::CompoundOrder::tail_field);
    EXPECT_EQ(l.compound_order_offset, 17u);
    EXPECT_EQ(l.compound_dtor_offset, 16u);
    EXPECT_EQ(l.hugetlb_dtor, 2);
    EXPECT_EQ(l.max_buddy_order, 11u);
}

TEST(PageFilter, LayoutFromVmcoreinfo612) {
    auto info = Vmcoreinfo::parse(page_layout_vmcoreinfo(linux_6_12()));
    ASSERT_TRUE(info);
    const auto l = PageLayout::from_vmcoreinfo(*info);
    EXPECT_FALSE(l.pg_slab);
    EXPECT_EQ(l.slab_mapcount, -184549376);
    EXPECT_EQ(l.hugetlb_mapcount, -201326592);
    EXPECT_EQ(l.buddy_mapcount, -268435456);
    EXPECT_EQ(l.compound_order, PageLayout::CompoundOrder::tail_flags_byte);
    EXPECT_FALSE(l.compound_dtor_offset);
}

TEST(PageFilter, HwpoisonAndOfflineGoAtEveryLevel) {
    for (const auto& flavor : {linux_6_1(), linux_6_12()}) {
        SCOPED_TRACE(flavor.name);
        ScenarioOptions options;
        options.flavor = flavor;
        Scenario scenario(options);
        for (int level = 0; level <= 31; ++level) {
            SCOPED_TRACE(level);
            auto filter = scenario.create_filter(level);
            ASSERT_TRUE(filter) << filter.error().message;
            const auto applied = apply(*filter, scenario);
            EXPECT_TRUE(applied.cleared.count(frame::kHwpoison));
            EXPECT_TRUE(applied.cleared.count(frame::kOffline));
            EXPECT_EQ(applied.counts.hwpoison, 1u);
            EXPECT_EQ(applied.counts.offline, 1u);
            // The plain kernel page and the PG_owner_priv_1 page never go.
            EXPECT_FALSE(applied.cleared.count(frame::kKernel));
            EXPECT_FALSE(applied.cleared.count(frame::kOwnerPriv));
        }
    }
}

TEST(PageFilter, CompoundPagesGoAsAWholeAndTailsNeverDecide) {
    for (const auto& flavor : {linux_6_1(), linux_6_12()}) {
        SCOPED_TRACE(flavor.name);
        ScenarioOptions options;
        options.flavor = flavor;
        Scenario scenario(options);
        {
            auto filter = scenario.create_filter(kDumpLevelUser);
            ASSERT_TRUE(filter);
            const auto applied = apply(*filter, scenario);
            for (uint64_t pfn = frame::kHugetlb; pfn < frame::kHugetlb + 4; ++pfn) {
                EXPECT_TRUE(applied.cleared.count(pfn)) << pfn;
            }
            for (uint64_t pfn = frame::kThp; pfn < frame::kThp + 8; ++pfn) {
                EXPECT_TRUE(applied.cleared.count(pfn)) << pfn;
            }
            // Misaligned: the head alone; its tails defer to it.
            EXPECT_TRUE(applied.cleared.count(frame::kMisalignedHead));
            EXPECT_FALSE(applied.cleared.count(frame::kMisalignedHead + 1));
            EXPECT_FALSE(applied.cleared.count(frame::kMisalignedHead + 2));
            // Tails whose own mapping says anonymous are not user pages.
            EXPECT_FALSE(applied.cleared.count(frame::kFileFolioOddTail));
            EXPECT_FALSE(applied.cleared.count(frame::kOrphanTail));
        }
        {
            // The file folio's tail and the orphan tail look free: still kept.
            auto filter = scenario.create_filter(kDumpLevelFree);
            ASSERT_TRUE(filter);
            const auto applied = apply(*filter, scenario);
            for (uint64_t pfn = frame::kFileFolio; pfn < frame::kFileFolio + 4; ++pfn) {
                EXPECT_FALSE(applied.cleared.count(pfn)) << pfn;
            }
            EXPECT_FALSE(applied.cleared.count(frame::kOrphanTail));
        }
        {
            // At level 2 the whole file folio goes, the anonymous THP stays.
            auto filter = scenario.create_filter(kDumpLevelCache);
            ASSERT_TRUE(filter);
            const auto applied = apply(*filter, scenario);
            for (uint64_t pfn = frame::kFileFolio; pfn < frame::kFileFolio + 4; ++pfn) {
                EXPECT_TRUE(applied.cleared.count(pfn)) << pfn;
            }
            for (uint64_t pfn = frame::kThp; pfn < frame::kThp + 8; ++pfn) {
                EXPECT_FALSE(applied.cleared.count(pfn)) << pfn;
            }
        }
    }
}

TEST(PageFilter, CorruptBuddyOrderKeepsThePage) {
    Scenario scenario;
    auto filter = scenario.create_filter(kDumpLevelFree);
    ASSERT_TRUE(filter);
    const auto applied = apply(*filter, scenario);
    EXPECT_FALSE(applied.cleared.count(frame::kCorruptBuddy));
    // Nothing after it was swept along.
    EXPECT_FALSE(applied.cleared.count(frame::kCorruptBuddy + 1));
    EXPECT_EQ(applied.counts.free,
              expected_exclusions(kDumpLevelFree, SectionTable::extreme).counts.free);
}

TEST(PageFilter, BuddyOrderIsCheckedEvenWithoutZoneFreeAreaLength) {
    // private = 40 on a "free" page: without LENGTH(zone.free_area) the
    // order cannot be validated against MAX_ORDER, but 2^40 frames (or
    // 1 << 70 wrapped) must not sweep away the rest of memory.
    for (uint64_t order : {40u, 70u}) {
        SCOPED_TRACE(order);
        ScenarioOptions options;
        options.first_buddy_order = order;
        options.drop_lines = {"LENGTH(zone.free_area)"};
        Scenario scenario(options);
        auto filter = scenario.create_filter(kDumpLevelFree);
        ASSERT_TRUE(filter) << filter.error().message;
        const auto applied = apply(*filter, scenario);
        EXPECT_FALSE(applied.cleared.count(frame::kCache));
        EXPECT_FALSE(applied.cleared.count(frame::kKernel));
        EXPECT_LE(applied.counts.free, 32u);
    }
}

TEST(PageFilter, SlabPageWithMappingBitZeroIsNotAnonymous) {
    for (const auto& flavor : {linux_6_1(), linux_6_12()}) {
        SCOPED_TRACE(flavor.name);
        ScenarioOptions options;
        options.flavor = flavor;
        Scenario scenario(options);
        auto filter = scenario.create_filter(kDumpLevelUser | kDumpLevelFree);
        ASSERT_TRUE(filter);
        EXPECT_EQ(filter->effective_dump_level(), kDumpLevelUser | kDumpLevelFree);
        const auto applied = apply(*filter, scenario);
        EXPECT_FALSE(applied.cleared.count(frame::kSlabAnonBit));
        EXPECT_FALSE(applied.cleared.count(frame::kSlabBuddyMapcount));
        EXPECT_TRUE(applied.cleared.count(frame::kAnon));
    }
}

TEST(PageFilter, UnreadableStructPagesAreKeptAndCounted) {
    ScenarioOptions options;
    options.corrupt_section = true;
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_TRUE(filter) << filter.error().message;
    const auto applied = apply(*filter, scenario);
    for (uint64_t pfn = frame::kUnreadableBuddy; pfn < frame::kUnreadableBuddy + 8; ++pfn) {
        EXPECT_FALSE(applied.cleared.count(pfn)) << pfn;
    }
    EXPECT_EQ(filter->unreadable_batches(), 1u);
    // The rest of the machine is filtered as usual.
    expect_cleared(applied, expected_exclusions(31, SectionTable::extreme, true));
}

TEST(PageFilter, ReadableSectionStructPagesDecide) {
    // The control for the test above: the same frames go when readable.
    Scenario scenario;
    auto filter = scenario.create_filter(kDumpLevelFree);
    ASSERT_TRUE(filter);
    const auto applied = apply(*filter, scenario);
    for (uint64_t pfn = frame::kUnreadableBuddy; pfn < frame::kUnreadableBuddy + 8; ++pfn) {
        EXPECT_TRUE(applied.cleared.count(pfn)) << pfn;
    }
    // A section without SECTION_MARKED_PRESENT has no mem_map: kept.
    for (uint64_t pfn = frame::kHiddenBuddy; pfn < frame::kHiddenBuddy + 8; ++pfn) {
        EXPECT_FALSE(applied.cleared.count(pfn)) << pfn;
    }
}

TEST(PageFilter, MemSectionIntoNowhereFails) {
    ScenarioOptions options;
    options.mem_section_symbol = kNowhere;
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_FALSE(filter);
    EXPECT_THAT(filter.error().message, HasSubstr("mem_section"));
}

TEST(PageFilter, OffsetsOutsideStructPageAreRefused) {
    // Each would index the struct page buffer past its SIZE(page) bytes.
    for (const char* line :
         {"OFFSET(page.flags)=18446744073709551608\n", "OFFSET(page.mapping)=4096\n",
          "OFFSET(page._mapcount)=62\n", "OFFSET(page.compound_head)=57\n"}) {
        ScenarioOptions options;
        options.extra_vmcoreinfo = line;
        Scenario scenario(options);
        auto filter = scenario.create_filter(31);
        ASSERT_FALSE(filter) << line;
        EXPECT_THAT(filter.error().message, HasSubstr("lies outside SIZE(page)=64")) << line;
    }
}

TEST(PageFilter, ImplausibleSectionLayoutIsRefused) {
    for (const char* line :
         {"SIZE(mem_section)=8192\n", "OFFSET(mem_section.section_mem_map)=4093\n",
          "SIZE(mem_section)=18446744073709551615\n"}) {
        ScenarioOptions options;
        options.extra_vmcoreinfo = line;
        Scenario scenario(options);
        auto filter = scenario.create_filter(31);
        ASSERT_FALSE(filter) << line;
        EXPECT_THAT(filter.error().message, HasSubstr("implausible")) << line;
    }
    // 2-page sections would need more section addresses than the kernel has.
    ScenarioOptions options;
    options.extra_vmcoreinfo = "NUMBER(SECTION_SIZE_BITS)=13\nNUMBER(MAX_PHYSMEM_BITS)=14\n";
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_FALSE(filter);
    EXPECT_THAT(filter.error().message, HasSubstr("memory sections"));
}

TEST(PageFilter, ImplausibleBuddyOrderCountIsRefused) {
    ScenarioOptions options;
    options.extra_vmcoreinfo = "LENGTH(zone.free_area)=1000\n";
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_FALSE(filter);
    EXPECT_THAT(filter.error().message, HasSubstr("LENGTH(zone.free_area)=1000"));
}

TEST(PageFilter, NoSparsememDescriptionFails) {
    ScenarioOptions options;
    options.drop_lines = {"NUMBER(SECTION_SIZE_BITS)"};
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_FALSE(filter);
    EXPECT_THAT(filter.error().message, HasSubstr("SPARSEMEM"));
}

TEST(PageFilter, NoBuddyMapcountDropsTheFreeBit) {
    ScenarioOptions options;
    options.drop_lines = {"NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)"};
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_TRUE(filter) << filter.error().message;
    EXPECT_EQ(filter->effective_dump_level(), 31 & ~kDumpLevelFree);
    ASSERT_EQ(filter->warnings().size(), 1u);
    EXPECT_THAT(filter->warnings()[0], HasSubstr("dump level bit 16 dropped"));
    EXPECT_THAT(filter->warnings()[0], HasSubstr("PAGE_BUDDY_MAPCOUNT_VALUE"));
    expect_cleared(apply(*filter, scenario),
                   expected_exclusions(31 & ~kDumpLevelFree, SectionTable::extreme));
}

TEST(PageFilter, NoSlabTestDropsUserAndFree) {
    // A 6.10+ kernel whose VMCOREINFO lost PAGE_SLAB_MAPCOUNT_VALUE: slab
    // pages could pass for anonymous or free ones.
    ScenarioOptions options;
    options.flavor = linux_6_12();
    options.drop_lines = {"NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)"};
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_TRUE(filter) << filter.error().message;
    EXPECT_EQ(filter->effective_dump_level(), 7);
    EXPECT_EQ(filter->warnings().size(), 2u);
    expect_cleared(apply(*filter, scenario), expected_exclusions(7, SectionTable::extreme));
}

TEST(PageFilter, NoPgPrivateDropsOnlyBitTwo) {
    ScenarioOptions options;
    options.drop_lines = {"NUMBER(PG_private)"};
    Scenario scenario(options);
    auto filter = scenario.create_filter(kDumpLevelCache | kDumpLevelUser);
    ASSERT_TRUE(filter);
    EXPECT_EQ(filter->effective_dump_level(), kDumpLevelUser);
    EXPECT_TRUE(contains(filter->warnings(), "dump level bit 2 dropped"));
}

TEST(PageFilter, FiveLevelPagingKernel) {
    // With la57 the direct map starts at 0xff11000000000000 and vmemmap at
    // 0xffd4000000000000: kernel addresses below 0xffff800000000000.
    ScenarioOptions options;
    options.paging_levels = 5;
    Scenario scenario(options);
    auto filter = scenario.create_filter(31);
    ASSERT_TRUE(filter) << filter.error().message;
    expect_cleared(apply(*filter, scenario), expected_exclusions(31, SectionTable::extreme));
}

TEST(PageFilter, DumpableFramesCountsWhatApplyExcludes) {
    Scenario scenario;
    auto filter = scenario.create_filter(31);
    ASSERT_TRUE(filter);
    DumpableFrames frames(scenario.vmcore().physical_ranges(), kPageSize, &*filter);
    const auto counts = frames.count(kMaxMapnr);
    const auto expected = expected_exclusions(31, SectionTable::extreme);
    EXPECT_EQ(counts.excluded_free, expected.counts.free);
    EXPECT_EQ(counts.excluded_cache, expected.counts.cache);
    EXPECT_EQ(counts.excluded_cache_private, expected.counts.cache_private);
    EXPECT_EQ(counts.excluded_user, expected.counts.user);
    EXPECT_EQ(counts.excluded_hwpoison, 1u);
    EXPECT_EQ(counts.excluded_offline, 1u);
    EXPECT_EQ(counts.dumpable, counts.total - expected.frames.size());
    for (uint64_t pfn : {frame::kFreeOrder0, frame::kThp + 7, frame::kKernel, frame::kLastBuddy}) {
        EXPECT_EQ(frames.is_dumpable(pfn), !expected.frames.count(pfn)) << pfn;
    }
}

// ---------------------------------------------------------------------------
// End to end: the kdump writer's 2nd bitmap, and crashcapture-save's record.

KernelIdentity identity_of(Scenario& scenario) {
    KernelIdentity identity;
    identity.phys_base = scenario.kernel().phys_base();
    identity.crash_time = SyntheticKernel::kCrashTime;
    identity.nr_cpus = scenario.vmcore().prstatus_count();
    identity.page_size = kPageSize;
    return identity;
}

TEST(PageFilter, KdumpSecondBitmapHoldsExactlyTheKeptFrames) {
    for (const auto& flavor : {linux_6_1(), linux_6_12()}) {
        SCOPED_TRACE(flavor.name);
        ScenarioOptions options;
        options.flavor = flavor;
        Scenario scenario(options);
        auto filter = scenario.create_filter(31);
        ASSERT_TRUE(filter);
        WriteOptions write;
        write.dump_level = 31;
        write.filter = &*filter;
        write.threads = 1;
        const auto path = scenario.dir().file("dump");
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd);
        auto sink = make_file_sink(std::move(fd), "dump");
        const auto outcome =
            write_kdump(scenario.vmcore(), identity_of(scenario), write, *sink, {});
        ASSERT_FALSE(outcome.error) << outcome.error->message;

        const auto expected = expected_exclusions(31, SectionTable::extreme);
        KdumpTestReader dump(read_whole_file(path));
        EXPECT_EQ(dump.sub_header<int32_t>(kdump::sub_header_offset::dump_level), 31);
        const PageWindow window = scenario.window();
        std::set<uint64_t> missing, extra;
        for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
            const bool present = (window.present[pfn / 8] >> (pfn % 8)) & 1;
            EXPECT_EQ(dump.present(pfn), present) << pfn;
            const bool want = present && !expected.frames.count(pfn);
            if (want && !dump.dumpable(pfn)) {
                missing.insert(pfn);
            }
            if (!want && dump.dumpable(pfn)) {
                extra.insert(pfn);
            }
        }
        EXPECT_EQ(hex_set(missing), "");
        EXPECT_EQ(hex_set(extra), "");
        EXPECT_EQ(outcome.pages.excluded_free, expected.counts.free);
        EXPECT_EQ(outcome.pages.excluded_user, expected.counts.user);
        EXPECT_EQ(outcome.pages.excluded_cache, expected.counts.cache);
        EXPECT_EQ(outcome.pages.excluded_cache_private, expected.counts.cache_private);
        EXPECT_EQ(outcome.pages.dumpable, dump.count_dumpable());
        // A kept page's contents are there: the struct page array itself.
        const auto desc = dump.desc(kMemMapPhys / kPageSize + 4);
        auto page = dump.page(desc);
        ASSERT_TRUE(page);
        const auto source = scenario.kernel().memory().page(kMemMapPhys / kPageSize + 4);
        EXPECT_TRUE(std::equal(page->begin(), page->end(), source.begin()));
    }
}

SaveOptions save_options(const Scenario& scenario) {
    SaveOptions o;
    o.input = scenario.vmcore_path();
    o.output_dir = scenario.dir().file("out");
    o.progress = ProgressMode::never;
    o.tool_version = "test";
    o.boot_id = "0123456789abcdef0123456789abcdef";
    o.write.dump_level = 31;
    o.write.threads = 1;
    return o;
}

DumpRecord saved_record(const Scenario& scenario) {
    auto r = read_dump_record(scenario.dir().file("out/status.json"));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : DumpRecord{};
}

TEST(PageFilter, SaveDumpFiltersAtLevel31) {
    Scenario scenario;
    auto result = save_dump(save_options(scenario));
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto r = saved_record(scenario);
    EXPECT_EQ(r.dump_level, 31);
    EXPECT_FALSE(contains(r.warnings, "page filter")) << ::testing::PrintToString(r.warnings);
    const auto expected = expected_exclusions(31, SectionTable::extreme);
    EXPECT_EQ(r.pages.excluded_free, expected.counts.free);
    EXPECT_EQ(r.pages.excluded_user, expected.counts.user);
    EXPECT_EQ(r.pages.excluded_hwpoison, 1u);
    KdumpTestReader dump(read_whole_file(scenario.dir().file("out/vmcore")));
    EXPECT_FALSE(dump.dumpable(frame::kLastBuddy));
    EXPECT_TRUE(dump.dumpable(frame::kKernel));
}

TEST(PageFilter, SaveDumpFallsBackWhenMemSectionLeadsNowhere) {
    ScenarioOptions options;
    options.mem_section_symbol = kNowhere;
    Scenario scenario(options);
    auto result = save_dump(save_options(scenario));
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto r = saved_record(scenario);
    EXPECT_EQ(r.dump_level, 1);
    EXPECT_TRUE(contains(r.warnings,
                         "page filter unavailable (cannot locate the struct page "
                         "array through mem_section): dump level 31 falls back to 1"))
        << ::testing::PrintToString(r.warnings);
    KdumpTestReader dump(read_whole_file(scenario.dir().file("out/vmcore")));
    EXPECT_EQ(dump.sub_header<int32_t>(kdump::sub_header_offset::dump_level), 1);
    // Nothing filtered: even the hwpoisoned frame is in.
    EXPECT_TRUE(dump.dumpable(frame::kLastBuddy));
    EXPECT_TRUE(dump.dumpable(frame::kHwpoison));
}

TEST(PageFilter, SaveDumpWarnsAboutUnreadableStructPages) {
    ScenarioOptions options;
    options.corrupt_section = true;
    Scenario scenario(options);
    auto result = save_dump(save_options(scenario));
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto r = saved_record(scenario);
    EXPECT_EQ(r.dump_level, 31);
    // One batch (section 240) is unreadable, however many passes read it.
    EXPECT_TRUE(contains(r.warnings, "1 batches of struct pages could not be read"))
        << ::testing::PrintToString(r.warnings);
    KdumpTestReader dump(read_whole_file(scenario.dir().file("out/vmcore")));
    EXPECT_TRUE(dump.dumpable(frame::kUnreadableBuddy));
}

TEST(PageFilter, SaveDumpDropsTheFreeBitWithAWarning) {
    ScenarioOptions options;
    options.drop_lines = {"NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)"};
    Scenario scenario(options);
    auto result = save_dump(save_options(scenario));
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto r = saved_record(scenario);
    EXPECT_EQ(r.dump_level, 15);
    EXPECT_TRUE(contains(r.warnings, "dump level bit 16 dropped"));
    EXPECT_EQ(r.pages.excluded_free, 0u);
}

}  // namespace
