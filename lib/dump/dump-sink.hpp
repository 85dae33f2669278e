// Where a dump's bytes go. The writers produce "bytes at offset" and do not
// care whether they land in a seekable file or in makedumpfile's flattened
// stream (for ssh and raw devices: offset+size records that
// `makedumpfile -R` replays into a file; makedumpfile IMPLEMENTATION,
// "The flattened format").
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

class DumpSink {
  public:
    virtual ~DumpSink() = default;
    virtual Status write_at(uint64_t offset, std::span<const std::byte> data) = 0;
    // Makes everything durable (fsync) or ends the stream (end marker, flush).
    virtual Status finish() = 0;
    // Bytes handed to the device so far, headers of the stream included.
    virtual uint64_t bytes_written() const = 0;
    // True when a region may be rewritten later (the incomplete flag of a
    // header). A stream can do it too: later records win in `makedumpfile -R`.
    virtual bool is_stream() const = 0;
};

// pwrite() into a regular file or block device; finish() fsyncs.
std::unique_ptr<DumpSink> make_file_sink(UniqueFd fd, std::string name);

// The flattened stream on any fd (stdout, a pipe, a raw device opened for
// sequential writing). Buffers up to buffer_bytes before each write().
std::unique_ptr<DumpSink> make_flattened_sink(UniqueFd fd, std::string name,
                                              size_t buffer_bytes = 1 << 20);

// The flattened format's fixed parts (makedumpfile.h struct
// makedumpfile_header / makedumpfile_data_header, all big-endian).
inline constexpr size_t kFlatHeaderSize = 4096;  // MAX_SIZE_MDF_HEADER
inline constexpr size_t kFlatRecordHeaderSize = 16;

// Replays a flattened stream into a seekable file, as `makedumpfile -R`
// does; used by tests and by the daemon to recover raw-device dumps. A record
// reaching past max_file_bytes is refused: on a raw device whose stream was
// cut short, what follows is an older capture's bytes, and a misread offset
// must not become a sparse file of any size. A stream holds every byte of
// the file it replays, so the stream's own length (the device's size) is a
// safe limit.
// When output_failed is given, it tells a failure to write out_fd (a full
// disk: worth another try) from a stream that is cut short or corrupt.
Status reassemble_flattened(int in_fd, int out_fd,
                            uint64_t max_file_bytes = std::numeric_limits<uint64_t>::max(),
                            bool* output_failed = nullptr);

// Whether these bytes (the first of a file or device) start a flattened
// stream: the "makedumpfile" signature and type 1 (TYPE_FLAT_HEADER).
bool is_flattened_header(std::span<const std::byte> head);

}  // namespace crashcapture
