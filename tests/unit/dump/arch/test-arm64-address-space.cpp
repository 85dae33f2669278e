#include "arm64-address-space.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>

using namespace crashcapture;
using ::testing::HasSubstr;

namespace {

// Physical memory as a sparse set of pages, zero-filled where nothing was
// written: room for hand-made page tables anywhere in a 52-bit space.
class SparseMemory final : public PhysicalMemory {
  public:
    explicit SparseMemory(uint64_t page_size) : page_size_(page_size) {}
    Status read_physical(uint64_t phys_addr, std::span<std::byte> out) const override {
        for (size_t done = 0; done < out.size();) {
            const uint64_t at = phys_addr + done;
            const uint64_t offset = at % page_size_;
            const size_t chunk = std::min<uint64_t>(out.size() - done, page_size_ - offset);
            auto page = pages_.find(at - offset);
            if (page == pages_.end()) {
                return make_error(EFAULT, "physical {:#x} is not in this memory", at);
            }
            std::memcpy(out.data() + done, page->second.data() + offset, chunk);
            done += chunk;
        }
        return {};
    }
    void add_page(uint64_t phys) { pages_.try_emplace(phys, std::vector<std::byte>(page_size_)); }
    void write_u64(uint64_t phys, uint64_t value) {
        add_page(phys - phys % page_size_);
        std::memcpy(pages_[phys - phys % page_size_].data() + phys % page_size_, &value,
                    sizeof(value));
    }

  private:
    uint64_t page_size_;
    std::map<uint64_t, std::vector<std::byte>> pages_;
};

enum class Encoding { pa48, lpa_64k, lpa2 };

// arm64 page tables built by hand, the way the kernel lays them out
// (arch/arm64/include/asm/pgtable-hwdef.h): table descriptors 0b11, block
// descriptors 0b01, pages 0b11 at the last level; 52-bit addresses encoded
// per FEAT_LPA (64K) or FEAT_LPA2 (4K/16K).
class Arm64Tables {
  public:
    Arm64Tables(int page_shift, int levels, int top_index_bits, Encoding encoding,
                uint64_t first_table_phys)
        : memory_(uint64_t{1} << page_shift),
          page_shift_(page_shift),
          levels_(levels),
          top_index_bits_(top_index_bits),
          encoding_(encoding),
          next_table_(first_table_phys) {
        top_ = allocate_table();
    }
    SparseMemory& memory() { return memory_; }
    uint64_t top_table() const { return top_; }

    // Maps virt to phys with a leaf at hardware level leaf_level (3 = page,
    // 2 or 1 = block).
    void map(uint64_t virt, uint64_t phys, int leaf_level) {
        uint64_t table = top_;
        for (int level = 4 - levels_; level <= leaf_level; ++level) {
            const int shift = (page_shift_ - 3) * (4 - level) + 3;
            const int bits = level == 4 - levels_ ? top_index_bits_ : page_shift_ - 3;
            const uint64_t slot = table + ((virt >> shift) & ((uint64_t{1} << bits) - 1)) * 8;
            if (level == leaf_level) {
                memory_.write_u64(slot, encode(phys) | (level == 3 ? 0b11 : 0b01) | kAttributes);
                return;
            }
            auto existing = tables_.find(slot);
            if (existing == tables_.end()) {
                existing = tables_.emplace(slot, allocate_table()).first;
                memory_.write_u64(slot, encode(existing->second) | 0b11);
            }
            table = existing->second;
        }
    }

  private:
    // AF and inner-shareable bits, as the kernel sets them on its mappings
    // (PTE_AF bit 10, PTE_SHARED bits 9:8): they must not leak into an
    // address except where LPA2 gives bits 9:8 to the address.
    static constexpr uint64_t kAttributes = (1ULL << 10);

    uint64_t allocate_table() {
        const uint64_t table = next_table_;
        next_table_ += uint64_t{1} << page_shift_;
        memory_.add_page(table);
        return table;
    }
    uint64_t encode(uint64_t phys) const {
        switch (encoding_) {
            case Encoding::lpa_64k:
                return (phys & ((uint64_t{1} << 48) - 1)) | ((phys >> 48) & 0xf) << 12;
            case Encoding::lpa2:
                return (phys & ((uint64_t{1} << 50) - 1)) | ((phys >> 50) & 0x3) << 8;
            case Encoding::pa48:
                break;
        }
        // Without LPA2, bits 9:8 are shareability: inner shareable (0b11).
        return phys | (0b11ULL << 8);
    }

    SparseMemory memory_;
    int page_shift_;
    int levels_;
    int top_index_bits_;
    Encoding encoding_;
    uint64_t next_table_;
    uint64_t top_;
    std::map<uint64_t, uint64_t> tables_;  // slot -> next-level table
};

Vmcoreinfo parse(const std::string& text) {
    auto info = Vmcoreinfo::parse(text);
    EXPECT_TRUE(info);
    return *info;
}

// swapper_pg_dir as a kernel-image symbol: physical + kimage_voffset.
constexpr uint64_t kKimageVoffset = 0xffff800007e00000ULL;

std::string vmcoreinfo(uint64_t page_size, int va_bits, std::optional<int> t1sz,
                       uint64_t swapper_phys, int max_physmem_bits = 48,
                       const char* phys_offset = "0xffffc2d540000000") {
    std::string text = fmt::format(
        "PAGESIZE={}\nSYMBOL(swapper_pg_dir)={:x}\nNUMBER(VA_BITS)={}\n"
        "NUMBER(kimage_voffset)={:#x}\nNUMBER(PHYS_OFFSET)={}\nNUMBER(MAX_PHYSMEM_BITS)={}\n",
        page_size, swapper_phys + kKimageVoffset, va_bits, kKimageVoffset, phys_offset,
        max_physmem_bits);
    if (t1sz) {
        text += fmt::format("NUMBER(TCR_EL1_T1SZ)={:#x}\n", *t1sz);
    }
    return text;
}

Result<uint64_t> translate(const KernelAddressSpace& space, uint64_t virt) {
    return space.to_physical(virt);
}

TEST(Arm64AddressSpace, FourKilobytePages48BitsPagesAndBlocks) {
    // Debian 6.1 arm64: 4K pages, VA_BITS 48, T1SZ 0x10, 4 levels.
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    const uint64_t vmemmap_block = 0xfffffc0000200000ULL;
    const uint64_t linear_gig = 0xffff000040000000ULL;
    const uint64_t image_page = 0xffff800008a51000ULL;
    tables.map(vmemmap_block, 0x7fe00000, 2);  // 2 MiB block
    tables.map(linear_gig, 0x80000000, 1);     // 1 GiB block
    tables.map(image_page, 0x40a51000, 3);     // 4 KiB page
    auto info = parse(vmcoreinfo(4096, 48, 0x10, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_STREQ(space->machine(), "aarch64");
    EXPECT_EQ(space->phys_base(), static_cast<int64_t>(0xffffc2d540000000ULL));
    EXPECT_EQ(space->lowest_kernel_address(), 0xffff000000000000ULL);
    const auto& arm64 = dynamic_cast<const Arm64Translator&>(space->translator());
    EXPECT_EQ(arm64.levels(), 4);
    EXPECT_EQ(arm64.top_table_phys(), tables.top_table());

    EXPECT_EQ(translate(*space, vmemmap_block + 0x12345).value_or(0), 0x7fe12345u);
    EXPECT_EQ(translate(*space, linear_gig + 0x3fffffff).value_or(0), 0xbfffffffu);
    EXPECT_EQ(translate(*space, image_page + 0x10).value_or(0), 0x40a51010u);
    // The next page was never mapped.
    auto unmapped = translate(*space, image_page + 0x1000);
    ASSERT_FALSE(unmapped);
    EXPECT_THAT(unmapped.error().message, HasSubstr("not mapped"));
    // A user-half address is not the kernel's.
    auto user = translate(*space, 0x0000ffff00001000ULL);
    ASSERT_FALSE(user);
    EXPECT_THAT(user.error().message, HasSubstr("not a kernel address"));
}

TEST(Arm64AddressSpace, ReadsSpanPagesThatArePhysicallyApart) {
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    const uint64_t first = 0xffff800010000000ULL;
    tables.map(first, 0x50000000, 3);
    tables.map(first + 0x1000, 0x60000000, 3);
    tables.memory().write_u64(0x50000ff8, 0x1111111111111111ULL);
    tables.memory().write_u64(0x60000000, 0x2222222222222222ULL);
    auto info = parse(vmcoreinfo(4096, 48, 0x10, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    std::array<uint64_t, 2> words{};
    ASSERT_TRUE(space->read(first + 0xff8, std::as_writable_bytes(std::span(words))));
    EXPECT_EQ(words[0], 0x1111111111111111ULL);
    EXPECT_EQ(words[1], 0x2222222222222222ULL);
}

TEST(Arm64AddressSpace, FourKilobytePagesWith52BitsAndLpa2HasFiveLevels) {
    // Debian 6.12 on a CPU with LPA2: VA_BITS 52, T1SZ 0xc, 5 levels, the
    // top table 16 entries; physical bits 51:50 in entry bits 9:8.
    Arm64Tables tables(12, 5, 4, Encoding::lpa2, 0x40100000);
    const uint64_t linear = 0xfff0000012345000ULL;
    const uint64_t high_phys = 0x000c123456789000ULL;  // above 2^50
    tables.map(linear, high_phys, 3);
    auto info = parse(vmcoreinfo(4096, 52, 0xc, tables.top_table(), 52, "0x40000000"));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(dynamic_cast<const Arm64Translator&>(space->translator()).levels(), 5);
    EXPECT_EQ(space->lowest_kernel_address(), 0xfff0000000000000ULL);
    EXPECT_EQ(translate(*space, linear + 0x42).value_or(0), high_phys + 0x42);
}

TEST(Arm64AddressSpace, BuiltFor52BitsRunningOn48FoldsTheTopLevel) {
    // Debian 6.12 on a CPU without LPA2: VMCOREINFO says VA_BITS 52, T1SZ
    // says 48 are in use; 4 levels, entries in the 48-bit format whose bits
    // 9:8 are shareability, not address.
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    const uint64_t linear = 0xffff000000123000ULL;
    tables.map(linear, 0x40123000, 3);
    auto info = parse(vmcoreinfo(4096, 52, 0x10, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    const auto& arm64 = dynamic_cast<const Arm64Translator&>(space->translator());
    EXPECT_EQ(arm64.va_bits(), 52);
    EXPECT_EQ(arm64.va_bits_in_use(), 48);
    EXPECT_EQ(arm64.levels(), 4);
    EXPECT_EQ(translate(*space, linear + 8).value_or(0), 0x40123008u);
}

TEST(Arm64AddressSpace, SixtyFourKilobytePagesThreeLevelsAndLpaHighBits) {
    // 64K pages, 48-bit VA: 3 levels, the top table 64 entries, 512 MiB blocks.
    Arm64Tables tables(16, 3, 6, Encoding::lpa_64k, 0x40100000 & ~0xffffULL);
    const uint64_t block = 0xffff000020000000ULL;
    const uint64_t page = 0xfffffc0000010000ULL;
    tables.map(block, 0x000f000060000000ULL, 2);  // above 2^48: bits 51:48 in 15:12
    tables.map(page, 0x48890000, 3);
    auto info = parse(vmcoreinfo(65536, 48, 0x10, tables.top_table(), 52));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(dynamic_cast<const Arm64Translator&>(space->translator()).levels(), 3);
    EXPECT_EQ(translate(*space, block + 0x1fffffff).value_or(0), 0x000f00007fffffffULL);
    EXPECT_EQ(translate(*space, page + 0xfff0).value_or(0), 0x4889fff0u);
}

TEST(Arm64AddressSpace, SixtyFourKilobytePagesBuiltFor52BitsOn48IndexesTheWholeTopTable) {
    // VA_BITS 52 with 64K pages on a 48-bit CPU: still 3 levels, and TTBR1
    // points 960 entries into swapper_pg_dir (TTBR1_BADDR_4852_OFFSET): the
    // kernel's own index, by 52 bits, finds the entry of a 48-bit address.
    Arm64Tables tables(16, 3, 10, Encoding::lpa_64k, 0x40100000 & ~0xffffULL);
    const uint64_t linear = 0xffff000000010000ULL;
    tables.map(linear, 0x40010000, 3);
    auto info = parse(vmcoreinfo(65536, 52, 0x10, tables.top_table(), 52));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(translate(*space, linear + 4).value_or(0), 0x40010004u);
}

TEST(Arm64AddressSpace, SixteenKilobytePages47Bits) {
    // 16K pages, 47-bit VA: 3 levels (Kconfig ARM64_VA_BITS_47), 32 MiB blocks.
    Arm64Tables tables(14, 3, 11, Encoding::pa48, 0x40100000);
    const uint64_t block = 0xffff800002000000ULL;
    tables.map(block, 0x46000000, 2);
    auto info = parse(vmcoreinfo(16384, 47, 0x11, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(dynamic_cast<const Arm64Translator&>(space->translator()).levels(), 3);
    EXPECT_EQ(translate(*space, block + 0x1ffffff).value_or(0), 0x47ffffffu);
}

TEST(Arm64AddressSpace, WithoutT1szTheBuiltForSizeIsUsed) {
    // Kernels before 5.9 export no TCR_EL1_T1SZ.
    Arm64Tables tables(12, 3, 9, Encoding::pa48, 0x40100000);
    const uint64_t linear = 0xffffff8000201000ULL;
    tables.map(linear, 0x40201000, 3);
    auto info = parse(vmcoreinfo(4096, 39, std::nullopt, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(dynamic_cast<const Arm64Translator&>(space->translator()).levels(), 3);
    EXPECT_EQ(translate(*space, linear).value_or(0), 0x40201000u);
}

TEST(Arm64AddressSpace, ImplausibleVmcoreinfoIsRefusedWithTheReason) {
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    auto refused = [&](const std::string& text) {
        auto info = parse(text);
        auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                                KernelAddressSpace::kElfMachineAarch64);
        EXPECT_FALSE(space);
        return space ? std::string() : space.error().message;
    };
    EXPECT_THAT(refused(vmcoreinfo(8192, 48, 0x10, tables.top_table())),
                HasSubstr("not an arm64 granule"));
    EXPECT_THAT(refused(vmcoreinfo(4096, 60, 0x10, tables.top_table())), HasSubstr("VA_BITS"));
    EXPECT_THAT(refused(vmcoreinfo(4096, 48, 0x2, tables.top_table())), HasSubstr("T1SZ"));
    EXPECT_THAT(refused("PAGESIZE=4096\nNUMBER(VA_BITS)=48\n"), HasSubstr("swapper_pg_dir"));
    // swapper_pg_dir where the vmcore has no memory.
    EXPECT_THAT(refused(vmcoreinfo(4096, 48, 0x10, 0x90000000)), HasSubstr("swapper_pg_dir"));
}

TEST(Arm64AddressSpace, CorruptTablesGiveErrorsNotWildReads) {
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    const uint64_t linear = 0xffff000000123000ULL;
    tables.map(linear, 0x40123000, 3);
    auto info = parse(vmcoreinfo(4096, 48, 0x10, tables.top_table()));
    auto space = KernelAddressSpace::create(tables.memory(), info, {},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    // Point a table entry at memory the vmcore lacks.
    tables.memory().write_u64(tables.top_table() + ((0xffff800000000000ULL >> 39) & 511) * 8,
                              0xdead0000000ULL | 0b11);
    auto missing = translate(*space, 0xffff800000000000ULL);
    ASSERT_FALSE(missing);
    EXPECT_THAT(missing.error().message, HasSubstr("reading a level-1 table"));
}

TEST(Arm64AddressSpace, OtherMachinesAreNamedNotGuessed) {
    SparseMemory memory(4096);
    auto info = parse("PAGESIZE=4096\n");
    auto space = KernelAddressSpace::create(memory, info, {}, 21 /* EM_PPC64 */);
    ASSERT_FALSE(space);
    EXPECT_THAT(space.error().message, HasSubstr("ELF machine 21"));
}

}  // namespace

namespace {

TEST(Arm64AddressSpace, TheKernelImageIsTranslatedWithoutTheTables) {
    // A vmcore cut short before the page tables: the image's PT_LOAD
    // (vaddr _text, paddr __pa_symbol(_text)) still gives the kernel log.
    Arm64Tables tables(12, 4, 9, Encoding::pa48, 0x40100000);
    const uint64_t image_phys = 0x40200000;
    const uint64_t image_virt = image_phys + kKimageVoffset;
    LoadSegment image{image_phys, image_virt, 0x2000, 0x2010000, 0x2010000};
    LoadSegment linear{0x40000000, 0xffff1c3840000000ULL, 0x2012000, 0x10000000, 0x10000000};
    // swapper_pg_dir lies inside the image, as in the kernel's linker script.
    auto info = parse(vmcoreinfo(4096, 48, 0x10, image_phys + 0x100000));
    tables.memory().add_page(image_phys + 0x100000);
    auto space = KernelAddressSpace::create(tables.memory(), info, {linear, image},
                                            KernelAddressSpace::kElfMachineAarch64);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(translate(*space, image_virt + 0x1234567).value_or(0), image_phys + 0x1234567);
    // Past the image the walk is needed, and the tables here map nothing.
    EXPECT_FALSE(translate(*space, image_virt + 0x2010000));
}

}  // namespace
