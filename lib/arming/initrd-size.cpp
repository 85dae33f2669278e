#include "initrd-size.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <optional>

#include "file-util.hpp"
#include "process.hpp"
#include "unique-fd.hpp"

namespace crashcapture {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
// tmpfs stores file data in whole pages (x86_64: 4 KiB).
constexpr uint64_t kPageBytes = 4096;
// buffer-format.rst: "070701" + 13 fields of 8 hex digits.
constexpr size_t kCpioHeaderBytes = 110;
constexpr size_t kCpioFieldBytes = 8;
// include/uapi/linux/stat.h S_IFMT, S_IFREG (cpio keeps st_mode as is).
constexpr uint32_t kModeTypeMask = 0170000;
constexpr uint32_t kModeRegular = 0100000;
// S_IFLNK.
constexpr uint32_t kModeSymlink = 0120000;
// The name of the last entry of every archive, with its NUL.
constexpr std::string_view kTrailerName{"TRAILER!!!\0", 11};
// The longest name worth keeping to compare with the trailer's.
constexpr size_t kNameKept = 16;
// What the listing reserves up front for squash-root.img: dracut's squashed
// capture initrds hold 12-20 MB images.
constexpr uint64_t kSquashImageReservedBytes = 64 * kMiB;
static_assert(kSquashImageName.size() + 1 <= kNameKept);
// Decompression output per step: small, the data is counted, not kept.
constexpr size_t kChunkBytes = 64 * 1024;
// A "compressed" stream that unpacks to more than this is not an initrd
// (or a decompression bomb): stop counting, and say so.
constexpr uint64_t kMaxUnpackedBytes = 16ULL * 1024 * kMiB;

uint64_t round_up_page(uint64_t bytes) {
    return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
}

std::optional<uint32_t> parse_hex_field(const std::array<char, kCpioHeaderBytes>& header,
                                        size_t index) {
    uint32_t value = 0;
    const size_t start = 6 + index * kCpioFieldBytes;
    for (size_t i = start; i < start + kCpioFieldBytes; ++i) {
        const char c = header[i];
        uint32_t digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = static_cast<uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            digit = static_cast<uint32_t>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
        value = value << 4 | digit;
    }
    return value;
}

uint64_t padding_to_4(uint64_t bytes) {
    return (4 - bytes % 4) % 4;
}

// The cpio state machine of init/initramfs.c, counting instead of writing.
// Fed in pieces of any size; zero bytes between archives are skipped.
class CpioWalker {
  public:
    CpioWalker(InitrdSize& size, bool stop_after_trailer, bool list_files)
        : size_(size), stop_after_trailer_(stop_after_trailer), list_files_(list_files) {}

    // Returns the bytes consumed: all of them, or (when stopping after the
    // trailer) those up to the end of the first archive.
    Result<size_t> feed(const unsigned char* data, size_t length) {
        size_t i = 0;
        while (i < length) {
            switch (state_) {
                case State::header: {
                    if (filled_ == 0 && data[i] == 0) {
                        ++i;  // padding between archives
                        continue;
                    }
                    const size_t n = std::min(kCpioHeaderBytes - filled_, length - i);
                    std::copy_n(data + i, n, header_.begin() + static_cast<ptrdiff_t>(filled_));
                    filled_ += n;
                    i += n;
                    if (filled_ == kCpioHeaderBytes) {
                        if (auto s = parse_header(); !s) {
                            return tl::unexpected(s.error());
                        }
                    }
                    break;
                }
                case State::name: {
                    const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, length - i));
                    const size_t keep =
                        list_files_ ? n
                                    : std::min(n, kNameKept - std::min(kNameKept, name_.size()));
                    name_.append(reinterpret_cast<const char*>(data + i), keep);
                    i += n;
                    left_ -= n;
                    if (left_ == 0) {
                        end_of_name();
                    }
                    break;
                }
                case State::skip: {
                    const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, length - i));
                    if (keep_data_) {
                        keep_data(data + i, n);
                    }
                    i += n;
                    left_ -= n;
                    if (left_ == 0) {
                        state_ = State::header;
                        filled_ = 0;
                        if (in_trailer_) {
                            in_trailer_ = false;
                            ended_ = true;
                            if (stop_after_trailer_) {
                                return i;
                            }
                        }
                    }
                    break;
                }
            }
        }
        return i;
    }

    // The last archive ended with its trailer, nothing after it half read.
    bool ended() const { return ended_ && state_ == State::header && filled_ == 0; }
    bool inside_entry() const { return state_ != State::header || filled_ != 0; }

  private:
    enum class State { header, name, skip };

    Status parse_header() {
        const std::string_view magic(header_.data(), 6);
        if (magic != "070701" && magic != "070702") {
            return make_error(EINVAL, "not a cpio header (magic \"{}\")", magic);
        }
        // Fields: ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
        // devminor, rdevmajor, rdevminor, namesize, check.
        const auto mode = parse_hex_field(header_, 1);
        const auto file_size = parse_hex_field(header_, 6);
        const auto name_size = parse_hex_field(header_, 11);
        if (!mode || !file_size || !name_size || *name_size == 0) {
            return make_error(EINVAL, "a cpio header with a malformed field");
        }
        ended_ = false;
        mode_ = *mode;
        file_size_ = *file_size;
        name_size_ = *name_size;
        name_.clear();
        left_ = name_size_;
        state_ = State::name;
        return {};
    }

    void end_of_name() {
        in_trailer_ = name_size_ == kTrailerName.size() && name_ == kTrailerName;
        if (!in_trailer_) {
            ++size_.entries;
            if ((mode_ & kModeTypeMask) == kModeRegular) {
                ++size_.files;
                size_.unpacked_bytes += round_up_page(file_size_);
                // name_ keeps kNameKept bytes when not listing: the name
                // and its NUL fit.
                const bool squash_image = std::string_view(name_.c_str()) == kSquashImageName;
                size_.squashed = size_.squashed || squash_image;
                if (list_files_) {
                    // The name ends with its NUL (namesize counts it).
                    size_.file_names.emplace_back(name_.c_str());
                    keep_data_ = squash_image && file_size_ > 0;
                    if (keep_data_) {
                        // The header's size is untrusted (the fuzzer's 2 GiB
                        // reserve): room for a real image only, and the
                        // string grows with the bytes that really come.
                        size_.squash_image.clear();
                        size_.squash_image.reserve(static_cast<size_t>(
                            std::min<uint64_t>(file_size_, kSquashImageReservedBytes)));
                    }
                }
            } else if ((mode_ & kModeTypeMask) == kModeSymlink && list_files_) {
                size_.link_names.emplace_back(name_.c_str());
            }
        }
        data_start_ = padding_to_4(kCpioHeaderBytes + name_size_);
        skipped_ = 0;
        left_ = data_start_ + file_size_ + padding_to_4(file_size_);
        state_ = State::skip;
        if (left_ == 0) {
            // Nothing to skip: the entry ends here.
            state_ = State::header;
            filled_ = 0;
            if (in_trailer_) {
                in_trailer_ = false;
                ended_ = true;
            }
        }
    }

    // Keeps the part of [data, data + n) of the entry being skipped that is
    // its file data (after the name's padding, before the data's).
    void keep_data(const unsigned char* data, size_t n) {
        const uint64_t from = std::max(skipped_, data_start_);
        const uint64_t to = std::min(skipped_ + n, data_start_ + file_size_);
        if (from < to) {
            size_.squash_image.append(reinterpret_cast<const char*>(data + (from - skipped_)),
                                      static_cast<size_t>(to - from));
        }
        skipped_ += n;
        if (skipped_ >= data_start_ + file_size_) {
            keep_data_ = false;
        }
    }

    InitrdSize& size_;
    bool stop_after_trailer_;
    bool list_files_;
    bool keep_data_ = false;
    uint64_t data_start_ = 0;  // the entry's data, counted from the end of its header
    uint64_t skipped_ = 0;
    State state_ = State::header;
    std::array<char, kCpioHeaderBytes> header_{};
    size_t filled_ = 0;
    uint32_t mode_ = 0;
    uint64_t file_size_ = 0;
    uint64_t name_size_ = 0;
    std::string name_;
    uint64_t left_ = 0;
    bool in_trailer_ = false;
    bool ended_ = false;
};

void add_note(InitrdSize& size, const std::string& note) {
    size.note += (size.note.empty() ? "" : "; ") + note;
}

// What a decompressor left: how much input it used, and whether the cpio
// inside was whole.
struct StreamOutcome {
    size_t consumed = 0;
    bool stopped = false;  // an error, a truncation or the bomb limit: stop walking
};

// Feeds a decompressed chunk to the walker; false (with a note) to stop.
bool feed_walker(CpioWalker& walker, InitrdSize& size, uint64_t& total, const unsigned char* data,
                 size_t length, std::string_view what) {
    total += length;
    if (total > kMaxUnpackedBytes) {
        add_note(size, fmt::format("the {} segment unpacks to more than {} GiB; counting stopped",
                                   what, kMaxUnpackedBytes >> 30));
        size.estimated = true;
        return false;
    }
    if (auto fed = walker.feed(data, length); !fed) {
        add_note(size, fmt::format("the {} segment holds {}; counted up to there", what,
                                   fed.error().message));
        return false;
    }
    return true;
}

StreamOutcome walk_gzip(std::string_view input, InitrdSize& size, bool list_files) {
    StreamOutcome outcome;
    z_stream stream{};
    // 16 + MAX_WBITS: a gzip wrapper (zlib.h, inflateInit2).
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
        add_note(size, "zlib could not be initialised");
        outcome.stopped = true;
        return outcome;
    }
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
    CpioWalker walker(size, false, list_files);
    std::array<unsigned char, kChunkBytes> buffer;
    uint64_t total = 0;
    size_t offset = 0;
    for (;;) {
        if (stream.avail_in == 0 && offset < input.size()) {
            const size_t n = std::min<size_t>(input.size() - offset, UINT_MAX);
            stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data() + offset));
            stream.avail_in = static_cast<uInt>(n);
            offset += n;
        }
        stream.next_out = buffer.data();
        stream.avail_out = static_cast<uInt>(buffer.size());
        const int rc = inflate(&stream, Z_NO_FLUSH);
        const size_t produced = buffer.size() - stream.avail_out;
        if (!feed_walker(walker, size, total, buffer.data(), produced, "gzip")) {
            outcome.stopped = true;
            break;
        }
        if (rc == Z_STREAM_END) {
            break;
        }
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && stream.avail_in == 0 && offset < input.size())) {
            add_note(size, rc == Z_BUF_ERROR ? std::string("the gzip segment is truncated")
                                             : fmt::format("the gzip segment is corrupt ({})",
                                                           stream.msg ? stream.msg : "zlib error"));
            outcome.stopped = true;
            break;
        }
    }
    if (!outcome.stopped && walker.inside_entry()) {
        add_note(size, "the cpio archive in the gzip segment is cut short");
    }
    outcome.consumed = static_cast<size_t>(stream.total_in);
    return outcome;
}

StreamOutcome walk_zstd(std::string_view input, InitrdSize& size, bool list_files) {
    StreamOutcome outcome;
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!context) {
        add_note(size, "zstd could not be initialised");
        outcome.stopped = true;
        return outcome;
    }
    CpioWalker walker(size, false, list_files);
    std::array<unsigned char, kChunkBytes> buffer;
    uint64_t total = 0;
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
        ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
        const size_t rc = ZSTD_decompressStream(context.get(), &out, &in);
        if (ZSTD_isError(rc)) {
            add_note(size, fmt::format("the zstd segment is corrupt ({})", ZSTD_getErrorName(rc)));
            outcome.stopped = true;
            break;
        }
        if (!feed_walker(walker, size, total, buffer.data(), out.pos, "zstd")) {
            outcome.stopped = true;
            break;
        }
        if (rc == 0) {
            break;  // the frame is complete and flushed
        }
        if (in.pos == in.size && out.pos < out.size) {
            add_note(size, "the zstd segment is truncated");
            outcome.stopped = true;
            break;
        }
    }
    if (!outcome.stopped && walker.inside_entry()) {
        add_note(size, "the cpio archive in the zstd segment is cut short");
    }
    outcome.consumed = in.pos;
    return outcome;
}

// lib/decompress.c compressed_formats[]: the magic bytes of what the kernel
// can unpack. gzip and zstd are read here; the others are named.
std::string_view compression_name(std::string_view data) {
    auto starts = [&](std::string_view magic) { return data.starts_with(magic); };
    if (starts("\x1f\x8b") || starts("\x1f\x9e")) {
        return "gzip";
    }
    if (starts("\x28\xb5\x2f\xfd")) {
        return "zstd";
    }
    if (starts(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6))) {
        return "xz";
    }
    if (starts(std::string_view("\x5d\x00\x00", 3))) {
        return "lzma";
    }
    if (starts("BZh")) {
        return "bzip2";
    }
    if (starts("\x02\x21\x4c\x18")) {
        return "lz4";
    }
    if (starts("\x89\x4c\x5a\x4f")) {
        return "lzo";
    }
    return {};
}

}  // namespace

Result<InitrdSize> measure_initrd_data(std::string_view data, bool list_files) {
    InitrdSize size;
    size.archive_bytes = data.size();
    size_t pos = 0;
    while (pos < data.size()) {
        if (data[pos] == '\0') {
            ++pos;
            continue;
        }
        const std::string_view rest = data.substr(pos);
        if (rest.starts_with("0707")) {
            CpioWalker walker(size, true, list_files);
            auto consumed =
                walker.feed(reinterpret_cast<const unsigned char*>(rest.data()), rest.size());
            if (!consumed) {
                if (size.segments.empty()) {
                    return propagate(consumed.error(), "not an initrd");
                }
                add_note(size, fmt::format("the cpio segment at byte {} holds {}; counted up to "
                                           "there",
                                           pos, consumed.error().message));
                break;
            }
            if (!walker.ended() && size.segments.empty() && size.entries == 0) {
                return make_error(EINVAL,
                                  "not an initrd: a cpio archive cut short before its "
                                  "first entry");
            }
            size.segments.emplace_back("cpio");
            if (!walker.ended()) {
                add_note(size, fmt::format("the cpio segment at byte {} is cut short", pos));
                break;
            }
            pos += *consumed;
            continue;
        }
        const std::string_view compression = compression_name(rest);
        if (compression == "gzip" || compression == "zstd") {
            const auto outcome = compression == "gzip" ? walk_gzip(rest, size, list_files)
                                                       : walk_zstd(rest, size, list_files);
            size.segments.emplace_back(compression);
            if (outcome.stopped || outcome.consumed == 0) {
                break;
            }
            pos += outcome.consumed;
            continue;
        }
        if (compression.empty() && size.segments.empty()) {
            return make_error(EINVAL,
                              "not an initrd: neither a cpio archive nor a compression the "
                              "kernel knows at its start");
        }
        // A compression not read here, or bytes the kernel would call junk:
        // taken as kUnknownCompressionFactor times their size.
        const std::string name = compression.empty() ? "unknown" : std::string(compression);
        size.segments.push_back(name);
        size.unpacked_bytes += rest.size() * kUnknownCompressionFactor;
        size.estimated = true;
        add_note(size, fmt::format("{} bytes at byte {} are {}: their unpacked size is taken as "
                                   "{} times that",
                                   rest.size(), pos,
                                   compression.empty() ? std::string("not a known format")
                                                       : name + "-compressed, not read here",
                                   kUnknownCompressionFactor));
        break;
    }
    return size;
}

Result<InitrdSize> measure_initrd(const std::string& path, bool list_files) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return make_error(EINVAL, "{} is not a regular file", path);
    }
    if (st.st_size == 0) {
        return make_error(EINVAL, "{} is empty", path);
    }
    const auto length = static_cast<size_t>(st.st_size);
    void* mapped = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) {
        return make_errno_error(errno, "cannot map {}", path);
    }
    auto result =
        measure_initrd_data(std::string_view(static_cast<const char*>(mapped), length), list_files);
    ::munmap(mapped, length);
    if (!result) {
        return propagate(result.error(), path);
    }
    return result;
}

namespace {

// The paths of the entries of one type in `unsquashfs -llc`'s listing:
// "-rw-r--r-- root/root 1234 2026-12-07 00:07 /usr/bin/ssh", the type the
// mode's first letter (unsquashfs.c's modestr: '-' a regular file, 'l' a
// symbolic link, listed as "/bin -> usr/bin"); five fields, then the path.
std::vector<std::string> squash_listing_paths(std::string_view listing, char type) {
    std::vector<std::string> paths;
    while (!listing.empty()) {
        const size_t end = std::min(listing.find('\n'), listing.size());
        std::string_view line = listing.substr(0, end);
        listing.remove_prefix(std::min(end + 1, listing.size()));
        if (!line.starts_with(type)) {
            continue;
        }
        for (int field = 0; field < 5 && !line.empty(); ++field) {
            line.remove_prefix(std::min(line.find(' '), line.size()));
            line.remove_prefix(std::min(line.find_first_not_of(' '), line.size()));
        }
        while (line.starts_with('/')) {
            line.remove_prefix(1);
        }
        if (type == 'l') {
            line = line.substr(0, line.rfind(" -> "));
        }
        if (!line.empty()) {
            paths.emplace_back(line);
        }
    }
    return paths;
}

}  // namespace

std::vector<std::string> squash_listing_files(std::string_view listing) {
    return squash_listing_paths(listing, '-');
}

std::vector<std::string> squash_listing_links(std::string_view listing) {
    return squash_listing_paths(listing, 'l');
}

Result<InitrdSize> list_initrd(const std::string& path) {
    auto listed = measure_initrd(path, /*list_files=*/true);
    if (!listed) {
        return listed;
    }
    if (!listed->note.empty()) {
        // A listing with holes would leave inputs unwatched and modules
        // unchecked.
        return make_error(EINVAL, "cannot list every file of {}: {}", path, listed->note);
    }
    if (listed->squash_image.empty()) {
        return listed;
    }
    // unsquashfs reads a file: a private copy of the image in /tmp (the
    // daemon's builder has a PrivateTmp of its own).
    char copy_name[] = "/tmp/crashcapture-squash.XXXXXX";
    UniqueFd copy(::mkostemp(copy_name, O_CLOEXEC));
    if (!copy) {
        return make_errno_error(errno, "cannot create a file in /tmp for {}'s squash image", path);
    }
    const std::string copy_path = copy_name;
    const Status written = write_all(copy.get(), listed->squash_image, copy_path);
    copy.reset();
    std::string().swap(listed->squash_image);
    if (!written) {
        ::unlink(copy_path.c_str());
        return propagate(written.error(), fmt::format("cannot copy {}'s squash image", path));
    }
    // -llc: every file but directories, with its mode; -d "": paths
    // from the image's root rather than under squashfs-root/.
    auto listing = program_output({"unsquashfs", "-llc", "-d", "", copy_path});
    ::unlink(copy_path.c_str());
    if (!listing) {
        return propagate(listing.error(),
                         fmt::format("cannot list the squash image inside {} (unsquashfs, from "
                                     "squashfs-tools)",
                                     path));
    }
    for (auto& file : squash_listing_files(*listing)) {
        listed->file_names.push_back(std::move(file));
    }
    for (auto& link : squash_listing_links(*listing)) {
        listed->link_names.push_back(std::move(link));
    }
    return listed;
}

Result<InitrdSizeCache::Measured> InitrdSizeCache::measure(const std::string& path) {
    struct stat file {};
    if (::stat(path.c_str(), &file) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    const int64_t mtime_nsec =
        static_cast<int64_t>(file.st_mtim.tv_sec) * 1000000000 + file.st_mtim.tv_nsec;
    if (!measured_ || path_ != path || device_ != file.st_dev || inode_ != file.st_ino ||
        size_ != file.st_size || mtime_nsec_ != mtime_nsec) {
        path_ = path;
        device_ = file.st_dev;
        inode_ = file.st_ino;
        size_ = file.st_size;
        mtime_nsec_ = mtime_nsec;
        measured_ = Measured{static_cast<uint64_t>(file.st_size), measure_initrd(path)};
        ++walks_;
    }
    return *measured_;
}

}  // namespace crashcapture
