// A deliberately small reader of kdump-compressed files for the tests, written
// from the format description (dump-formats.md §1, makedumpfile
// IMPLEMENTATION, crash diskdump.c) rather than from our writer's layout code.
#pragma once

#include <lzo/lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kdump-format.hpp"

namespace crashcapture::test {

struct PageDesc {
    int64_t offset = 0;
    uint32_t size = 0;
    uint32_t flags = 0;
    uint64_t page_flags = 0;
    bool operator==(const PageDesc&) const = default;
};

class KdumpTestReader {
  public:
    explicit KdumpTestReader(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}

    const std::vector<std::byte>& bytes() const { return bytes_; }
    template <typename T>
    T header(size_t offset) const {
        return kdump::get<T>(bytes_.data(), offset);
    }
    template <typename T>
    T sub_header(size_t offset) const {
        return kdump::get<T>(bytes_.data(), block_size() + offset);
    }
    std::string signature() const {
        return std::string(reinterpret_cast<const char*>(bytes_.data()), 8);
    }
    uint64_t block_size() const { return kdump::get<uint32_t>(bytes_.data(), 428); }
    uint64_t sub_hdr_size() const { return header<uint32_t>(432); }
    uint64_t bitmap_blocks() const { return header<uint32_t>(436); }
    uint32_t status() const { return header<uint32_t>(424); }
    uint64_t max_mapnr() const { return sub_header<uint64_t>(96); }  // max_mapnr_64

    // Both bitmaps are bitmap_blocks/2 blocks; pfn p is byte p/8, bit p%8.
    uint64_t bitmap1_offset() const { return (1 + sub_hdr_size()) * block_size(); }
    uint64_t bitmap2_offset() const {
        return bitmap1_offset() + bitmap_blocks() / 2 * block_size();
    }
    uint64_t desc_offset() const { return (1 + sub_hdr_size() + bitmap_blocks()) * block_size(); }
    bool bit(uint64_t bitmap_offset, uint64_t pfn) const {
        const auto byte = std::to_integer<uint8_t>(bytes_.at(bitmap_offset + pfn / 8));
        return (byte >> (pfn % 8)) & 1;
    }
    bool present(uint64_t pfn) const { return bit(bitmap1_offset(), pfn); }
    bool dumpable(uint64_t pfn) const { return bit(bitmap2_offset(), pfn); }
    uint64_t count_dumpable() const {
        uint64_t n = 0;
        for (uint64_t i = 0; i < bitmap_blocks() / 2 * block_size(); ++i) {
            n += std::popcount(std::to_integer<uint8_t>(bytes_[bitmap2_offset() + i]));
        }
        return n;
    }
    // crash pfn_to_pos(): the descriptor index is the number of dumpable
    // frames below pfn.
    uint64_t desc_index(uint64_t pfn) const {
        uint64_t index = 0;
        for (uint64_t p = 0; p < pfn; ++p) {
            index += dumpable(p) ? 1 : 0;
        }
        return index;
    }
    PageDesc desc_at(uint64_t index) const {
        const uint64_t at = desc_offset() + index * kdump::kPageDescSize;
        PageDesc d;
        if (at + kdump::kPageDescSize > bytes_.size()) {
            return d;  // never written: reads as a hole
        }
        d.offset = kdump::get<int64_t>(bytes_.data(), at);
        d.size = kdump::get<uint32_t>(bytes_.data(), at + 8);
        d.flags = kdump::get<uint32_t>(bytes_.data(), at + 12);
        d.page_flags = kdump::get<uint64_t>(bytes_.data(), at + 16);
        return d;
    }
    PageDesc desc(uint64_t pfn) const { return desc_at(desc_index(pfn)); }

    // The page a descriptor describes, decompressed; nullopt when the
    // descriptor is broken (as crash / libkdumpfile would refuse it).
    std::optional<std::vector<std::byte>> page(const PageDesc& d,
                                               std::string* why = nullptr) const {
        auto fail = [&](std::string reason) -> std::optional<std::vector<std::byte>> {
            if (why) {
                *why = std::move(reason);
            }
            return std::nullopt;
        };
        if (d.offset <= 0 || static_cast<uint64_t>(d.offset) + d.size > bytes_.size()) {
            return fail("offset/size outside the file");
        }
        const std::byte* in = bytes_.data() + d.offset;
        std::vector<std::byte> out(block_size());
        if (d.flags == 0) {
            if (d.size != block_size()) {
                return fail("raw page whose size is not the block size");
            }
            std::memcpy(out.data(), in, d.size);
            return out;
        }
        if (d.size >= block_size()) {
            return fail("compressed page not smaller than a block");
        }
        if (d.flags == 0x20) {  // DUMP_DH_COMPRESSED_ZSTD
            const size_t n = ZSTD_decompress(out.data(), out.size(), in, d.size);
            if (ZSTD_isError(n) || n != block_size()) {
                return fail("zstd frame does not decompress to a page");
            }
            return out;
        }
        if (d.flags == 0x1) {  // DUMP_DH_COMPRESSED_ZLIB
            uLongf size = out.size();
            if (uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                           reinterpret_cast<const Bytef*>(in), d.size) != Z_OK ||
                size != block_size()) {
                return fail("zlib stream does not decompress to a page");
            }
            return out;
        }
        if (d.flags == 0x2) {  // DUMP_DH_COMPRESSED_LZO
            lzo_uint size = out.size();
            if (lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in), d.size,
                                      reinterpret_cast<unsigned char*>(out.data()), &size,
                                      nullptr) != LZO_E_OK ||
                size != block_size()) {
                return fail("lzo block does not decompress to a page");
            }
            return out;
        }
        return fail("unknown compression flags");
    }

  private:
    std::vector<std::byte> bytes_;
};

}  // namespace crashcapture::test
