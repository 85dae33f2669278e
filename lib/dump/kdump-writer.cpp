#include <algorithm>
#include <cstring>
#include <vector>

#include "dump-writer.hpp"
#include "parallel-for.hpp"

namespace crashcapture {
namespace {

bool is_zero_page(std::span<const std::byte> page) {
    const auto* words = reinterpret_cast<const uint64_t*>(page.data());
    const size_t count = page.size() / sizeof(uint64_t);
    uint64_t any = 0;
    for (size_t i = 0; i < count; ++i) {
        any |= words[i];
    }
    return any == 0;
}

std::vector<std::byte> make_header_block(const KernelIdentity& kernel, const kdump::Layout& layout,
                                         uint32_t status) {
    using namespace kdump;
    std::vector<std::byte> block(layout.block_size);
    std::byte* h = block.data();
    std::memcpy(h + header_offset::signature, kSignature, sizeof(kSignature));
    put<int32_t>(h, header_offset::header_version, kHeaderVersion);
    std::memcpy(h + header_offset::utsname, kernel.utsname.data(), kernel.utsname.size());
    put<int64_t>(h, header_offset::timestamp_sec, kernel.crash_time);
    put<int64_t>(h, header_offset::timestamp_usec, 0);
    put<uint32_t>(h, header_offset::status, status);
    put<int32_t>(h, header_offset::block_size, static_cast<int32_t>(layout.block_size));
    put<int32_t>(h, header_offset::sub_hdr_size, static_cast<int32_t>(layout.sub_header_blocks));
    put<uint32_t>(h, header_offset::bitmap_blocks,
                  static_cast<uint32_t>(2 * layout.bitmap_bytes / layout.block_size));
    // Truncated to 32 bits here; the real value is max_mapnr_64 in the sub header.
    put<uint32_t>(h, header_offset::max_mapnr,
                  static_cast<uint32_t>(std::min<uint64_t>(layout.max_mapnr, UINT32_MAX)));
    put<int32_t>(h, header_offset::nr_cpus, kernel.nr_cpus);
    return block;
}

class KdumpWriter {
  public:
    KdumpWriter(const VmcoreFile& vmcore, const KernelIdentity& kernel, const WriteOptions& options,
                DumpSink& sink, const ProgressCallback& progress)
        : vmcore_(vmcore),
          kernel_(kernel),
          options_(options),
          sink_(sink),
          progress_(progress),
          frames_(vmcore.physical_ranges(), kernel.page_size, options.filter) {}

    WriteOutcome run();

  private:
    Status write_headers();
    Status write_window(PageWindow& window);
    Status write_batch(uint64_t first_pfn, uint64_t count);
    Status flush();
    void fail(Error error, bool something_written);

    const VmcoreFile& vmcore_;
    const KernelIdentity& kernel_;
    const WriteOptions& options_;
    DumpSink& sink_;
    const ProgressCallback& progress_;
    DumpableFrames frames_;

    kdump::Layout layout_;
    uint32_t status_ = 0;
    std::vector<PageCompressor> compressors_;  // one per thread
    std::optional<ParallelFor> pool_;
    // Per page of a batch: bytes stored in its slot (0 = store raw, or zero page).
    struct PageResult {
        uint32_t compressed_size = 0;
        bool zero = false;
    };
    std::vector<PageResult> results_;
    std::vector<std::byte> slots_;  // page_size bytes of compressed output per page
    WriteOutcome outcome_;

    uint64_t next_desc_index_ = 0;   // descriptors written so far
    uint64_t data_cursor_ = 0;       // file offset of the next page data
    uint64_t zero_page_offset_ = 0;  // the shared zero page (dump level bit 1)
    size_t batch_pages_ = 0;
    std::vector<std::byte> read_buffer_;
    std::vector<std::byte> data_buffer_;  // page data of the current batch
    std::vector<std::byte> desc_buffer_;  // its descriptors
};

Status KdumpWriter::write_headers() {
    using namespace kdump;
    auto header = make_header_block(kernel_, layout_, status_);
    if (auto s = sink_.write_at(0, header); !s) {
        return s;
    }
    // Sub header, then the PT_NOTE blob byte for byte (write_kdump_header()).
    const auto notes = vmcore_.note_blob();
    std::vector<std::byte> sub(layout_.sub_header_blocks * layout_.block_size);
    std::byte* s = sub.data();
    put<uint64_t>(s, sub_header_offset::phys_base, static_cast<uint64_t>(kernel_.phys_base));
    put<int32_t>(s, sub_header_offset::dump_level, options_.dump_level);
    const uint64_t note_offset = layout_.block_size + kSubHeaderSize;
    if (!notes.empty()) {
        if (auto vmcoreinfo = vmcore_.vmcoreinfo_note()) {
            put<uint64_t>(s, sub_header_offset::offset_vmcoreinfo,
                          note_offset + vmcoreinfo->descriptor_offset);
            put<uint64_t>(s, sub_header_offset::size_vmcoreinfo, vmcoreinfo->descriptor_size);
        }
        put<uint64_t>(s, sub_header_offset::offset_note, note_offset);
        put<uint64_t>(s, sub_header_offset::size_note, notes.size());
    }
    put<uint64_t>(s, sub_header_offset::max_mapnr_64, layout_.max_mapnr);
    std::memcpy(s + kSubHeaderSize, notes.data(), notes.size());
    // makedumpfile writes only the header and notes; the padding to the
    // block is a hole, which reads as the zeros we write.
    return sink_.write_at(layout_.block_size, std::span(sub).first(kSubHeaderSize + notes.size()));
}

Status KdumpWriter::flush() {
    if (desc_buffer_.empty()) {
        return {};
    }
    // Data before descriptors: after a failure every descriptor on disk points
    // at data that is there (makedumpfile IMPLEMENTATION "The incomplete DUMPFILE").
    const uint64_t data_start = data_cursor_ - data_buffer_.size();
    if (!data_buffer_.empty()) {
        if (auto s = sink_.write_at(data_start, data_buffer_); !s) {
            return s;
        }
    }
    if (auto s = sink_.write_at(layout_.page_desc_offset + next_desc_index_ * kdump::kPageDescSize,
                                desc_buffer_);
        !s) {
        return s;
    }
    next_desc_index_ += desc_buffer_.size() / kdump::kPageDescSize;
    desc_buffer_.clear();
    data_buffer_.clear();
    return {};
}

Status KdumpWriter::write_batch(uint64_t first_pfn, uint64_t count) {
    const uint64_t page_size = layout_.block_size;
    auto pages = std::span(read_buffer_).first(count * page_size);
    if (auto s = vmcore_.read_frames(first_pfn * page_size, pages); !s) {
        return s;
    }
    // Compress in parallel into per-page slots; assemble in page order below.
    pool_->run(count, [&](size_t begin, size_t end, size_t worker) {
        for (size_t i = begin; i < end; ++i) {
            auto page = pages.subspan(i * page_size, page_size);
            auto& result = results_[i];
            result.zero = (options_.dump_level & kDumpLevelZero) && is_zero_page(page);
            result.compressed_size =
                result.zero ? 0
                            : static_cast<uint32_t>(compressors_[worker].compress(
                                  page, std::span(slots_).subspan(i * page_size, page_size)));
        }
    });
    // Counted only once the batch is on disk: after a failure the record's
    // counts describe what the partial dump really holds.
    PageCounts batch;
    for (uint64_t i = 0; i < count; ++i) {
        const auto& result = results_[i];
        std::array<std::byte, kdump::kPageDescSize> desc{};
        if (result.zero) {
            kdump::put<int64_t>(desc.data(), 0, static_cast<int64_t>(zero_page_offset_));
            kdump::put<uint32_t>(desc.data(), 8, static_cast<uint32_t>(page_size));
            ++batch.zero;
        } else {
            const bool compressed = result.compressed_size != 0;
            auto stored = compressed
                              ? std::span<const std::byte>(slots_).subspan(i * page_size,
                                                                           result.compressed_size)
                              : std::span<const std::byte>(pages.subspan(i * page_size, page_size));
            kdump::put<int64_t>(desc.data(), 0, static_cast<int64_t>(data_cursor_));
            kdump::put<uint32_t>(desc.data(), 8, static_cast<uint32_t>(stored.size()));
            kdump::put<uint32_t>(desc.data(), 12,
                                 compressed ? kdump_compression_flag(options_.compression) : 0);
            data_buffer_.insert(data_buffer_.end(), stored.begin(), stored.end());
            data_cursor_ += stored.size();
            ++batch.written;
            batch.compressed += compressed ? 1 : 0;
        }
        desc_buffer_.insert(desc_buffer_.end(), desc.begin(), desc.end());
    }
    if (auto s = flush(); !s) {
        return s;
    }
    outcome_.pages.zero += batch.zero;
    outcome_.pages.written += batch.written;
    outcome_.pages.compressed += batch.compressed;
    return {};
}

Status KdumpWriter::write_window(PageWindow& window) {
    const uint64_t page_size = layout_.block_size;
    frames_.fill(window, nullptr);
    const uint64_t byte_offset = window.start_pfn / 8;
    const uint64_t bytes =
        std::min<uint64_t>(window.present.size(), layout_.bitmap_bytes - byte_offset);
    if (auto s = sink_.write_at(layout_.bitmap1_offset + byte_offset,
                                std::as_bytes(std::span(window.present).first(bytes)));
        !s) {
        return s;
    }
    if (auto s = sink_.write_at(layout_.bitmap2_offset + byte_offset,
                                std::as_bytes(std::span(window.dumpable).first(bytes)));
        !s) {
        return s;
    }
    // Runs of dumpable frames, in batches.
    (void)page_size;
    uint64_t pfn = window.start_pfn;
    while (pfn < window.end_pfn) {
        if (!window.is_dumpable(pfn)) {
            ++pfn;
            continue;
        }
        uint64_t run_end = pfn + 1;
        while (run_end < window.end_pfn && run_end - pfn < batch_pages_ &&
               window.is_dumpable(run_end)) {
            ++run_end;
        }
        if (auto s = write_batch(pfn, run_end - pfn); !s) {
            return s;
        }
        pfn = run_end;
        if (progress_) {
            progress_(next_desc_index_, outcome_.pages.dumpable, sink_.bytes_written());
        }
    }
    return {};
}

void KdumpWriter::fail(Error error, bool something_written) {
    outcome_.error = std::move(error);
    outcome_.incomplete = something_written;
    if (something_written) {
        // Mark the header incomplete (crash: "INCOMPLETE_DUMP"); block 0 was
        // written first, so this rewrite needs no new space on a full disk.
        status_ |= kdump::kStatusIncomplete;
        auto header = make_header_block(kernel_, layout_, status_);
        (void)sink_.write_at(0, header);
    }
}

WriteOutcome KdumpWriter::run() {
    const uint64_t page_size = kernel_.page_size;
    const size_t threads = options_.threads ? options_.threads : usable_cpu_count();
    for (size_t i = 0; i < threads; ++i) {
        auto compressor =
            PageCompressor::create(options_.compression, options_.compression_level, page_size);
        if (!compressor) {
            outcome_.error = compressor.error();
            return outcome_;
        }
        compressors_.push_back(std::move(*compressor));
    }
    pool_.emplace(threads);
    batch_pages_ = options_.batch_pages * threads;
    status_ = kdump_compression_flag(options_.compression);

    const uint64_t max_mapnr = (vmcore_.max_physical_address() + page_size - 1) / page_size;
    // With a filter this is a full pass over the struct pages, the price of
    // knowing where page data starts before writing any (as makedumpfile).
    outcome_.pages = frames_.count(max_mapnr);
    layout_ = kdump::compute_layout(page_size, max_mapnr, vmcore_.note_blob().size(),
                                    outcome_.pages.dumpable);
    data_cursor_ = layout_.data_offset;

    if (auto s = write_headers(); !s) {
        fail(s.error(), false);
        return outcome_;
    }
    // Dump level bit 1: one zero page first in the data area, shared by every
    // all-zero frame (write_kdump_pages_and_bitmap_cyclic(), pd_zero).
    if (options_.dump_level & kDumpLevelZero) {
        zero_page_offset_ = data_cursor_;
        std::vector<std::byte> zeros(page_size);
        if (auto s = sink_.write_at(zero_page_offset_, zeros); !s) {
            fail(s.error(), true);
            return outcome_;
        }
        data_cursor_ += page_size;
    }
    read_buffer_.resize(batch_pages_ * page_size);
    slots_.resize(batch_pages_ * page_size);
    results_.resize(batch_pages_);
    data_buffer_.reserve(batch_pages_ * page_size);
    desc_buffer_.reserve(batch_pages_ * kdump::kPageDescSize);

    // The last bitmap byte may hold frames past max_mapnr; windows cover
    // whole bitmap bytes so those bits are written as zero.
    // 1 Mi frames (4 GiB of RAM, 128 KiB per bitmap) at a time.
    const uint64_t window_pages = kFilterWindowPages;
    const uint64_t pfn_limit = (max_mapnr + 7) & ~uint64_t{7};
    for (uint64_t start = 0; start < pfn_limit; start += window_pages) {
        PageWindow window;
        window.start_pfn = start;
        window.end_pfn = std::min(start + window_pages, pfn_limit);
        if (auto s = write_window(window); !s) {
            fail(s.error(), true);
            outcome_.bytes_out = sink_.bytes_written();
            return outcome_;
        }
    }
    if (auto s = sink_.finish(); !s) {
        fail(s.error(), true);
    }
    outcome_.bytes_out = sink_.bytes_written();
    return outcome_;
}

}  // namespace

WriteOutcome write_kdump(const VmcoreFile& vmcore, const KernelIdentity& kernel,
                         const WriteOptions& options, DumpSink& sink,
                         const ProgressCallback& progress) {
    if (auto s = validate_dump_level(options.dump_level);
        !s || ((options.dump_level & ~kDumpLevelZero) && !options.filter)) {
        if (s) {
            s = make_error(EINVAL, "dump level {} needs the page filter", options.dump_level);
        }
        WriteOutcome outcome;
        outcome.error = s.error();
        return outcome;
    }
    return KdumpWriter(vmcore, kernel, options, sink, progress).run();
}

}  // namespace crashcapture
