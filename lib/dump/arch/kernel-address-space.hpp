// The crashed kernel's virtual address space, whatever its architecture:
// one translator per architecture (x86-64-address-space, arm64-address-space)
// chosen from the vmcore's ELF e_machine, behind one reader that the page
// filter, the printk ring and the utsname read share.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"
#include "vmcore-reader.hpp"
#include "vmcoreinfo.hpp"

namespace crashcapture {

// One translated page or block: virt_base .. virt_base + size maps to
// phys_base .. phys_base + size.
struct PageMapping {
    uint64_t virt_base = 0;
    uint64_t size = 0;
    uint64_t phys_base = 0;
};

// What one architecture knows about its kernel's address space.
class AddressTranslator {
  public:
    virtual ~AddressTranslator() = default;
    // The page (or block) that holds virt_addr.
    virtual Result<PageMapping> translate(uint64_t virt_addr) const = 0;
    // The lowest address of the kernel's half of the address space: a
    // pointer below it is not a kernel pointer.
    virtual uint64_t lowest_kernel_address() const = 0;
    // What the kdump sub-header calls phys_base (makedumpfile
    // info->phys_base): x86_64's phys_base, arm64's PHYS_OFFSET.
    virtual int64_t phys_base() const = 0;
    // The machine name the kernel reports (uname -m).
    virtual const char* machine() const = 0;
};

class KernelAddressSpace {
  public:
    // elf_machine: the vmcore's e_machine (EM_X86_64, EM_AARCH64).
    static Result<KernelAddressSpace> create(const PhysicalMemory& memory,
                                             const Vmcoreinfo& vmcoreinfo,
                                             const std::vector<LoadSegment>& segments,
                                             uint16_t elf_machine = kElfMachineX86_64);

    Result<uint64_t> to_physical(uint64_t virt_addr) const;
    Status read(uint64_t virt_addr, std::span<std::byte> out) const;
    Result<uint64_t> read_u64(uint64_t virt_addr) const;
    Result<uint32_t> read_u32(uint64_t virt_addr) const;

    int64_t phys_base() const { return translator_->phys_base(); }
    uint64_t lowest_kernel_address() const { return translator_->lowest_kernel_address(); }
    const char* machine() const { return translator_->machine(); }
    const PhysicalMemory& physical_memory() const { return *memory_; }
    const AddressTranslator& translator() const { return *translator_; }

    // EM_X86_64 and EM_AARCH64 (include/uapi/linux/elf-em.h).
    static constexpr uint16_t kElfMachineX86_64 = 62;
    static constexpr uint16_t kElfMachineAarch64 = 183;

  private:
    KernelAddressSpace(const PhysicalMemory& memory, std::unique_ptr<AddressTranslator> translator)
        : memory_(&memory), translator_(std::move(translator)) {}

    const PhysicalMemory* memory_;
    std::unique_ptr<AddressTranslator> translator_;
    // One-entry cache of the last translated page or block: reads of a
    // kernel structure, and the struct page array (mapped with 2 MiB
    // blocks), touch the same page many times in a row.
    mutable PageMapping cached_{~uint64_t{0}, 0, 0};
};

}  // namespace crashcapture
