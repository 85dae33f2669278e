// Per-page compression for the kdump-compressed format: every page is an
// independent unit (readers decompress one page at a time), and a page that
// does not shrink is stored raw (makedumpfile write_kdump_pages_cyclic()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "result.hpp"

namespace crashcapture {

enum class Compression { none, zlib, lzo, zstd };

std::optional<Compression> parse_compression(std::string_view name);
std::string_view to_string(Compression compression);

// page_desc.flags / disk_dump_header.status bit of a method
// (makedumpfile diskdump_mod.h DUMP_DH_COMPRESSED_*); 0 for none.
uint32_t kdump_compression_flag(Compression compression);

// Default level per method: zstd 1 and zlib 1 (Z_BEST_SPEED), as makedumpfile
// uses; lzo has one (lzo1x_1, makedumpfile -l), so its level is 1.
int default_compression_level(Compression compression);

class PageCompressor {
  public:
    static Result<PageCompressor> create(Compression compression, int level, size_t page_size);
    PageCompressor(PageCompressor&&) noexcept;
    PageCompressor& operator=(PageCompressor&&) noexcept;
    ~PageCompressor();

    // Compresses one page into out (at least page_size bytes). Returns the
    // compressed size when it is smaller than the page, or 0 when the page
    // must be stored raw (method none, incompressible data, or a codec error).
    size_t compress(std::span<const std::byte> page, std::span<std::byte> out);

    Compression compression() const { return compression_; }

  private:
    struct Codec;
    PageCompressor(Compression compression, std::unique_ptr<Codec> codec);
    Compression compression_;
    std::unique_ptr<Codec> codec_;
};

}  // namespace crashcapture
