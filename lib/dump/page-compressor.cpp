#include "page-compressor.hpp"

#include <lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <vector>

namespace crashcapture {

// Flags from makedumpfile diskdump_mod.h (also crash's diskdump.h).
constexpr uint32_t kDumpCompressedZlib = 0x1;   // DUMP_DH_COMPRESSED_ZLIB
constexpr uint32_t kDumpCompressedLzo = 0x2;    // DUMP_DH_COMPRESSED_LZO
constexpr uint32_t kDumpCompressedZstd = 0x20;  // DUMP_DH_COMPRESSED_ZSTD

// lzo1x_1_compress() takes no output limit: its worst case for n input bytes
// is n + n / 16 + 64 + 3 (LZO's FAQ, "expansion of incompressible data").
constexpr size_t lzo_worst_case_bytes(size_t n) {
    return n + n / 16 + 64 + 3;
}

std::optional<Compression> parse_compression(std::string_view name) {
    if (name == "none") {
        return Compression::none;
    }
    if (name == "zlib") {
        return Compression::zlib;
    }
    if (name == "zstd") {
        return Compression::zstd;
    }
    if (name == "lzo") {
        return Compression::lzo;
    }
    return std::nullopt;
}

std::string_view to_string(Compression compression) {
    switch (compression) {
        case Compression::none:
            return "none";
        case Compression::zlib:
            return "zlib";
        case Compression::lzo:
            return "lzo";
        case Compression::zstd:
            return "zstd";
    }
    return "unknown";
}

uint32_t kdump_compression_flag(Compression compression) {
    switch (compression) {
        case Compression::zlib:
            return kDumpCompressedZlib;
        case Compression::lzo:
            return kDumpCompressedLzo;
        case Compression::zstd:
            return kDumpCompressedZstd;
        case Compression::none:
            break;
    }
    return 0;
}

int default_compression_level(Compression compression) {
    return compression == Compression::zlib ? Z_BEST_SPEED : 1;
}

struct PageCompressor::Codec {
    int level = 1;
    ZSTD_CCtx* zstd = nullptr;
    z_stream zlib{};
    bool zlib_ready = false;
    // lzo1x_1's dictionary (LZO1X_1_MEM_COMPRESS, 64 KiB on 64-bit) and a
    // worst-case output buffer, made once per compressor.
    std::vector<unsigned char> lzo_work;
    std::vector<unsigned char> lzo_out;
    ~Codec() {
        ZSTD_freeCCtx(zstd);
        if (zlib_ready) {
            deflateEnd(&zlib);
        }
    }
};

PageCompressor::PageCompressor(Compression compression, std::unique_ptr<Codec> codec)
    : compression_(compression), codec_(std::move(codec)) {}
PageCompressor::PageCompressor(PageCompressor&&) noexcept = default;
PageCompressor& PageCompressor::operator=(PageCompressor&&) noexcept = default;
PageCompressor::~PageCompressor() = default;

Result<PageCompressor> PageCompressor::create(Compression compression, int level,
                                              size_t page_size) {
    if (page_size == 0 || page_size > (1u << 20)) {
        return make_error(EINVAL, "page size {} is not supported", page_size);
    }
    auto codec = std::make_unique<Codec>();
    codec->level = level;
    if (compression == Compression::zstd) {
        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
            return make_error(EINVAL, "zstd level {} is outside {}..{}", level, ZSTD_minCLevel(),
                              ZSTD_maxCLevel());
        }
        codec->zstd = ZSTD_createCCtx();
        if (!codec->zstd) {
            return make_error(ENOMEM, "cannot create a zstd context");
        }
        ZSTD_CCtx_setParameter(codec->zstd, ZSTD_c_compressionLevel, level);
        // Every page is one whole frame with its size in the header, as
        // crash and libkdumpfile decompress with one-shot calls.
        ZSTD_CCtx_setParameter(codec->zstd, ZSTD_c_contentSizeFlag, 1);
        ZSTD_CCtx_setParameter(codec->zstd, ZSTD_c_checksumFlag, 0);
    } else if (compression == Compression::zlib) {
        if (level < 1 || level > 9) {
            return make_error(EINVAL, "zlib level {} is outside 1..9", level);
        }
        if (deflateInit(&codec->zlib, level) != Z_OK) {
            return make_error(ENOMEM, "cannot create a zlib stream");
        }
        codec->zlib_ready = true;
    } else if (compression == Compression::lzo) {
        if (level != 1) {
            return make_error(EINVAL, "lzo has one level (lzo1x_1), 1, not {}", level);
        }
        // lzo_init() checks that the library was built for this ABI; it
        // may be called more than once (lzo/lzoconf.h).
        if (lzo_init() != LZO_E_OK) {
            return make_error(ENOTSUP, "liblzo2 does not match the headers it was built with");
        }
        codec->lzo_work.resize(LZO1X_1_MEM_COMPRESS);
        codec->lzo_out.resize(lzo_worst_case_bytes(page_size));
    }
    return PageCompressor(compression, std::move(codec));
}

size_t PageCompressor::compress(std::span<const std::byte> page, std::span<std::byte> out) {
    // A result must be strictly smaller than the page: readers take a stored
    // size equal to the page size as raw (crash diskdump.c cache_page()).
    const size_t limit = std::min(out.size(), page.size() - 1);
    switch (compression_) {
        case Compression::none:
            return 0;
        case Compression::zstd: {
            const size_t n =
                ZSTD_compress2(codec_->zstd, out.data(), limit, page.data(), page.size());
            return ZSTD_isError(n) ? 0 : n;
        }
        case Compression::zlib: {
            // A reused stream (deflateReset) instead of compress2(): makedumpfile
            // commit aa5ee50 measured 25 s -> 18 s from saving the allocations.
            z_stream& stream = codec_->zlib;
            deflateReset(&stream);
            stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(page.data()));
            stream.avail_in = static_cast<uInt>(page.size());
            stream.next_out = reinterpret_cast<Bytef*>(out.data());
            stream.avail_out = static_cast<uInt>(limit);
            if (deflate(&stream, Z_FINISH) != Z_STREAM_END) {
                return 0;
            }
            return limit - stream.avail_out;
        }
        case Compression::lzo: {
            lzo_uint n = 0;
            const int result =
                lzo1x_1_compress(reinterpret_cast<const unsigned char*>(page.data()), page.size(),
                                 codec_->lzo_out.data(), &n, codec_->lzo_work.data());
            if (result != LZO_E_OK || n == 0 || n > limit) {
                return 0;
            }
            std::memcpy(out.data(), codec_->lzo_out.data(), n);
            return n;
        }
    }
    return 0;
}

}  // namespace crashcapture
