// The crashed kernel's virtual address space on x86_64: kernel-image
// addresses by arithmetic, everything else by walking its page tables
// (makedumpfile arch/x86_64.c vtop4_x86_64(), the kernel's
// arch/x86/include/asm/pgtable_64_types.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"
#include "vmcore-reader.hpp"
#include "vmcoreinfo.hpp"

namespace crashcapture {

class KernelAddressSpace {
  public:
    // Needs SYMBOL(init_top_pgt) (or init_level4_pgt / swapper_pg_dir) and a
    // phys_base: NUMBER(phys_base), else derived from a kernel-image PT_LOAD.
    static Result<KernelAddressSpace> create(const PhysicalMemory& memory,
                                             const Vmcoreinfo& vmcoreinfo,
                                             const std::vector<LoadSegment>& segments);

    Result<uint64_t> to_physical(uint64_t virt_addr) const;
    Status read(uint64_t virt_addr, std::span<std::byte> out) const;
    Result<uint64_t> read_u64(uint64_t virt_addr) const;
    Result<uint32_t> read_u32(uint64_t virt_addr) const;

    int64_t phys_base() const { return phys_base_; }
    int paging_levels() const { return paging_levels_; }
    const PhysicalMemory& physical_memory() const { return memory_; }

  private:
    KernelAddressSpace(const PhysicalMemory& memory) : memory_(memory) {}

    const PhysicalMemory& memory_;
    int64_t phys_base_ = 0;
    uint64_t top_table_phys_ = 0;
    int paging_levels_ = 4;
    uint64_t kernel_image_size_ = 0;
    uint64_t entry_address_mask_ = 0;
    // One-entry cache of the last translated page (4 KiB, 2 MiB or 1 GiB):
    // reads of a kernel structure, and the struct page array (mapped with
    // 2 MiB pages), touch the same page many times in a row.
    mutable uint64_t cached_virt_base_ = ~uint64_t{0};
    mutable uint64_t cached_size_ = 0;
    mutable uint64_t cached_phys_base_ = 0;
};

// __START_KERNEL_map (arch/x86/include/asm/page_64_types.h): the kernel image
// is linked at this address; image address - it + phys_base = physical.
inline constexpr uint64_t kStartKernelMap = 0xffffffff80000000ULL;

}  // namespace crashcapture
