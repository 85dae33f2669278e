// The crashed kernel's virtual address space on arm64, from VMCOREINFO alone
// (arch/arm64/kernel/vmcore_info.c exports VA_BITS, TCR_EL1_T1SZ,
// kimage_voffset, PHYS_OFFSET and MAX_PHYSMEM_BITS): every address by walking
// swapper_pg_dir, whose physical address comes from kimage_voffset
// (__pa_symbol(), arch/arm64/include/asm/memory.h). 4K, 16K and 64K pages;
// 2 to 5 levels; block mappings; 52-bit physical addresses in both encodings
// (64K pages' FEAT_LPA and 4K/16K pages' FEAT_LPA2). Read beside
// makedumpfile's arch/arm64.c and crash's arm64.c.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernel-address-space.hpp"

namespace crashcapture {

class Arm64Translator final : public AddressTranslator {
  public:
    // Needs PAGESIZE, SYMBOL(swapper_pg_dir), NUMBER(VA_BITS) and
    // NUMBER(kimage_voffset) or NUMBER(PHYS_OFFSET). segments: the vmcore's
    // PT_LOADs; the one of the kernel image is translated by arithmetic.
    static Result<std::unique_ptr<Arm64Translator>> create(
        const PhysicalMemory& memory, const Vmcoreinfo& vmcoreinfo,
        const std::vector<LoadSegment>& segments = {});

    Result<PageMapping> translate(uint64_t virt_addr) const override;
    uint64_t lowest_kernel_address() const override;
    // PHYS_OFFSET (memstart_addr): what makedumpfile writes as phys_base.
    int64_t phys_base() const override { return phys_offset_; }
    const char* machine() const override { return "aarch64"; }

    int page_shift() const { return page_shift_; }
    int va_bits() const { return va_bits_; }
    int va_bits_in_use() const { return vabits_actual_; }
    int levels() const { return levels_; }
    uint64_t top_table_phys() const { return top_table_phys_; }

  private:
    explicit Arm64Translator(const PhysicalMemory& memory) : memory_(memory) {}
    uint64_t entry_address(uint64_t entry) const;

    const PhysicalMemory& memory_;
    int page_shift_ = 12;
    int va_bits_ = 48;        // CONFIG_ARM64_VA_BITS
    int vabits_actual_ = 48;  // what the hardware gave it: 64 - TCR_EL1.T1SZ
    int levels_ = 4;
    int top_index_bits_ = 9;
    int64_t phys_offset_ = 0;
    uint64_t top_table_phys_ = 0;
    // The kernel image's PT_LOAD (kexec-tools and the kernel's own elfcorehdr
    // give it vaddr _text, paddr __pa_symbol(_text)): physical = virtual -
    // kimage_voffset, no walk. The kernel log is read through it even when
    // the page tables are lost (a vmcore truncated before them).
    PageMapping kernel_image_{~uint64_t{0}, 0, 0};
    // How an entry encodes bits 48-51 of a 52-bit physical address.
    enum class HighAddressBits { none, lpa_64k, lpa2 } high_bits_ = HighAddressBits::none;
};

}  // namespace crashcapture
