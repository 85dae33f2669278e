#include "page-selection.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>

using namespace crashcapture;
using ::testing::HasSubstr;

namespace {

constexpr uint64_t kPage = 4096;

PhysicalRange range(uint64_t start, uint64_t end, uint64_t data_end) {
    return PhysicalRange{start, end, data_end, 0};
}

uint64_t popcount(const std::vector<uint8_t>& bitmap) {
    uint64_t n = 0;
    for (auto byte : bitmap) {
        n += std::popcount(byte);
    }
    return n;
}

bool bit(const std::vector<uint8_t>& bitmap, uint64_t index) {
    return (bitmap[index / 8] >> (index % 8)) & 1;
}

TEST(PageSelection, BitmapsFollowTheLoads) {
    // [1, 5) with data, [8, 12) data only in [8, 10), [20, 21) no data.
    std::vector<PhysicalRange> ranges{range(1 * kPage, 5 * kPage, 5 * kPage),
                                      range(8 * kPage, 12 * kPage, 10 * kPage),
                                      range(20 * kPage, 21 * kPage, 20 * kPage)};
    PageWindow window;
    window.start_pfn = 0;
    window.end_pfn = 24;
    select_pages(ranges, kPage, window);
    ASSERT_EQ(window.present.size(), 3u);
    // LSB first: pfn p is byte p/8, bit p%8 (makedumpfile set_bitmap_buffer()).
    EXPECT_EQ(window.present[0], 0b00011110);
    EXPECT_EQ(window.present[1], 0b00001111);
    EXPECT_EQ(window.present[2], 0b00010000);
    EXPECT_EQ(window.dumpable[0], 0b00011110);
    EXPECT_EQ(window.dumpable[1], 0b00000011);
    EXPECT_EQ(window.dumpable[2], 0);
    EXPECT_TRUE(window.is_dumpable(9));
    EXPECT_FALSE(window.is_dumpable(10));

    auto counts = count_pages(ranges, kPage);
    EXPECT_EQ(counts.total, 4u + 4u + 1u);
    EXPECT_EQ(counts.dumpable, 4u + 2u);
    EXPECT_EQ(counts.excluded_nodata, 3u);
    EXPECT_EQ(counts.total, popcount(window.present));
    EXPECT_EQ(counts.dumpable, popcount(window.dumpable));
}

TEST(PageSelection, WindowsAgreeWithTheWholeBitmap) {
    std::vector<PhysicalRange> ranges{range(3 * kPage, 70 * kPage, 60 * kPage),
                                      range(75 * kPage, 130 * kPage, 130 * kPage)};
    PageWindow whole;
    whole.start_pfn = 0;
    whole.end_pfn = 136;
    select_pages(ranges, kPage, whole);
    for (uint64_t start = 0; start < 136; start += 16) {
        PageWindow window;
        window.start_pfn = start;
        window.end_pfn = std::min<uint64_t>(start + 16, 136);
        select_pages(ranges, kPage, window);
        for (uint64_t pfn = window.start_pfn; pfn < window.end_pfn; ++pfn) {
            EXPECT_EQ(bit(window.present, pfn - start), bit(whole.present, pfn)) << pfn;
            EXPECT_EQ(window.is_dumpable(pfn), whole.is_dumpable(pfn)) << pfn;
        }
    }
    EXPECT_EQ(count_pages(ranges, kPage).dumpable, popcount(whole.dumpable));
}

TEST(PageSelection, PartialFramesAtTheEdges) {
    // A PT_LOAD ending mid-frame (e820 "0x1000-0x9fbff") and one starting
    // mid-frame: both edge frames are present and dumpable, and a frame two
    // ranges share is counted once.
    std::vector<PhysicalRange> ranges{range(0x1000, 0x9fc00, 0x9fc00),
                                      range(0x9fc00, 0xa0000, 0x9fc00),
                                      range(0x100800, 0x102000, 0x102000)};
    auto counts = count_pages(ranges, kPage);
    PageWindow window;
    window.start_pfn = 0;
    window.end_pfn = 0x108;
    select_pages(ranges, kPage, window);
    EXPECT_TRUE(window.is_dumpable(0x9f));
    EXPECT_TRUE(bit(window.present, 0x100));
    EXPECT_TRUE(window.is_dumpable(0x100));
    EXPECT_TRUE(window.is_dumpable(0x101));
    EXPECT_FALSE(window.is_dumpable(0xa0));
    EXPECT_EQ(counts.total, popcount(window.present));
    EXPECT_EQ(counts.dumpable, popcount(window.dumpable));
    EXPECT_EQ(counts.total, (0xa0u - 1) + 2);
}

TEST(PageSelection, DumpLevels) {
    // Every makedumpfile level 0..31 is valid (the page filter decides what
    // a given kernel allows); anything else is not.
    for (int level = 0; level <= 31; ++level) {
        EXPECT_TRUE(validate_dump_level(level)) << level;
    }
    auto high = validate_dump_level(32);
    ASSERT_FALSE(high);
    EXPECT_EQ(high.error().errno_value, EINVAL);
    EXPECT_THAT(high.error().message, HasSubstr("dump level 32 is outside 0..31"));
    EXPECT_FALSE(validate_dump_level(-1));
}

}  // namespace
