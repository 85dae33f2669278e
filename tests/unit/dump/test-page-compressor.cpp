#include "page-compressor.hpp"

#include <gtest/gtest.h>
#include <lzo/lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;

namespace {

std::vector<std::byte> decompress(Compression compression, std::span<const std::byte> in) {
    std::vector<std::byte> out(kPageSize * 2);
    if (compression == Compression::lzo) {
        // crash's diskdump.c and libkdumpfile decompress with
        // lzo1x_decompress_safe, one page at a time.
        lzo_uint size = out.size();
        EXPECT_EQ(
            lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                  reinterpret_cast<unsigned char*>(out.data()), &size, nullptr),
            LZO_E_OK);
        out.resize(size);
    } else if (compression == Compression::zstd) {
        // One-shot decompression of a whole frame, as crash and libkdumpfile do.
        const size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
        EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
        out.resize(ZSTD_isError(n) ? 0 : n);
    } else {
        uLongf size = out.size();
        EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                             reinterpret_cast<const Bytef*>(in.data()), in.size()),
                  Z_OK);
        out.resize(size);
    }
    return out;
}

class CompressorRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressorRoundTrip, PatternedPageShrinksAndDecompressesExactly) {
    PhysicalImage memory(kPageSize);
    memory.fill_pattern(0);
    auto compressor =
        PageCompressor::create(GetParam(), default_compression_level(GetParam()), kPageSize);
    ASSERT_TRUE(compressor) << compressor.error().message;
    std::vector<std::byte> out(kPageSize);
    const size_t n = compressor->compress(memory.page(0), out);
    ASSERT_GT(n, 0u);
    EXPECT_LT(n, kPageSize / 4);
    auto back = decompress(GetParam(), std::span(out).first(n));
    ASSERT_EQ(back.size(), kPageSize);
    EXPECT_TRUE(std::equal(back.begin(), back.end(), memory.page(0).begin()));
}

TEST_P(CompressorRoundTrip, IncompressiblePageIsStoredRaw) {
    PhysicalImage memory(kPageSize);
    memory.fill_random(0);
    auto compressor =
        PageCompressor::create(GetParam(), default_compression_level(GetParam()), kPageSize);
    ASSERT_TRUE(compressor);
    std::vector<std::byte> out(kPageSize);
    EXPECT_EQ(compressor->compress(memory.page(0), out), 0u);
}

TEST_P(CompressorRoundTrip, ReusedContextGivesIndependentFrames) {
    // Each page must decompress on its own (no history carried across pages).
    PhysicalImage memory(3 * kPageSize);
    memory.fill_pattern(0);
    memory.fill_random(1);
    memory.fill_pattern(2);
    auto compressor =
        PageCompressor::create(GetParam(), default_compression_level(GetParam()), kPageSize);
    ASSERT_TRUE(compressor);
    std::vector<std::byte> out(kPageSize);
    for (uint64_t pfn : {0, 1, 2, 2, 0}) {
        const size_t n = compressor->compress(memory.page(pfn), out);
        if (pfn == 1) {
            EXPECT_EQ(n, 0u);
            continue;
        }
        ASSERT_GT(n, 0u);
        auto back = decompress(GetParam(), std::span(out).first(n));
        ASSERT_EQ(back.size(), kPageSize);
        EXPECT_TRUE(std::equal(back.begin(), back.end(), memory.page(pfn).begin())) << pfn;
    }
}

TEST_P(CompressorRoundTrip, ZeroPageCompresses) {
    std::vector<std::byte> zeros(kPageSize), out(kPageSize);
    auto compressor = PageCompressor::create(GetParam(), 1, kPageSize);
    ASSERT_TRUE(compressor);
    const size_t n = compressor->compress(zeros, out);
    ASSERT_GT(n, 0u);
    auto back = decompress(GetParam(), std::span(out).first(n));
    EXPECT_EQ(back, zeros);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressorRoundTrip,
                         ::testing::Values(Compression::zstd, Compression::zlib, Compression::lzo),
                         [](const auto& param_info) {
                             return std::string(to_string(param_info.param));
                         });

TEST(PageCompressor, NoneStoresEverythingRaw) {
    PhysicalImage memory(kPageSize);
    memory.fill_pattern(0);
    auto compressor = PageCompressor::create(Compression::none, 0, kPageSize);
    ASSERT_TRUE(compressor);
    std::vector<std::byte> out(kPageSize);
    EXPECT_EQ(compressor->compress(memory.page(0), out), 0u);
}

TEST(PageCompressor, RejectsBadLevelsAndPageSizes) {
    EXPECT_FALSE(PageCompressor::create(Compression::zlib, 0, kPageSize));
    EXPECT_FALSE(PageCompressor::create(Compression::zlib, 10, kPageSize));
    EXPECT_FALSE(PageCompressor::create(Compression::zstd, ZSTD_maxCLevel() + 1, kPageSize));
    EXPECT_FALSE(PageCompressor::create(Compression::zstd, 1, 0));
    EXPECT_TRUE(PageCompressor::create(Compression::zstd, -5, kPageSize));
    EXPECT_FALSE(PageCompressor::create(Compression::lzo, 2, kPageSize));
    EXPECT_TRUE(PageCompressor::create(Compression::lzo, 1, kPageSize));
}

TEST(PageCompressor, FlagsAndNames) {
    // makedumpfile diskdump_mod.h DUMP_DH_COMPRESSED_ZLIB / _LZO / _ZSTD.
    EXPECT_EQ(kdump_compression_flag(Compression::zlib), 0x1u);
    EXPECT_EQ(kdump_compression_flag(Compression::lzo), 0x2u);
    EXPECT_EQ(kdump_compression_flag(Compression::zstd), 0x20u);
    EXPECT_EQ(kdump_compression_flag(Compression::none), 0u);
    EXPECT_EQ(parse_compression("zstd"), Compression::zstd);
    EXPECT_EQ(parse_compression("zlib"), Compression::zlib);
    EXPECT_EQ(parse_compression("none"), Compression::none);
    EXPECT_EQ(parse_compression("lzo"), Compression::lzo);
    EXPECT_FALSE(parse_compression("snappy"));
    EXPECT_EQ(to_string(Compression::zlib), "zlib");
    EXPECT_EQ(default_compression_level(Compression::zstd), 1);
    EXPECT_EQ(default_compression_level(Compression::zlib), 1);
    EXPECT_EQ(default_compression_level(Compression::lzo), 1);
}

}  // namespace
