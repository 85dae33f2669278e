#include "dump-sink.hpp"

#include <endian.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace crashcapture {
namespace {

// makedumpfile.h: MAKEDUMPFILE_SIGNATURE, TYPE_FLAT_HEADER, VERSION_FLAT_HEADER.
constexpr char kFlatSignature[] = "makedumpfile";
constexpr int64_t kFlatTypeFlatHeader = 1;
constexpr int64_t kFlatVersion = 1;
// END_FLAG_FLAT_HEADER: a record header of offset -1, size -1 ends the stream.
constexpr int64_t kFlatEndFlag = -1;

Status write_all(int fd, const std::byte* data, size_t size, const std::string& name) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot write to {}", name);
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return {};
}

class FileSink final : public DumpSink {
  public:
    FileSink(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

    Status write_at(uint64_t offset, std::span<const std::byte> data) override {
        size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                                       static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return make_errno_error(errno, "cannot write {} at offset {}", name_,
                                        offset + done);
            }
            if (n == 0) {
                return make_error(ENOSPC, "cannot write {} at offset {}: no space", name_,
                                  offset + done);
            }
            done += static_cast<size_t>(n);
            written_ += static_cast<uint64_t>(n);
        }
        return {};
    }
    Status finish() override {
        if (::fsync(fd_.get()) < 0 && errno != EINVAL) {
            return make_errno_error(errno, "cannot fsync {}", name_);
        }
        return {};
    }
    uint64_t bytes_written() const override { return written_; }
    bool is_stream() const override { return false; }

  private:
    UniqueFd fd_;
    std::string name_;
    uint64_t written_ = 0;
};

class FlattenedSink final : public DumpSink {
  public:
    FlattenedSink(UniqueFd fd, std::string name, size_t buffer_bytes)
        : fd_(std::move(fd)), name_(std::move(name)), capacity_(buffer_bytes) {
        buffer_.reserve(capacity_);
    }

    Status write_at(uint64_t offset, std::span<const std::byte> data) override {
        if (!header_written_) {
            std::array<std::byte, kFlatHeaderSize> header{};
            std::memcpy(header.data(), kFlatSignature, sizeof(kFlatSignature) - 1);
            put_be64(header.data() + 16, kFlatTypeFlatHeader);
            put_be64(header.data() + 24, kFlatVersion);
            if (auto s = append(header); !s) {
                return s;
            }
            header_written_ = true;
        }
        std::array<std::byte, kFlatRecordHeaderSize> record{};
        put_be64(record.data(), static_cast<int64_t>(offset));
        put_be64(record.data() + 8, static_cast<int64_t>(data.size()));
        if (auto s = append(record); !s) {
            return s;
        }
        return append(data);
    }
    Status finish() override {
        std::array<std::byte, kFlatRecordHeaderSize> end{};
        put_be64(end.data(), kFlatEndFlag);
        put_be64(end.data() + 8, kFlatEndFlag);
        if (auto s = append(end); !s) {
            return s;
        }
        if (auto s = flush(); !s) {
            return s;
        }
        // A pipe or socket cannot be fsynced (EINVAL/EROFS); a device or file can.
        if (::fsync(fd_.get()) < 0 && errno != EINVAL && errno != EROFS) {
            return make_errno_error(errno, "cannot fsync {}", name_);
        }
        return {};
    }
    uint64_t bytes_written() const override { return written_; }
    bool is_stream() const override { return true; }

  private:
    static void put_be64(std::byte* at, int64_t value) {
        const uint64_t be = htobe64(static_cast<uint64_t>(value));
        std::memcpy(at, &be, sizeof(be));
    }
    Status append(std::span<const std::byte> data) {
        if (buffer_.size() + data.size() > capacity_) {
            if (auto s = flush(); !s) {
                return s;
            }
        }
        if (data.size() >= capacity_) {
            written_ += data.size();
            return write_all(fd_.get(), data.data(), data.size(), name_);
        }
        buffer_.insert(buffer_.end(), data.begin(), data.end());
        return {};
    }
    Status flush() {
        if (buffer_.empty()) {
            return {};
        }
        written_ += buffer_.size();
        auto s = write_all(fd_.get(), buffer_.data(), buffer_.size(), name_);
        buffer_.clear();
        return s;
    }

    UniqueFd fd_;
    std::string name_;
    size_t capacity_;
    std::vector<std::byte> buffer_;
    bool header_written_ = false;
    uint64_t written_ = 0;
};

Status read_exact(int fd, std::byte* out, size_t size, bool* clean_eof) {
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, out + done, size - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot read the flattened stream");
        }
        if (n == 0) {
            if (clean_eof && done == 0) {
                *clean_eof = true;
                return {};
            }
            return make_error(ENODATA, "the flattened stream ends in the middle of a record");
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

int64_t get_be64(const std::byte* at) {
    uint64_t be;
    std::memcpy(&be, at, sizeof(be));
    return static_cast<int64_t>(be64toh(be));
}

}  // namespace

std::unique_ptr<DumpSink> make_file_sink(UniqueFd fd, std::string name) {
    return std::make_unique<FileSink>(std::move(fd), std::move(name));
}

std::unique_ptr<DumpSink> make_flattened_sink(UniqueFd fd, std::string name, size_t buffer_bytes) {
    return std::make_unique<FlattenedSink>(std::move(fd), std::move(name), buffer_bytes);
}

bool is_flattened_header(std::span<const std::byte> head) {
    return head.size() >= 24 &&
           std::memcmp(head.data(), kFlatSignature, sizeof(kFlatSignature)) == 0 &&
           get_be64(head.data() + 16) == kFlatTypeFlatHeader;
}

Status reassemble_flattened(int in_fd, int out_fd, uint64_t max_file_bytes, bool* output_failed) {
    if (output_failed != nullptr) {
        *output_failed = false;
    }
    std::vector<std::byte> header(kFlatHeaderSize);
    if (auto s = read_exact(in_fd, header.data(), header.size(), nullptr); !s) {
        return s;
    }
    if (!is_flattened_header(header)) {
        return make_error(0, "not a flattened dump (no \"makedumpfile\" signature)");
    }
    std::vector<std::byte> buffer(1 << 20);
    for (;;) {
        std::array<std::byte, kFlatRecordHeaderSize> record;
        bool eof = false;
        if (auto s = read_exact(in_fd, record.data(), record.size(), &eof); !s) {
            return s;
        }
        if (eof) {
            return make_error(ENODATA, "the flattened stream has no end marker: it is truncated");
        }
        const int64_t offset = get_be64(record.data());
        const int64_t size = get_be64(record.data() + 8);
        if (offset == kFlatEndFlag && size == kFlatEndFlag) {
            return {};
        }
        if (offset < 0 || size <= 0) {
            return make_error(0, "corrupt flattened record (offset {}, size {})", offset, size);
        }
        if (static_cast<uint64_t>(offset) > max_file_bytes ||
            static_cast<uint64_t>(size) > max_file_bytes - static_cast<uint64_t>(offset)) {
            return make_error(0,
                              "corrupt flattened record (offset {}, size {}: beyond {} bytes, "
                              "the most the stream can hold)",
                              offset, size, max_file_bytes);
        }
        for (int64_t done = 0; done < size;) {
            const size_t chunk = static_cast<size_t>(std::min<int64_t>(size - done, buffer.size()));
            if (auto s = read_exact(in_fd, buffer.data(), chunk, nullptr); !s) {
                return s;
            }
            for (size_t written = 0; written < chunk;) {
                const ssize_t n = ::pwrite(out_fd, buffer.data() + written, chunk - written,
                                           offset + done + static_cast<int64_t>(written));
                if (n < 0) {
                    if (errno == EINTR) {
                        continue;
                    }
                    if (output_failed != nullptr) {
                        *output_failed = true;
                    }
                    return make_errno_error(errno, "cannot write the reassembled dump");
                }
                written += static_cast<size_t>(n);
            }
            done += static_cast<int64_t>(chunk);
        }
    }
}

}  // namespace crashcapture
