// crashcapture-save's whole job, as a library call: the kernel log first,
// then the dump, then the record — each step durable before the next, so a
// capture that fails half-way still leaves the panic log and a record that
// says what happened (ARCHITECTURE.md, "The flow", step 4).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dump-record.hpp"
#include "dump-writer.hpp"
#include "progress.hpp"

namespace crashcapture {

enum class DumpFormat { kdump, elf, flattened };
std::optional<DumpFormat> parse_dump_format(std::string_view name);
std::string_view to_string(DumpFormat format);

struct SaveOptions {
    std::string input = "/proc/vmcore";
    std::string output_dir;
    // Empty: the dump goes to output_dir. "-": the flattened stream to
    // stdout. Anything else: that file or block device.
    std::string dump_to;
    DumpFormat format = DumpFormat::kdump;
    WriteOptions write;
    std::string boot_id;
    ProgressMode progress = ProgressMode::automatic;
    int progress_fd = 2;
    std::string tool_version;
};

// File names inside a dump directory.
inline constexpr std::string_view kDmesgFileName = "vmcore-dmesg.txt";
inline constexpr std::string_view kRecordFileName = "status.json";
std::string dump_file_name(DumpFormat format, bool complete);

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
};

SaveResult save_dump(const SaveOptions& options);

}  // namespace crashcapture
