#include "x86-64-address-space.hpp"

#include <array>
#include <cstring>

namespace crashcapture {
namespace {

// Page-table entry bits (arch/x86/include/asm/pgtable_types.h).
constexpr uint64_t kPagePresent = 1ULL << 0;  // _PAGE_BIT_PRESENT
constexpr uint64_t kPageLarge = 1ULL << 7;    // _PAGE_BIT_PSE: 2 MiB (PMD) / 1 GiB (PUD) page
// Physical address bits 12..51 of an entry (makedumpfile ENTRY_MASK
// ~0xfff0000000000fff: drops flags and NX).
constexpr uint64_t kEntryAddressMask = 0x000ffffffffff000ULL;

// KERNEL_IMAGE_SIZE is 1 GiB with KASLR (page_64_types.h); VMCOREINFO
// reports it as NUMBER(KERNEL_IMAGE_SIZE).
constexpr uint64_t kDefaultKernelImageSize = 1ULL << 30;

// Shift of the index at each level, top first (pgtable_64_types.h:
// PGDIR_SHIFT 48 with 5 levels / P4D_SHIFT 39, PUD_SHIFT 30, PMD_SHIFT 21, PAGE_SHIFT 12).
constexpr std::array<int, 5> kLevelShifts{48, 39, 30, 21, 12};

}  // namespace

Result<std::unique_ptr<X86_64Translator>> X86_64Translator::create(
    const PhysicalMemory& memory, const Vmcoreinfo& vmcoreinfo,
    const std::vector<LoadSegment>& segments) {
    std::unique_ptr<X86_64Translator> translator(new X86_64Translator(memory));
    X86_64Translator& space = *translator;
    if (auto phys_base = vmcoreinfo.phys_base()) {
        space.phys_base_ = *phys_base;
    } else {
        // makedumpfile get_phys_base_x86_64(): a PT_LOAD of the kernel image.
        bool found = false;
        for (const auto& segment : segments) {
            if (segment.virt_start >= kStartKernelMap) {
                space.phys_base_ = static_cast<int64_t>(segment.phys_start) -
                                   static_cast<int64_t>(segment.virt_start - kStartKernelMap);
                found = true;
                break;
            }
        }
        if (!found) {
            return make_error(0,
                              "VMCOREINFO has no NUMBER(phys_base) and no PT_LOAD maps the "
                              "kernel image: cannot locate the kernel");
        }
    }
    std::optional<uint64_t> top_table;
    for (const char* name : {"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"}) {
        if ((top_table = vmcoreinfo.symbol(name))) {
            break;
        }
    }
    if (!top_table) {
        return make_error(0, "VMCOREINFO has no SYMBOL(init_top_pgt): cannot walk page tables");
    }
    if (*top_table < kStartKernelMap) {
        return make_error(0, "SYMBOL(init_top_pgt)={:#x} is not a kernel-image address",
                          *top_table);
    }
    space.top_table_phys_ = *top_table - kStartKernelMap + static_cast<uint64_t>(space.phys_base_);
    space.kernel_image_size_ = static_cast<uint64_t>(
        vmcoreinfo.number("KERNEL_IMAGE_SIZE").value_or(kDefaultKernelImageSize));
    space.paging_levels_ = vmcoreinfo.number("pgtable_l5_enabled").value_or(0) != 0 ? 5 : 4;
    // AMD SME sets the encryption bit in entries; it is not part of the address.
    space.entry_address_mask_ =
        kEntryAddressMask & ~static_cast<uint64_t>(vmcoreinfo.number("sme_mask").value_or(0));
    return translator;
}

uint64_t X86_64Translator::lowest_kernel_address() const {
    // The upper half of the canonical address space
    // (Documentation/arch/x86/x86_64/mm.rst), 48-bit or 57-bit.
    return paging_levels_ == 5 ? 0xff00000000000000ULL : 0xffff800000000000ULL;
}

Result<PageMapping> X86_64Translator::translate(uint64_t virt_addr) const {
    // Kernel text and data: a fixed offset, no walk needed (__phys_addr_nodebug()).
    if (virt_addr >= kStartKernelMap && virt_addr - kStartKernelMap < kernel_image_size_) {
        return PageMapping{kStartKernelMap, kernel_image_size_, static_cast<uint64_t>(phys_base_)};
    }
    uint64_t table = top_table_phys_;
    const size_t first_level = paging_levels_ == 5 ? 0 : 1;
    for (size_t level = first_level; level < kLevelShifts.size(); ++level) {
        const int shift = kLevelShifts[level];
        const uint64_t index = (virt_addr >> shift) & 0x1ff;  // 512 entries per table
        std::array<std::byte, 8> raw{};
        if (auto read = memory_.read_physical(table + index * 8, raw); !read) {
            return propagate(read.error(),
                             fmt::format("translating {:#x}: reading a page table", virt_addr));
        }
        uint64_t entry;
        std::memcpy(&entry, raw.data(), sizeof(entry));
        if (!(entry & kPagePresent)) {
            return make_error(EFAULT, "virtual address {:#x} is not mapped (level-{} entry {:#x})",
                              virt_addr, kLevelShifts.size() - level, entry);
        }
        const uint64_t next = entry & entry_address_mask_;
        // PUD (shift 30) or PMD (shift 21) with PSE: a 1 GiB or 2 MiB page.
        if (((shift == 30 || shift == 21) && (entry & kPageLarge)) || shift == 12) {
            const uint64_t page_mask = (1ULL << shift) - 1;
            return PageMapping{virt_addr & ~page_mask, page_mask + 1, next & ~page_mask};
        }
        table = next;
    }
    return make_error(EFAULT, "virtual address {:#x}: page-table walk did not end", virt_addr);
}

}  // namespace crashcapture
