// Initrd images for tests: cpio "newc" entries and the gzip and zstd
// streams the kernel unpacks (Documentation/driver-api/early-userspace/
// buffer-format.rst). Shared by the initrd-size unit tests and the fuzz
// corpus generator (tests/fuzz/make-corpus.cpp).
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace crashcapture::test {

// One newc entry: "070701", 13 eight-digit hex fields (inode, mode, uid,
// gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
// namesize, check), the name and its NUL padded to 4 bytes, the data padded
// to 4 bytes. Inodes count up from 1 in each program.
inline std::string newc_entry(const std::string& name, uint32_t mode, const std::string& data) {
    static uint32_t inode = 1;
    char header[111];
    std::snprintf(header, sizeof(header),
                  "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", inode++, mode, 0u,
                  0u, 1u, 0u, static_cast<uint32_t>(data.size()), 0u, 0u, 0u, 0u,
                  static_cast<uint32_t>(name.size() + 1), 0u);
    std::string out = header;
    out += name;
    out.push_back('\0');
    out.append((4 - out.size() % 4) % 4, '\0');
    out += data;
    out.append((4 - data.size() % 4) % 4, '\0');
    return out;
}

// A gzip stream (level 6), as gzip(1) writes it: windowBits 16 + 15 asks
// zlib for the gzip wrapper (zlib.h deflateInit2).
inline std::string gzip(const std::string& data) {
    z_stream stream{};
    if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("deflateInit2 failed");
    }
    std::string out(deflateBound(&stream, data.size()) + 64, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    const int status = deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    if (status != Z_STREAM_END) {
        throw std::runtime_error("deflate did not finish the stream");
    }
    return out;
}

// A zstd frame (level 3, zstd(1)'s default).
inline std::string zstd(const std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const size_t size = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(size)) {
        throw std::runtime_error(std::string("ZSTD_compress: ") + ZSTD_getErrorName(size));
    }
    out.resize(size);
    return out;
}

}  // namespace crashcapture::test
