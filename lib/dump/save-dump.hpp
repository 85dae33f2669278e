// crashcapture-save's whole job, as a library call: the kernel log first,
// then the dump, then the record — each step durable before the next, so a
// capture that fails half-way still leaves the panic log and a record that
// says what happened (ARCHITECTURE.md, "The flow", step 4).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dump-options.hpp"
#include "dump-record.hpp"
#include "dump-writer.hpp"
#include "progress.hpp"

namespace crashcapture {

struct SaveOptions {
    std::string input = "/proc/vmcore";
    std::string output_dir;
    // Empty: the dump goes to output_dir. "-": the flattened stream to
    // stdout. Anything else: that file or block device.
    std::string dump_to;
    // Where the stream on standard output ends up (an ssh target's file on
    // the server), recorded in status.json as remote_dump.
    std::string remote_dump;
    DumpFormat format = DumpFormat::kdump;
    WriteOptions write;
    // How the vmcore is read: mmap() windows (falling back to pread() where
    // mmap() is refused) or pread() only; automatic maps /proc/vmcore.
    VmcoreReadOptions read;
    std::string boot_id;
    // A group that may read the dump: the directory becomes 0750 and the
    // dump and kernel log 0640, group-owned. Unset: root only (0700, 0600).
    // status.json is 0644 either way: it holds no memory contents. If the
    // group cannot be given the files, they stay private, with a warning.
    std::optional<gid_t> group;
    // Warnings the caller found before the capture (an unknown --group),
    // recorded in status.json with the capture's own.
    std::vector<std::string> warnings;
    ProgressMode progress = ProgressMode::automatic;
    int progress_fd = 2;
    std::string tool_version;
    // Where MemAvailable is sampled during the save (a test's fake file).
    std::string meminfo_path = "/proc/meminfo";
};

// Modes of a dump directory and its files (issue 8: private dumps).
inline constexpr mode_t kPrivateDumpDirectoryMode = 0700;
inline constexpr mode_t kPrivateDumpFileMode = 0600;
inline constexpr mode_t kGroupDumpDirectoryMode = 0750;
inline constexpr mode_t kGroupDumpFileMode = 0640;
inline constexpr mode_t kRecordFileMode = 0644;  // status.json (dump-record.cpp)

// Exit codes of crashcapture-save (documented in its man page).
inline constexpr int kExitComplete = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIncomplete = 3;

struct SaveResult {
    DumpRecord record;
    int exit_code = kExitFailed;
    // Whether status.json could be written (not when the directory cannot be).
    bool record_written = false;
    // How the vmcore was read, once it was opened (for the log).
    std::optional<VmcoreReadStats> read;
    // The lowest MemAvailable sampled from the start to the end of the save
    // (MemAvailableWatch): absent where /proc/meminfo could not be read.
    std::optional<uint64_t> lowest_mem_available_bytes;
};

SaveResult save_dump(const SaveOptions& options);

}  // namespace crashcapture
