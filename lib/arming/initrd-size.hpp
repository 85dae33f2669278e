// How much memory an initrd takes once the capture kernel has unpacked it
// into rootfs, read from the archive itself (issue 8: the capture kernel of
// a too small crashkernel= runs out of memory while unpacking its initrd).
//
// An initrd is a concatenation of segments, as the kernel reads it
// (init/initramfs.c unpack_to_rootfs()): zero bytes between segments are
// skipped; a segment starting with "0707" is an uncompressed cpio archive
// (an early microcode cpio, say) that ends after its "TRAILER!!!" entry;
// anything else is a compressed stream, recognised by its magic bytes
// (lib/decompress.c compressed_formats[]), which itself holds one or more
// cpio archives. Every segment is unpacked into the same rootfs.
//
// The cpio format is "newc" (070701) or "crc" (070702), the only ones the
// kernel reads (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte header of "070701" and 13 fields of 8 hex digits, the name
// (header + name padded to 4 bytes), the data (padded to 4 bytes).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace crashcapture {

// A segment we cannot decompress (xz, lzma, bzip2, lz4, lzo) is taken to
// unpack to this many times its size: xz, the densest of them, shrinks a
// dracut initrd about 4 times; gzip and zstd, which are read exactly, 3 to
// 3.5 times. Erring large is the safe side of a memory estimate.
inline constexpr uint64_t kUnknownCompressionFactor = 4;

struct InitrdSize {
    uint64_t archive_bytes = 0;  // the file as kexec_file_load() copies it
    // What rootfs (tmpfs) holds after unpacking: every regular file's data,
    // each rounded up to 4 KiB pages (tmpfs allocates whole pages).
    uint64_t unpacked_bytes = 0;
    uint64_t files = 0;    // regular files
    uint64_t entries = 0;  // every cpio entry (files, directories, links, nodes)
    // One word per segment, in order: "cpio", "gzip", "zstd", or the name of
    // a compression not read here ("xz", …).
    std::vector<std::string> segments;
    // True when part of unpacked_bytes is kUnknownCompressionFactor times a
    // segment's size rather than counted; note says which part and why.
    bool estimated = false;
    std::string note;
    // The names of the regular files, as the archive spells them ("usr/bin/ssh"),
    // in archive order; filled only when asked for (list_files).
    std::vector<std::string> file_names;
    // The names of the symbolic links, the same way: a program may be one
    // (thin-provisioning-tools' thin_check is a link to pdata_tools), and
    // missing_from_image() must find it.
    std::vector<std::string> link_names;
    // The content of dracut's squash image (kSquashImageName), when the
    // archive has one and list_files was asked for: the files inside it are
    // listed from it (list_initrd()).
    std::string squash_image;
    // The archive has dracut's squash image at its top (kSquashImageName):
    // the capture kernel mounts it rather than unpacking the files inside,
    // and the reservation's working margin is the squashed one
    // (capture_memory_need(), reservation.hpp).
    bool squashed = false;
};

// Where dracut's squash module (99squash, dracut.sh: squash_img=
// "$initdir/squash-root.img") puts the squashfs image that holds everything
// but its small loader.
inline constexpr std::string_view kSquashImageName = "squash-root.img";

// Walks the initrd in memory. An error only for input that cannot be an
// initrd at all (no segment can be recognised); a known segment that is
// truncated or corrupt counts what was read and says so in note, as the
// kernel unpacks what it can.
// list_files: also fill file_names (lib/arming/initrd-inputs.hpp maps them
// back to the host files they were copied from).
Result<InitrdSize> measure_initrd_data(std::string_view data, bool list_files = false);

// The same for a file (mapped, not read into memory).
Result<InitrdSize> measure_initrd(const std::string& path, bool list_files = false);

// measure_initrd(path, list_files) whose file_names are every regular file
// of the initrd, as the archive spells them ("usr/bin/ssh"): the cpio's,
// and with a squash image the files inside it too, listed by unsquashfs
// (squashfs-tools, which dracut's squash module needs); squash_image is
// released once listed. An error when the image cannot be listed whole.
Result<InitrdSize> list_initrd(const std::string& path);
// The regular files of `unsquashfs -llc -d ""`'s listing, without the
// leading '/': what list_initrd() adds for a squash image.
std::vector<std::string> squash_listing_files(std::string_view listing);
// Its symbolic links, without the leading '/' and without " -> target".
std::vector<std::string> squash_listing_links(std::string_view listing);

// measure_initrd() of the last file asked for, kept while it is the same
// file (path, device, inode, size and mtime unchanged): status queries and
// reservation checks do not unpack the initrd again, and a rebuilt one is
// measured anew.
class InitrdSizeCache {
  public:
    struct Measured {
        uint64_t file_bytes = 0;
        Result<InitrdSize> size = tl::unexpected(Error{});  // measure_initrd()'s
    };
    // An error (with errno) when the file cannot be stat'ed: there is none.
    Result<Measured> measure(const std::string& path);
    // How many times a file was walked: the cache's own test.
    uint64_t walks() const { return walks_; }

  private:
    std::string path_;
    dev_t device_ = 0;
    ino_t inode_ = 0;
    off_t size_ = 0;
    int64_t mtime_nsec_ = 0;
    std::optional<Measured> measured_;
    uint64_t walks_ = 0;
};

}  // namespace crashcapture
