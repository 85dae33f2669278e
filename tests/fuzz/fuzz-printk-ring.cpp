// The printk ring walk (printk-log.cpp) over a corrupt ring: the input
// replaces struct printk_ringbuffer, its descriptors and record infos in a
// synthetic 6.1 kernel (tests/unit/synthetic-vmcore.hpp), whose VMCOREINFO
// and page tables stay valid, so the walk itself is what gets fuzzed.
#include <algorithm>
#include <cstdint>

#include "fuzz-support.hpp"
#include "printk-log.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;

namespace {
// From struct printk_ringbuffer to the end of the infos array (one page).
constexpr uint64_t kRingPhys = SyntheticKernel::kImagePhys + SyntheticKernel::kRingOffset;
constexpr uint64_t kRingAreaEnd =
    SyntheticKernel::kImagePhys + SyntheticKernel::kInfosOffset + 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static SyntheticKernel kernel;
    static const auto info = *Vmcoreinfo::parse(kernel.vmcoreinfo());
    static const auto memory = *KernelAddressSpace::create(kernel.memory(), info, {});
    static const auto pristine = [] {
        const auto bytes = kernel.memory().bytes(kRingPhys, kRingAreaEnd - kRingPhys);
        return std::vector<std::byte>(bytes.begin(), bytes.end());
    }();
    const size_t used = std::min<size_t>(size, pristine.size());
    kernel.memory().write(kRingPhys, std::as_bytes(std::span(data, used)));
    if (auto log = extract_kernel_log(memory, info)) {
        (void)find_panic_line(log->text);
    }
    kernel.memory().write(kRingPhys, pristine);
    return 0;
}
