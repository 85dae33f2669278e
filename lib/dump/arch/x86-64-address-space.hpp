// The crashed kernel's virtual address space on x86_64: kernel-image
// addresses by arithmetic, everything else by walking its page tables
// (makedumpfile arch/x86_64.c vtop4_x86_64(), the kernel's
// arch/x86/include/asm/pgtable_64_types.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernel-address-space.hpp"

namespace crashcapture {

class X86_64Translator final : public AddressTranslator {
  public:
    // Needs SYMBOL(init_top_pgt) (or init_level4_pgt / swapper_pg_dir) and a
    // phys_base: NUMBER(phys_base), else derived from a kernel-image PT_LOAD.
    static Result<std::unique_ptr<X86_64Translator>> create(
        const PhysicalMemory& memory, const Vmcoreinfo& vmcoreinfo,
        const std::vector<LoadSegment>& segments);

    Result<PageMapping> translate(uint64_t virt_addr) const override;
    uint64_t lowest_kernel_address() const override;
    int64_t phys_base() const override { return phys_base_; }
    const char* machine() const override { return "x86_64"; }

    int paging_levels() const { return paging_levels_; }

  private:
    explicit X86_64Translator(const PhysicalMemory& memory) : memory_(memory) {}

    const PhysicalMemory& memory_;
    int64_t phys_base_ = 0;
    uint64_t top_table_phys_ = 0;
    int paging_levels_ = 4;
    uint64_t kernel_image_size_ = 0;
    uint64_t entry_address_mask_ = 0;
};

// __START_KERNEL_map (arch/x86/include/asm/page_64_types.h): the kernel image
// is linked at this address; image address - it + phys_base = physical.
inline constexpr uint64_t kStartKernelMap = 0xffffffff80000000ULL;

}  // namespace crashcapture
