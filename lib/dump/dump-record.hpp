// status.json: the record of one capture, written last and atomically by
// crashcapture-save, read after reboot by the daemon. It never holds memory
// contents, so it may be world-readable. Schema: README "Dump records".
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "page-selection.hpp"
#include "result.hpp"

namespace crashcapture {

// 2: adds signature and signature_hash (panic-signature.hpp); a reader
// takes both versions, a version 1 record has no signature.
inline constexpr int kDumpRecordSchemaVersion = 2;

enum class DumpResult { complete, incomplete, failed };
std::string_view to_string(DumpResult result);
std::optional<DumpResult> parse_dump_result(std::string_view text);

struct DumpRecord {
    int schema_version = kDumpRecordSchemaVersion;
    DumpResult result = DumpResult::failed;
    std::string error;  // empty when complete
    std::vector<std::string> warnings;
    std::string tool_version;

    std::string kernel_release;  // the crashed kernel's (VMCOREINFO OSRELEASE)
    std::string boot_id;         // the crashed boot's, when the capture kernel was told it
    int64_t crash_time = 0;      // VMCOREINFO CRASHTIME, seconds since the epoch
    std::string panic_line;
    // The crash's name from the saved log (panic-signature.hpp): title and
    // 16-hex-digit hash; empty when the log names no crash the parser knows.
    std::string signature;
    std::string signature_hash;

    std::string input;        // the vmcore read
    std::string format;       // kdump, elf, flattened
    std::string compression;  // none, zlib, zstd
    int compression_level = 0;
    int dump_level = 0;
    std::string dump_file;   // relative to the dump directory; empty if none
    std::string dmesg_file;  // idem
    // Set by crashcaptured when it copied the dump off a raw device after the
    // reboot (lib/raw-recovery.hpp): the device; empty for every other dump.
    std::string recovered_from;
    // Where the dump went when it did not stay in the dump directory: an
    // ssh target's stream is on the server, ssh://[USER@]HOST[:PORT]/DIR/
    // ID/vmcore.flat (crashcapture-save --remote-dump); empty otherwise.
    std::string remote_dump;

    PageCounts pages;
    uint64_t page_size = 0;
    uint64_t bytes_in = 0;   // page data read from the vmcore
    uint64_t bytes_out = 0;  // bytes of the dump written
    int64_t started_at = 0;  // seconds since the epoch (capture kernel's clock)
    double duration_sec = 0;
};

nlohmann::json to_json(const DumpRecord& record);
// The record as status.json holds it (indented, newline-terminated); bytes
// that are not UTF-8 come out as U+FFFD, it never throws on them.
std::string dump_record_text(const DumpRecord& record);
Result<DumpRecord> dump_record_from_json(const nlohmann::json& json);

// Writes DIR/status.json through a temporary file, fsync and rename, then
// fsyncs the directory; readers see the old record or the new, never half.
Status write_dump_record(int directory_fd, const DumpRecord& record,
                         const std::string& file_name = "status.json");
Result<DumpRecord> read_dump_record(const std::string& path);

// The error of the record a capture writes before it starts: a record that
// still says it after the reboot is one whose capture never reached its end
// (the capture kernel lost power, was reset or hung), whatever it wrote.
inline constexpr std::string_view kCaptureInterruptedError =
    "the capture was interrupted before it finished";

// The record a capture writes before it starts ("failed: interrupted"), so a
// capture kernel that dies mid-way still leaves a record. It is padded to
// kRecordReserveBytes so the final record can overwrite it in place when the
// disk is full and the atomic rename cannot get a new block.
inline constexpr size_t kRecordReserveBytes = 8192;
// The errors of the atomic write that the reserved record's blocks, written
// and synced before the dump, may still get past: the disk is full
// (ENOSPC, EDQUOT), or new blocks fail to write (EIO: a target going bad
// part-way, where what was written before still reads back).
bool record_overwrites_in_place(int errno_value);
Status write_dump_record_reserved(int directory_fd, const DumpRecord& record,
                                  const std::string& file_name = "status.json");
// Atomic write; when the atomic write fails for want of new blocks, or on
// them (record_overwrites_in_place), overwrites the reserved record in place.
Status finalize_dump_record(int directory_fd, const DumpRecord& record,
                            const std::string& file_name = "status.json");

}  // namespace crashcapture
