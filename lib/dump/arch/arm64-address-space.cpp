#include "arm64-address-space.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace crashcapture {
namespace {

// Descriptor bits 1:0 (Arm ARM D8.3, arch/arm64/include/asm/pgtable-hwdef.h):
// bit 0 valid; at levels above the last, 0b11 is a table and 0b01 a block
// (PMD_TYPE_TABLE, PMD_TYPE_SECT); at the last level 0b11 is a page.
constexpr uint64_t kDescriptorValid = 1ULL << 0;
constexpr uint64_t kDescriptorTypeMask = 0b11;
constexpr uint64_t kDescriptorTable = 0b11;
constexpr uint64_t kDescriptorBlock = 0b01;

// 64 KiB pages with 52-bit physical addresses (FEAT_LPA): bits 51:48 of the
// address sit in entry bits 15:12 (PTE_ADDR_HIGH 0xf << 12, shift 36).
constexpr int kLpa64kHighShift = 12;
constexpr uint64_t kLpa64kHighMask = 0xf;
// 4K and 16K pages with FEAT_LPA2: bits 51:50 in entry bits 9:8
// (PTE_ADDR_HIGH 0x3 << 8, shift 42), the low part up to bit 49.
constexpr int kLpa2HighShift = 8;
constexpr uint64_t kLpa2HighMask = 0x3;

// Bits of virtual address the kernel can be built for (arch/arm64/Kconfig
// ARM64_VA_BITS_36 .. ARM64_VA_BITS_52).
constexpr int kMinVaBits = 36;
constexpr int kMaxVaBits = 52;

uint64_t low_bits(int count) {
    return count >= 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
}

// Levels of translation for a VA size and granule: each level resolves
// page_shift - 3 bits above the page offset (ARM64_HW_PGTABLE_LEVELS()).
int levels_for(int va_bits, int page_shift) {
    const int bits_per_level = page_shift - 3;
    return (va_bits - page_shift + bits_per_level - 1) / bits_per_level;
}

// Shift of the index of hardware level n, -1 .. 3
// (ARM64_HW_PGTABLE_LEVEL_SHIFT(n) = (PAGE_SHIFT - 3) * (4 - n) + 3).
int level_shift(int level, int page_shift) {
    return (page_shift - 3) * (4 - level) + 3;
}

// makedumpfile get_va_bits_from_stext_arm64(): kernels before VMCOREINFO
// had NUMBER(VA_BITS) (4.12) link _stext in the top 2^VA_BITS bytes.
std::optional<int> va_bits_from_stext(uint64_t stext) {
    for (int bits : {48, 47, 42, 39, 36}) {
        const uint64_t top = ~low_bits(bits);
        if ((stext & top) == top) {
            return bits;
        }
    }
    return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<Arm64Translator>> Arm64Translator::create(
    const PhysicalMemory& memory, const Vmcoreinfo& vmcoreinfo,
    const std::vector<LoadSegment>& segments) {
    std::unique_ptr<Arm64Translator> translator(new Arm64Translator(memory));
    Arm64Translator& t = *translator;

    const uint64_t page_size = vmcoreinfo.page_size().value_or(0);
    if (page_size != 4096 && page_size != 16384 && page_size != 65536) {
        return make_error(0, "VMCOREINFO PAGESIZE={} is not an arm64 granule (4K, 16K, 64K)",
                          page_size);
    }
    t.page_shift_ = std::countr_zero(page_size);

    if (auto va_bits = vmcoreinfo.number("VA_BITS")) {
        if (*va_bits < kMinVaBits || *va_bits > kMaxVaBits) {
            return make_error(0, "VMCOREINFO NUMBER(VA_BITS)={} is not {} to {}", *va_bits,
                              kMinVaBits, kMaxVaBits);
        }
        t.va_bits_ = static_cast<int>(*va_bits);
    } else if (auto stext = vmcoreinfo.symbol("_stext"); stext && va_bits_from_stext(*stext)) {
        t.va_bits_ = *va_bits_from_stext(*stext);
    } else {
        return make_error(0, "VMCOREINFO has no NUMBER(VA_BITS) and no usable SYMBOL(_stext)");
    }
    // The VA size in use: a kernel built for 52 bits runs with 48 where the
    // CPU lacks FEAT_LVA/LPA2 (arch/arm64/mm/mmu.c vabits_actual); T1SZ is
    // exported since 5.9 (makedumpfile get_versiondep_info_arm64()).
    t.vabits_actual_ = t.va_bits_;
    if (auto t1sz = vmcoreinfo.number("TCR_EL1_T1SZ")) {
        if (*t1sz < 64 - kMaxVaBits || *t1sz > 64 - kMinVaBits) {
            return make_error(0, "VMCOREINFO NUMBER(TCR_EL1_T1SZ)={:#x} is not {:#x} to {:#x}",
                              *t1sz, 64 - kMaxVaBits, 64 - kMinVaBits);
        }
        t.vabits_actual_ = 64 - static_cast<int>(*t1sz);
    } else if (auto mem_section = vmcoreinfo.symbol("mem_section");
               t.va_bits_ == 52 && mem_section) {
        // 5.4 - 5.8: the 48-bit linear map has bit 51 set, the 52-bit one not.
        t.vabits_actual_ = (*mem_section & (1ULL << (t.va_bits_ - 1))) ? 48 : 52;
    }
    t.levels_ = levels_for(t.vabits_actual_, t.page_shift_);
    if (t.levels_ < 2 || t.levels_ > 5) {
        return make_error(0, "{}-bit virtual addresses with {} KiB pages: {} levels",
                          t.vabits_actual_, page_size / 1024, t.levels_);
    }
    const int top_shift = level_shift(4 - t.levels_, t.page_shift_);
    // swapper_pg_dir is laid out for the VA size the kernel was built for.
    // Where the CPU gives it fewer bits with as many levels (52-bit 64K or
    // 16K on a 48-bit CPU), TTBR1 points into it past the entries the CPU
    // cannot reach (TTBR1_BADDR_4852_OFFSET); a sign-extended address
    // indexed by the built-for size lands on the same entry. Where the CPU
    // has fewer levels (4K, 52 bits built, 48 run), the top level is folded
    // away and swapper_pg_dir is indexed by the bits in use.
    const int index_va_bits = levels_for(t.va_bits_, t.page_shift_) == t.levels_
                                  ? std::max(t.va_bits_, t.vabits_actual_)
                                  : t.vabits_actual_;
    t.top_index_bits_ = index_va_bits - top_shift;
    if (t.top_index_bits_ <= 0 || t.top_index_bits_ > t.page_shift_ - 3 + 4) {
        return make_error(0, "{} index bits at the top of the page tables", t.top_index_bits_);
    }

    if (vmcoreinfo.number("MAX_PHYSMEM_BITS").value_or(48) == 52) {
        t.high_bits_ = t.page_shift_ == 16 ? HighAddressBits::lpa_64k : HighAddressBits::lpa2;
    }
    t.phys_offset_ = vmcoreinfo.number("PHYS_OFFSET").value_or(0);

    const auto swapper = vmcoreinfo.symbol("swapper_pg_dir");
    if (!swapper) {
        return make_error(0, "VMCOREINFO has no SYMBOL(swapper_pg_dir): cannot walk page tables");
    }
    if (auto kimage_voffset = vmcoreinfo.number("kimage_voffset")) {
        // __pa_symbol(): kernel-image addresses are physical + kimage_voffset.
        const auto voffset = static_cast<uint64_t>(*kimage_voffset);
        t.top_table_phys_ = *swapper - voffset;
        for (const auto& segment : segments) {
            if (segment.virt_start >= t.lowest_kernel_address() && segment.mem_size != 0 &&
                segment.virt_start - voffset == segment.phys_start &&
                segment.virt_start <= *swapper &&
                *swapper - segment.virt_start < segment.mem_size) {
                t.kernel_image_ = {segment.virt_start, segment.mem_size, segment.phys_start};
                break;
            }
        }
    } else if (auto phys_offset = vmcoreinfo.number("PHYS_OFFSET")) {
        // Before 4.6 the image sat in the linear map (__pa(), makedumpfile):
        // linear address & ~PAGE_OFFSET, plus PHYS_OFFSET.
        t.top_table_phys_ =
            (*swapper & low_bits(t.vabits_actual_ - 1)) + static_cast<uint64_t>(*phys_offset);
    } else {
        return make_error(0,
                          "VMCOREINFO has neither NUMBER(kimage_voffset) nor NUMBER(PHYS_OFFSET): "
                          "cannot locate swapper_pg_dir");
    }
    std::array<std::byte, 8> probe{};
    if (auto read = memory.read_physical(t.top_table_phys_, probe); !read) {
        return propagate(read.error(),
                         fmt::format("swapper_pg_dir at physical {:#x}", t.top_table_phys_));
    }
    return translator;
}

uint64_t Arm64Translator::entry_address(uint64_t entry) const {
    switch (high_bits_) {
        case HighAddressBits::lpa_64k:
            return (entry & low_bits(48) & ~low_bits(page_shift_)) |
                   (((entry >> kLpa64kHighShift) & kLpa64kHighMask) << 48);
        case HighAddressBits::lpa2:
            return (entry & low_bits(50) & ~low_bits(page_shift_)) |
                   (((entry >> kLpa2HighShift) & kLpa2HighMask) << 50);
        case HighAddressBits::none:
            break;
    }
    return entry & low_bits(48) & ~low_bits(page_shift_);
}

uint64_t Arm64Translator::lowest_kernel_address() const {
    // TTBR1 covers the top 2^vabits_actual bytes (Documentation/arch/arm64/memory.rst).
    return ~low_bits(vabits_actual_);
}

Result<PageMapping> Arm64Translator::translate(uint64_t virt_addr) const {
    if (virt_addr < lowest_kernel_address()) {
        return make_error(EFAULT, "{:#x} is not a kernel address ({}-bit, from {:#x})", virt_addr,
                          vabits_actual_, lowest_kernel_address());
    }
    if (virt_addr - kernel_image_.virt_base < kernel_image_.size) {
        return kernel_image_;
    }
    const int first_level = 4 - levels_;
    uint64_t table = top_table_phys_;
    for (int level = first_level; level <= 3; ++level) {
        const int shift = level_shift(level, page_shift_);
        const int index_bits = level == first_level ? top_index_bits_ : page_shift_ - 3;
        const uint64_t index = (virt_addr >> shift) & low_bits(index_bits);
        std::array<std::byte, 8> raw{};
        if (auto read = memory_.read_physical(table + index * 8, raw); !read) {
            return propagate(
                read.error(),
                fmt::format("translating {:#x}: reading a level-{} table", virt_addr, level));
        }
        uint64_t entry;
        std::memcpy(&entry, raw.data(), sizeof(entry));
        if (!(entry & kDescriptorValid)) {
            return make_error(EFAULT, "virtual address {:#x} is not mapped (level-{} entry {:#x})",
                              virt_addr, level, entry);
        }
        const uint64_t type = entry & kDescriptorTypeMask;
        const uint64_t next = entry_address(entry);
        if (level == 3 || type == kDescriptorBlock) {
            if (level == 3 && type != kDescriptorTable) {
                return make_error(EFAULT, "virtual address {:#x}: level-3 entry {:#x} is reserved",
                                  virt_addr, entry);
            }
            const uint64_t page_mask = low_bits(shift);
            return PageMapping{virt_addr & ~page_mask, page_mask + 1, next & ~page_mask};
        }
        table = next;
    }
    return make_error(EFAULT, "virtual address {:#x}: page-table walk did not end", virt_addr);
}

}  // namespace crashcapture
