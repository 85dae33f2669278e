// The dump writers: one streaming pass over the vmcore's page frames, in
// ascending order, into a DumpSink. kdump-compressed (the default, what
// crash / drgn / libkdumpfile read) and ELF (for gdb) share the page source,
// the window-by-window page selection and the progress reporting.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "dump-sink.hpp"
#include "kdump-format.hpp"
#include "page-compressor.hpp"
#include "page-filter.hpp"
#include "page-selection.hpp"
#include "result.hpp"
#include "vmcore-reader.hpp"

namespace crashcapture {

// What the kdump header says about the crashed kernel.
struct KernelIdentity {
    std::array<char, kdump::kUtsnameSize> utsname{};  // init_uts_ns.name, verbatim
    int64_t phys_base = 0;
    int64_t crash_time = 0;
    int nr_cpus = 0;
    uint64_t page_size = 4096;
};

struct WriteOptions {
    Compression compression = Compression::zstd;
    int compression_level = 1;
    int dump_level = 1;
    // Frames read and written per batch and per compressing thread: one
    // pread() and two writes per batch.
    size_t batch_pages = 256;
    // Compressing threads; 0 = every CPU this process may use. A capture
    // kernel booted with nr_cpus=1 gets one, and no thread is started.
    size_t threads = 0;
    // Excludes pages by type; null = only zero pages (dump level bit 1).
    // dump_level must then be at most 1 or the filter's effective level.
    const PageFilter* filter = nullptr;
    // The crashed kernel's page size (VMCOREINFO PAGESIZE): the frame the
    // ELF writer filters and counts by, as the kdump writer does by
    // KernelIdentity::page_size (arm64 kernels have 16 and 64 KiB pages too).
    uint64_t page_size = 4096;
};

// Called a few times per second at most by the writer's caller; done and
// total are in frames.
using ProgressCallback =
    std::function<void(uint64_t frames_done, uint64_t frames_total, uint64_t bytes_out)>;

struct WriteOutcome {
    PageCounts pages;
    uint64_t bytes_out = 0;
    // Set when the dump stopped half-way (input truncated, disk full): what
    // was written is readable and flagged incomplete.
    bool incomplete = false;
    std::optional<Error> error;
};

WriteOutcome write_kdump(const VmcoreFile& vmcore, const KernelIdentity& kernel,
                         const WriteOptions& options, DumpSink& sink,
                         const ProgressCallback& progress);

WriteOutcome write_elf(const VmcoreFile& vmcore, const WriteOptions& options, DumpSink& sink,
                       const ProgressCallback& progress);

}  // namespace crashcapture
