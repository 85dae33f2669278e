#include "x86-64-address-space.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

// VMALLOC_START with 4-level paging (arch/x86/include/asm/pgtable_64_types.h
// __VMALLOC_BASE_L4), where non-contiguous 4 KiB mappings live.
constexpr uint64_t kVmallocBase = 0xffffc90000000000ULL;

Vmcoreinfo parse(const std::string& text) {
    auto info = Vmcoreinfo::parse(text);
    EXPECT_TRUE(info);
    return *info;
}

// VMCOREINFO for hand-made tables: the top table is a kernel-image address
// with phys_base 0 (image linked where it sits).
std::string minimal_vmcoreinfo(uint64_t top_table_phys, int levels, uint64_t sme_mask = 0) {
    return fmt::format(
        "SYMBOL(init_top_pgt)={:x}\nNUMBER(phys_base)=0\nNUMBER(pgtable_l5_enabled)={}\n"
        "NUMBER(sme_mask)={}\n",
        kStartKernelMap + top_table_phys, levels == 5 ? 1 : 0, sme_mask);
}

class SyntheticKernelSpace : public ::testing::TestWithParam<int> {
  protected:
    SyntheticKernelSpace() : kernel_(options()) {}
    static SyntheticKernelOptions options() {
        SyntheticKernelOptions o;
        o.paging_levels = GetParam();
        return o;
    }
    KernelAddressSpace space() {
        info_ = parse(kernel_.vmcoreinfo());
        std::vector<LoadSegment> segments;
        auto result = KernelAddressSpace::create(kernel_.memory(), info_, segments);
        EXPECT_TRUE(result) << (result ? "" : result.error().message);
        return std::move(*result);
    }
    SyntheticKernel kernel_;
    Vmcoreinfo info_;
};

TEST_P(SyntheticKernelSpace, NegativePhysBaseAndPagingLevels) {
    auto s = space();
    EXPECT_LT(s.phys_base(), 0);
    EXPECT_EQ(s.phys_base(), kernel_.phys_base());
    EXPECT_EQ(dynamic_cast<const X86_64Translator&>(s.translator()).paging_levels(), GetParam());
}

TEST_P(SyntheticKernelSpace, KernelImageAddressesByArithmetic) {
    auto s = space();
    const uint64_t virt = kernel_.image_virt(SyntheticKernel::kUtsNsOffset);
    EXPECT_EQ(s.to_physical(virt), SyntheticKernel::kImagePhys + SyntheticKernel::kUtsNsOffset);
    std::array<char, 65> release{};
    ASSERT_TRUE(s.read(virt + SyntheticKernel::kUtsNameOffset + 2 * 65,
                       std::as_writable_bytes(std::span(release))));
    EXPECT_STREQ(release.data(), "6.1.0-synthetic");
}

TEST_P(SyntheticKernelSpace, DirectMapThrough2MiBAnd4KiBPages) {
    auto s = space();
    // Below 4 MiB: PMD entries with _PAGE_PSE.
    EXPECT_EQ(s.to_physical(kernel_.direct_map(0x123456)), 0x123456u);
    EXPECT_EQ(s.to_physical(kernel_.direct_map(0x3fffff)), 0x3fffffu);
    // Above: PTEs.
    EXPECT_EQ(s.to_physical(kernel_.direct_map(0x4fff10)), 0x4fff10u);
    EXPECT_EQ(s.to_physical(kernel_.direct_map(0x7ff008)), 0x7ff008u);
    kernel_.memory().write_u64(0x4ffff8, 0x1122334455667788ULL);
    kernel_.memory().write_u64(0x500000, 0x99aabbccddeeff00ULL);
    EXPECT_EQ(s.read_u64(kernel_.direct_map(0x4ffff8)), 0x1122334455667788ULL);
    EXPECT_EQ(s.read_u64(kernel_.direct_map(0x500000)), 0x99aabbccddeeff00ULL);
    // A u64 straddling the two pages.
    EXPECT_EQ(s.read_u64(kernel_.direct_map(0x4ffffc)), 0xddeeff0011223344ULL);
}

TEST_P(SyntheticKernelSpace, UnmappedAddressIsEFAULT) {
    auto s = space();
    // Past the end of RAM: the PTE table exists but the entry is empty.
    auto past = s.to_physical(kernel_.direct_map(8 * kMiB + 0x1000));
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().errno_value, EFAULT);
    EXPECT_THAT(past.error().message, HasSubstr("not mapped"));
    // A different top-level slot altogether.
    EXPECT_FALSE(s.to_physical(kVmallocBase));
}

INSTANTIATE_TEST_SUITE_P(PagingLevels, SyntheticKernelSpace, ::testing::Values(4, 5),
                         [](const auto& param_info) {
                             return std::to_string(param_info.param) + "Level";
                         });

TEST(KernelAddressSpace, ImageAddressPastKernelImageSizeIsWalked) {
    SyntheticKernel kernel;
    // A 1 MiB KERNEL_IMAGE_SIZE puts image+1.5 MiB outside the arithmetic
    // window; the 2 MiB page-table mapping of the image must agree.
    auto info = parse(kernel.vmcoreinfo() + "NUMBER(KERNEL_IMAGE_SIZE)=1048576\n");
    auto space = KernelAddressSpace::create(kernel.memory(), info, {});
    ASSERT_TRUE(space);
    EXPECT_EQ(space->to_physical(kernel.image_virt(0x180010)),
              SyntheticKernel::kImagePhys + 0x180010);
}

TEST(KernelAddressSpace, OneGiBPages) {
    PhysicalImage memory(4 * kMiB);
    PageTables tables(memory, 4, 1 * kMiB, 16 * kPageSize);
    tables.map(0xffff888000000000ULL, 0, 1ULL << 30, MappingSize::page_1g);
    auto info = parse(minimal_vmcoreinfo(tables.top_table_phys(), 4));
    auto space = KernelAddressSpace::create(memory, info, {});
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(space->to_physical(0xffff888000000000ULL + 0x2345678), 0x2345678u);
    memory.write_u64(0x300000, 42);
    EXPECT_EQ(space->read_u64(0xffff888000300000ULL), 42u);
}

TEST(KernelAddressSpace, FourKiBPagesNeedNotBeContiguous) {
    PhysicalImage memory(4 * kMiB);
    PageTables tables(memory, 4, 1 * kMiB, 16 * kPageSize);
    // Three virtual pages backed by frames in reverse order.
    tables.map(kVmallocBase, 0x30000, kPageSize, MappingSize::page_4k);
    tables.map(kVmallocBase + kPageSize, 0x20000, kPageSize, MappingSize::page_4k);
    tables.map(kVmallocBase + 2 * kPageSize, 0x10000, kPageSize, MappingSize::page_4k);
    memory.write_u64(0x30000, 1);
    memory.write_u64(0x20000, 2);
    memory.write_u64(0x10000, 3);
    memory.write_u32(0x30ffc, 0xaaaaaaaa);
    memory.write_u32(0x20000, 0xbbbbbbbb);
    auto info = parse(minimal_vmcoreinfo(tables.top_table_phys(), 4));
    auto space = KernelAddressSpace::create(memory, info, {});
    ASSERT_TRUE(space);
    // Alternate between pages: a translation cache must not mix them up.
    for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(space->read_u32(kVmallocBase + 2 * kPageSize), 3u);
        EXPECT_EQ(space->read_u32(kVmallocBase), 1u);
        EXPECT_EQ(space->read_u32(kVmallocBase + kPageSize + 4), 0u);
    }
    // A read across the boundary takes each half from its own frame.
    EXPECT_EQ(space->read_u64(kVmallocBase + kPageSize - 4), 0xbbbbbbbbaaaaaaaaULL);
}

TEST(KernelAddressSpace, SmeMaskAndNxAreNotAddressBits) {
    // AMD SME: the C-bit (here bit 47) is set in every entry;
    // NUMBER(sme_mask) tells the walker to drop it.
    constexpr uint64_t kSmeBit = 1ULL << 47;
    PhysicalImage memory(4 * kMiB);
    PageTables tables(memory, 4, 1 * kMiB, 16 * kPageSize);
    tables.map(kVmallocBase, 0x5000, kPageSize, MappingSize::page_4k, kSmeBit | PageTables::kNx);
    tables.map(0xffff888000000000ULL, 0x200000, 2 * kMiB, MappingSize::page_2m,
               kSmeBit | PageTables::kNx);
    auto info = parse(minimal_vmcoreinfo(tables.top_table_phys(), 4, kSmeBit));
    auto space = KernelAddressSpace::create(memory, info, {});
    ASSERT_TRUE(space);
    EXPECT_EQ(space->to_physical(kVmallocBase + 0x10), 0x5010u);
    EXPECT_EQ(space->to_physical(0xffff888000000000ULL + 0x1234), 0x201234u);
}

TEST(KernelAddressSpace, PhysBaseFromTheKernelImageLoad) {
    SyntheticKernel kernel;
    // Drop NUMBER(phys_base): makedumpfile get_phys_base_x86_64() then uses
    // the PT_LOAD whose p_vaddr is in the kernel image.
    std::string text = kernel.vmcoreinfo();
    const auto at = text.find("NUMBER(phys_base)=");
    text.erase(at, text.find('\n', at) + 1 - at);
    auto info = parse(text);
    ASSERT_FALSE(info.phys_base());
    std::vector<LoadSegment> segments{
        {1 * kMiB, kernel.direct_map(1 * kMiB), 0x1000, 5 * kMiB, 5 * kMiB},
        {SyntheticKernel::kImagePhys, SyntheticKernel::kImageVirt, 0x501000,
         SyntheticKernel::kImageSize, SyntheticKernel::kImageSize},
    };
    auto space = KernelAddressSpace::create(kernel.memory(), info, segments);
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_EQ(space->phys_base(), kernel.phys_base());
    EXPECT_EQ(space->to_physical(kernel.direct_map(0x4fff10)), 0x4fff10u);
}

TEST(KernelAddressSpace, ErrorsWithoutWhatTheWalkNeeds) {
    PhysicalImage memory(1 * kMiB);
    auto no_base =
        KernelAddressSpace::create(memory, parse("SYMBOL(init_top_pgt)=ffffffff81000000\n"), {});
    ASSERT_FALSE(no_base);
    EXPECT_THAT(no_base.error().message, HasSubstr("phys_base"));
    auto no_pgt = KernelAddressSpace::create(memory, parse("NUMBER(phys_base)=0\n"), {});
    ASSERT_FALSE(no_pgt);
    EXPECT_THAT(no_pgt.error().message, HasSubstr("init_top_pgt"));
    auto low = KernelAddressSpace::create(
        memory, parse("NUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=1000\n"), {});
    ASSERT_FALSE(low);
    EXPECT_THAT(low.error().message, HasSubstr("not a kernel-image address"));
}

TEST(KernelAddressSpace, SwapperPgDirIsAcceptedToo) {
    PhysicalImage memory(4 * kMiB);
    PageTables tables(memory, 4, 1 * kMiB, 16 * kPageSize);
    tables.map(kVmallocBase, 0x7000, kPageSize, MappingSize::page_4k);
    auto info = parse(fmt::format("SYMBOL(swapper_pg_dir)={:x}\nNUMBER(phys_base)=0\n",
                                  kStartKernelMap + tables.top_table_phys()));
    auto space = KernelAddressSpace::create(memory, info, {});
    ASSERT_TRUE(space);
    EXPECT_EQ(space->to_physical(kVmallocBase + 8), 0x7008u);
}

}  // namespace
