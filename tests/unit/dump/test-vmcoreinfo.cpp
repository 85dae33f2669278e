#include "vmcoreinfo.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace crashcapture;
using ::testing::HasSubstr;

namespace {

// Lines copied from the Debian 6.1.0-56 vmcore (dump-formats.md §3.2).
constexpr std::string_view kRealExcerpt =
    "OSRELEASE=6.1.0-56-amd64\n"
    "BUILD-ID=eb4fbcd0aa\n"
    "PAGESIZE=4096\n"
    "SYMBOL(init_uts_ns)=ffffffffaebfb000\n"
    "OFFSET(uts_namespace.name)=0\n"
    "SYMBOL(init_top_pgt)=ffffffffaea10000\n"
    "SIZE(page)=64\n"
    "LENGTH(mem_section)=4096\n"
    "NUMBER(phys_base)=-138412032\n"
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
    "NUMBER(VMALLOC_START)=0xffffb2a840000000\n"
    "KERNELOFFSET=2c000000\n"
    "CRASHTIME=1795508256\n";

TEST(Vmcoreinfo, ParsesEveryKindOfKey) {
    auto info = Vmcoreinfo::parse(kRealExcerpt);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->osrelease(), "6.1.0-56-amd64");
    EXPECT_EQ(info->page_size(), 4096u);
    EXPECT_EQ(info->symbol("init_uts_ns"), 0xffffffffaebfb000ULL);
    EXPECT_EQ(info->symbol("init_top_pgt"), 0xffffffffaea10000ULL);
    EXPECT_EQ(info->offset("uts_namespace.name"), 0u);
    EXPECT_EQ(info->size("page"), 64u);
    EXPECT_EQ(info->length("mem_section"), 4096u);
    EXPECT_EQ(info->kernel_offset(), 0x2c000000u);
    EXPECT_EQ(info->crash_time(), 1795508256);
    EXPECT_EQ(info->value("BUILD-ID"), "eb4fbcd0aa");
    EXPECT_TRUE(info->warnings().empty());
}

TEST(Vmcoreinfo, NegativeNumbersStaySigned) {
    auto info = Vmcoreinfo::parse(kRealExcerpt);
    ASSERT_TRUE(info);
    // KASLR moves the image below its link address: phys_base < 0.
    EXPECT_EQ(info->phys_base(), -138412032);
    EXPECT_EQ(info->number("PAGE_BUDDY_MAPCOUNT_VALUE"), -129);
}

TEST(Vmcoreinfo, HexNumberFallsBackLikeMakedumpfile) {
    auto info = Vmcoreinfo::parse(kRealExcerpt);
    ASSERT_TRUE(info);
    // read_vmcoreinfo_long(): decimal first, then hex.
    EXPECT_EQ(static_cast<uint64_t>(*info->number("VMALLOC_START")), 0xffffb2a840000000ULL);
}

TEST(Vmcoreinfo, KindsDoNotLeakIntoEachOther) {
    auto info = Vmcoreinfo::parse(kRealExcerpt);
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->symbol("page"));
    EXPECT_FALSE(info->size("init_uts_ns"));
    EXPECT_FALSE(info->offset("page"));
    EXPECT_FALSE(info->number("SIZE(page)"));
    EXPECT_FALSE(info->symbol("prb"));
}

TEST(Vmcoreinfo, TrailingNulPaddingOfTheNoteIsIgnored) {
    std::string text = "OSRELEASE=6.1.0\nPAGESIZE=4096\n";
    text.append(3, '\0');
    auto info = Vmcoreinfo::parse(text);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->osrelease(), "6.1.0");
    EXPECT_EQ(info->text().find('\0'), std::string::npos);
    EXPECT_TRUE(info->warnings().empty());
}

TEST(Vmcoreinfo, LastLineWithoutNewline) {
    auto info = Vmcoreinfo::parse("PAGESIZE=4096\nCRASHTIME=42");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->crash_time(), 42);
}

TEST(Vmcoreinfo, EmptyIsAnError) {
    EXPECT_FALSE(Vmcoreinfo::parse(""));
    EXPECT_FALSE(Vmcoreinfo::parse(std::string(8, '\0')));
}

TEST(Vmcoreinfo, MalformedLinesBecomeWarnings) {
    auto info = Vmcoreinfo::parse(
        "PAGESIZE=4096\n"
        "garbage without equals\n"
        "SYMBOL(prb)=not-hex\n"
        "SIZE(page)=12abc\n"
        "OSRELEASE=6.1.0\n");
    ASSERT_TRUE(info);
    ASSERT_EQ(info->warnings().size(), 3u);
    EXPECT_THAT(info->warnings()[0], HasSubstr("line 2"));
    EXPECT_THAT(info->warnings()[1], HasSubstr("SYMBOL(prb)"));
    EXPECT_THAT(info->warnings()[2], HasSubstr("SIZE(page)"));
    EXPECT_FALSE(info->symbol("prb"));
    EXPECT_FALSE(info->size("page"));
    // The good lines around the bad ones are kept.
    EXPECT_EQ(info->page_size(), 4096u);
    EXPECT_EQ(info->osrelease(), "6.1.0");
}

TEST(Vmcoreinfo, ValueKeepsEverythingAfterTheFirstEquals) {
    auto info = Vmcoreinfo::parse("OSRELEASE=a=b\n");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->osrelease(), "a=b");
    EXPECT_EQ(info->value("OSRELEASE"), "a=b");
}

}  // namespace
