// The page filter (page-filter.cpp) over corrupt mem_section and struct
// page arrays: the input's first 4 KiB replace the 256 mem_section entries,
// the rest the struct pages of a synthetic 6.1 kernel
// (page-filter-fixture.hpp), whose VMCOREINFO stays valid.
#include <algorithm>
#include <cstdint>

#include "fuzz-support.hpp"
#include "page-filter-fixture.hpp"
#include "page-filter.hpp"

using namespace crashcapture;
using crashcapture::fuzz::PageFilterFixture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static PageFilterFixture fixture;
    static auto& memory = fixture.kernel().memory();
    static const auto info = *Vmcoreinfo::parse(fixture.vmcoreinfo());
    static const auto space = *KernelAddressSpace::create(memory, info, {});
    auto copy = [](uint64_t phys, uint64_t length) {
        const auto bytes = memory.bytes(phys, length);
        return std::vector<std::byte>(bytes.begin(), bytes.end());
    };
    static const auto pristine_sections =
        copy(PageFilterFixture::kSectionsPhys, PageFilterFixture::kSectionsBytes);
    static const auto pristine_mem_map =
        copy(PageFilterFixture::kMemMapPhys, PageFilterFixture::kMemMapBytes);

    const auto input = std::as_bytes(std::span(data, size));
    const auto sections = input.first(std::min<size_t>(size, PageFilterFixture::kSectionsBytes));
    const auto pages =
        input.subspan(sections.size())
            .first(std::min<size_t>(size - sections.size(), PageFilterFixture::kMemMapBytes));
    memory.write(PageFilterFixture::kSectionsPhys, sections);
    memory.write(PageFilterFixture::kMemMapPhys, pages);

    if (auto filter = PageFilter::create(space, info, PageFilterFixture::kFrames, 31)) {
        PageWindow window;
        window.start_pfn = 0;
        window.end_pfn = PageFilterFixture::kFrames;
        window.present.assign(PageFilterFixture::kFrames / 8, 0xff);
        window.dumpable.assign(PageFilterFixture::kFrames / 8, 0xff);
        ExcludedPages excluded;
        filter->apply(window, excluded);
    }
    memory.write(PageFilterFixture::kSectionsPhys, pristine_sections);
    memory.write(PageFilterFixture::kMemMapPhys, pristine_mem_map);
    return 0;
}
