// arm64 address translation (arm64-address-space.cpp) over corrupt page
// tables and a corrupt translation setup. The input is:
//   byte 0      PAGESIZE: 4K, 16K or 64K (value % 3)
//   byte 1      NUMBER(VA_BITS): 36 + value % 17 (36..52; the kernel's
//               arch/arm64/Kconfig offers 36, 39, 42, 47, 48 and 52, the
//               others must be refused or handled, never trusted)
//   byte 2      NUMBER(TCR_EL1_T1SZ): absent when 0xff, else value % 64
//   byte 3      NUMBER(MAX_PHYSMEM_BITS): 48 or 52 (bit 0)
//   bytes 4-11  the virtual address to translate
//   the rest    physical memory from kMemoryPhys on, where swapper_pg_dir
//               is: the top table first, then whatever tables the
//               descriptors point at (up to kMemorySize)
// The translation must return an address or an error, never read outside
// the memory it was given, loop or crash, whatever the descriptors say.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz-support.hpp"
#include "kernel-address-space.hpp"
#include "vmcoreinfo.hpp"

using namespace crashcapture;

namespace {

using fuzz::kArm64HeaderSize;
constexpr uint64_t kMemoryPhys = fuzz::kArm64MemoryPhys;
constexpr size_t kMemorySize = fuzz::kArm64MemorySize;
// kimage_voffset as Debian 6.1 arm64 had it in a real vmcore: the kernel
// image's virtual minus physical addresses.
constexpr uint64_t kKimageVoffset = 0xffff800007e00000ULL;

// One physical range backed by a buffer; everything else is absent, as a
// vmcore's holes are.
class FlatMemory final : public PhysicalMemory {
  public:
    explicit FlatMemory(std::span<const std::byte> bytes) : bytes_(bytes) {}
    Status read_physical(uint64_t phys_addr, std::span<std::byte> out) const override {
        if (phys_addr < kMemoryPhys || phys_addr - kMemoryPhys > bytes_.size() ||
            out.size() > bytes_.size() - (phys_addr - kMemoryPhys)) {
            return make_error(EFAULT, "physical {:#x} is not in this memory", phys_addr);
        }
        std::memcpy(out.data(), bytes_.data() + (phys_addr - kMemoryPhys), out.size());
        return {};
    }

  private:
    std::span<const std::byte> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < kArm64HeaderSize) {
        return 0;
    }
    constexpr std::array<uint64_t, 3> kPageSizes{4096, 16384, 65536};
    const uint64_t page_size = kPageSizes[data[0] % 3];
    const int va_bits = 36 + data[1] % 17;
    const int max_physmem_bits = (data[3] & 1) ? 52 : 48;
    uint64_t address;
    std::memcpy(&address, data + 4, sizeof(address));

    std::string text = fmt::format(
        "PAGESIZE={}\nSYMBOL(swapper_pg_dir)={:x}\nNUMBER(VA_BITS)={}\n"
        "NUMBER(kimage_voffset)={:#x}\nNUMBER(PHYS_OFFSET)={:#x}\nNUMBER(MAX_PHYSMEM_BITS)={}\n",
        page_size, kMemoryPhys + kKimageVoffset, va_bits, kKimageVoffset, kMemoryPhys,
        max_physmem_bits);
    if (data[2] != 0xff) {
        text += fmt::format("NUMBER(TCR_EL1_T1SZ)={:#x}\n", data[2] % 64);
    }
    auto info = Vmcoreinfo::parse(text);
    if (!info) {
        return 0;
    }
    // One buffer for every input, zeroed where the last one wrote: a fresh
    // 1 MiB allocation per input costs ASan more than the whole walk.
    static std::vector<std::byte> bytes(kMemorySize);
    static size_t last_used = 0;
    const size_t used = std::min(size - kArm64HeaderSize, kMemorySize);
    std::memset(bytes.data() + used, 0, last_used > used ? last_used - used : 0);
    std::memcpy(bytes.data(), data + kArm64HeaderSize, used);
    last_used = used;
    FlatMemory memory(bytes);

    auto space =
        KernelAddressSpace::create(memory, *info, {}, KernelAddressSpace::kElfMachineAarch64);
    if (space) {
        (void)space->to_physical(address);
        static std::vector<std::byte> out(3 * kPageSizes.back());
        (void)space->read(address, std::span(out).first(3 * page_size));
        (void)space->read_u64(address + page_size);
        (void)space->lowest_kernel_address();
    }
    return 0;
}
