// A synthetic Linux 6.1 kernel (tests/unit/synthetic-vmcore.hpp) with what
// the page filter reads: a flat SPARSEMEM mem_section array and the struct
// page array it points to, both in the direct map, and the VMCOREINFO that
// describes them (the struct page layout of tests/unit/dump/
// test-page-filter.cpp). fuzz-page-filter overwrites the two arrays;
// make-corpus puts them and the VMCOREINFO into vmcore seeds, so fuzz-vmcore
// and fuzz-save-dump reach the filter too.
#pragma once

#include <cstdint>
#include <string>

#include "synthetic-vmcore.hpp"

namespace crashcapture::fuzz {

class PageFilterFixture {
  public:
    // 8 MiB = 2048 frames in 256 sections of 8 frames (SECTION_SIZE_BITS 15,
    // MAX_PHYSMEM_BITS 23: NR_MEM_SECTIONS = 2^(23 - 15) = 256).
    static constexpr uint64_t kFrames = 2048;
    static constexpr uint64_t kSections = 256;
    static constexpr uint64_t kMemSectionSize = 16;  // struct mem_section, include/linux/mmzone.h
    static constexpr uint64_t kStructPageSize = 64;  // SIZE(page) on x86_64
    // Physical placement, clear of the kernel image (2-4 MiB) and the text
    // ring (near 5 MiB).
    static constexpr uint64_t kSectionsPhys = 0x600000;
    static constexpr uint64_t kSectionsBytes = kSections * kMemSectionSize;
    static constexpr uint64_t kMemMapPhys = 0x610000;
    static constexpr uint64_t kMemMapBytes = kFrames * kStructPageSize;

    PageFilterFixture();

    test::SyntheticKernel& kernel() { return kernel_; }
    const test::SyntheticKernel& kernel() const { return kernel_; }
    // The kernel's VMCOREINFO and the page filter's lines.
    const std::string& vmcoreinfo() const { return vmcoreinfo_; }

  private:
    test::SyntheticKernel kernel_;
    std::string vmcoreinfo_;
};

}  // namespace crashcapture::fuzz
