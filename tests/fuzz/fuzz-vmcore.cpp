// The ELF vmcore as the capture kernel reads it: program headers, notes,
// overlapping PT_LOADs, VMCOREINFO, and then what save_dump() reads through
// it (address translation, the printk ring, the page filter's mem_section
// and struct pages, a window of frames), without writing a dump.
#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz-support.hpp"
#include "kernel-address-space.hpp"
#include "page-filter.hpp"
#include "printk-log.hpp"
#include "vmcore-reader.hpp"
#include "vmcoreinfo.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fuzz::MemoryFile file(data, size);
    auto vmcore = VmcoreFile::open(file.path());
    if (!vmcore) {
        return 0;
    }
    // The reader's contract, beyond not crashing: a table whose entries are
    // not Elf64_Phdr (ELF gABI e_phentsize) is refused, never read as one.
    Elf64_Ehdr ehdr;
    std::memcpy(&ehdr, data, sizeof(ehdr));  // open() succeeded: the header is there
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
        std::fprintf(stderr, "accepted e_phentsize %u\n", ehdr.e_phentsize);
        std::abort();
    }
    // Every chosen range's first and last frame, as the dump writers read them.
    std::vector<std::byte> frame(4096);
    for (const auto& range : vmcore->physical_ranges()) {
        (void)vmcore->read_frames(range.phys_start, frame);
        (void)vmcore->read_frames(range.phys_end - 1, frame);
    }
    auto info = Vmcoreinfo::parse(vmcore->vmcoreinfo_text());
    if (!info) {
        return 0;
    }
    auto memory = KernelAddressSpace::create(*vmcore, *info, vmcore->segments());
    if (!memory) {
        return 0;
    }
    if (auto log = extract_kernel_log(*memory, *info)) {
        (void)find_panic_line(log->text);
    }
    const uint64_t max_mapnr = (vmcore->max_physical_address() + 4095) / 4096;
    if (auto filter = PageFilter::create(*memory, *info, max_mapnr, 31)) {
        DumpableFrames frames(vmcore->physical_ranges(), 4096, &*filter);
        // The first window is where the synthetic kernels keep their memory.
        PageWindow window;
        window.end_pfn = std::min<uint64_t>(kFilterWindowPages, (max_mapnr + 7) & ~uint64_t{7});
        frames.fill(window, nullptr);
    }
    return 0;
}
