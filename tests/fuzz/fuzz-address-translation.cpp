// x86_64 address translation (x86-64-address-space.cpp) over a corrupt
// page-table image: the input's first 8 bytes are a virtual address, the
// rest replaces the synthetic kernel's page tables (init_top_pgt and the 15
// table pages after it, tests/unit/synthetic-vmcore.hpp).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fuzz-support.hpp"
#include "synthetic-vmcore.hpp"
#include "x86-64-address-space.hpp"

using namespace crashcapture;
using namespace crashcapture::test;

namespace {
constexpr uint64_t kTablesPhys = SyntheticKernel::kImagePhys + SyntheticKernel::kTopTableOffset;
constexpr uint64_t kTablesSize = 16 * 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static SyntheticKernel kernel;
    static const auto info = *Vmcoreinfo::parse(kernel.vmcoreinfo());
    static const auto pristine = [] {
        const auto bytes = kernel.memory().bytes(kTablesPhys, kTablesSize);
        return std::vector<std::byte>(bytes.begin(), bytes.end());
    }();
    if (size < sizeof(uint64_t)) {
        return 0;
    }
    uint64_t address;
    std::memcpy(&address, data, sizeof(address));
    const size_t used = std::min<size_t>(size - sizeof(address), kTablesSize);
    kernel.memory().write(kTablesPhys, std::as_bytes(std::span(data + sizeof(address), used)));
    // A fresh space per input: its one-entry cache must not outlive the tables.
    auto space = KernelAddressSpace::create(kernel.memory(), info, {});
    if (space) {
        (void)space->to_physical(address);
        std::vector<std::byte> out(3 * 4096);
        (void)space->read(address, out);
        (void)space->read_u64(kernel.direct_map(0x100000));
    }
    kernel.memory().write(kTablesPhys, pristine);
    return 0;
}
