#include "kernel-address-space.hpp"

#include "arm64-address-space.hpp"
#include "x86-64-address-space.hpp"

namespace crashcapture {
namespace {

// The smallest page of any architecture we translate: reads step through
// the address space a page at a time at most this far apart.
constexpr uint64_t kSmallestPageSize = 4096;

}  // namespace

Result<KernelAddressSpace> KernelAddressSpace::create(const PhysicalMemory& memory,
                                                      const Vmcoreinfo& vmcoreinfo,
                                                      const std::vector<LoadSegment>& segments,
                                                      uint16_t elf_machine) {
    std::unique_ptr<AddressTranslator> translator;
    switch (elf_machine) {
        case kElfMachineX86_64: {
            auto x86 = X86_64Translator::create(memory, vmcoreinfo, segments);
            if (!x86) {
                return tl::unexpected(x86.error());
            }
            translator = std::move(*x86);
            break;
        }
        case kElfMachineAarch64: {
            auto arm64 = Arm64Translator::create(memory, vmcoreinfo, segments);
            if (!arm64) {
                return tl::unexpected(arm64.error());
            }
            translator = std::move(*arm64);
            break;
        }
        default:
            return make_error(0,
                              "ELF machine {} is neither x86_64 ({}) nor aarch64 ({}): no "
                              "address translation for it",
                              elf_machine, kElfMachineX86_64, kElfMachineAarch64);
    }
    return KernelAddressSpace(memory, std::move(translator));
}

Result<uint64_t> KernelAddressSpace::to_physical(uint64_t virt_addr) const {
    if (virt_addr - cached_.virt_base < cached_.size) {
        return cached_.phys_base + (virt_addr - cached_.virt_base);
    }
    auto mapping = translator_->translate(virt_addr);
    if (!mapping) {
        return tl::unexpected(mapping.error());
    }
    cached_ = *mapping;
    return mapping->phys_base + (virt_addr - mapping->virt_base);
}

Status KernelAddressSpace::read(uint64_t virt_addr, std::span<std::byte> out) const {
    // Translate page by page, but read physically contiguous stretches with
    // one call: the struct page array is contiguous over 2 MiB mappings.
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t start = virt_addr + done;
        auto phys_start = to_physical(start);
        if (!phys_start) {
            return tl::unexpected(phys_start.error());
        }
        size_t length = std::min<uint64_t>(out.size() - done,
                                           kSmallestPageSize - (start & (kSmallestPageSize - 1)));
        while (done + length < out.size()) {
            auto next = to_physical(start + length);
            if (!next || *next != *phys_start + length) {
                break;
            }
            length += std::min<uint64_t>(out.size() - done - length, kSmallestPageSize);
        }
        if (auto read = memory_->read_physical(*phys_start, out.subspan(done, length)); !read) {
            return propagate(read.error(), fmt::format("reading virtual address {:#x}", start));
        }
        done += length;
    }
    return {};
}

Result<uint64_t> KernelAddressSpace::read_u64(uint64_t virt_addr) const {
    uint64_t value = 0;
    if (auto read = this->read(virt_addr, std::as_writable_bytes(std::span(&value, 1))); !read) {
        return tl::unexpected(read.error());
    }
    return value;
}

Result<uint32_t> KernelAddressSpace::read_u32(uint64_t virt_addr) const {
    uint32_t value = 0;
    if (auto read = this->read(virt_addr, std::as_writable_bytes(std::span(&value, 1))); !read) {
        return tl::unexpected(read.error());
    }
    return value;
}

}  // namespace crashcapture
