// VMCOREINFO text (kernel/vmcore_info.c): KEY=value lines, typed tables.
#include <cstdint>

#include "fuzz-support.hpp"
#include "vmcoreinfo.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto info = Vmcoreinfo::parse(text);
    if (!info) {
        return 0;
    }
    (void)info->symbol("prb");
    (void)info->offset("page.flags");
    (void)info->size("page");
    (void)info->length("mem_section");
    (void)info->number("phys_base");
    (void)info->value("BUILD-ID");
    (void)info->page_size();
    (void)info->kernel_offset();
    (void)info->crash_time();
    return 0;
}
