// VMCOREINFO text (kernel/vmcore_info.c): KEY=value lines, parsed, then
// used the way save_dump() uses it: its SYMBOL/SIZE/OFFSET/LENGTH/NUMBER
// values drive address translation, the printk ring walk and the page
// filter over a synthetic 6.1 kernel whose memory stays valid
// (page-filter-fixture.hpp). Values that index memory without a bound are
// what this finds.
#include <cstdint>

#include "fuzz-support.hpp"
#include "page-filter-fixture.hpp"
#include "page-filter.hpp"
#include "printk-log.hpp"
#include "vmcoreinfo.hpp"

using namespace crashcapture;
using crashcapture::fuzz::PageFilterFixture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const PageFilterFixture fixture;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto info = Vmcoreinfo::parse(text);
    if (!info) {
        return 0;
    }
    (void)info->value("BUILD-ID");
    (void)info->kernel_offset();
    auto space = KernelAddressSpace::create(fixture.kernel().memory(), *info, {});
    if (!space) {
        return 0;
    }
    if (auto log = extract_kernel_log(*space, *info)) {
        (void)find_panic_line(log->text);
    }
    if (auto filter = PageFilter::create(*space, *info, PageFilterFixture::kFrames, 31)) {
        PageWindow window;
        window.end_pfn = PageFilterFixture::kFrames;
        window.present.assign(PageFilterFixture::kFrames / 8, 0xff);
        window.dumpable.assign(PageFilterFixture::kFrames / 8, 0xff);
        ExcludedPages excluded;
        filter->apply(window, excluded);
    }
    return 0;
}
