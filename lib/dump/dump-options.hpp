// What a dump is written as, and how much of memory it keeps: the vocabulary
// shared by crashcapture-save, the configuration and the records, without the
// save pipeline behind it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crashcapture {

enum class DumpFormat { kdump, elf, flattened };
std::optional<DumpFormat> parse_dump_format(std::string_view name);
std::string_view to_string(DumpFormat format);

// File names inside a dump directory.
inline constexpr std::string_view kDmesgFileName = "vmcore-dmesg.txt";
inline constexpr std::string_view kRecordFileName = "status.json";
// The dump file inside a dump directory: "vmcore" (kdump, ELF) or
// "vmcore.flat", with ".incomplete" until the last byte is on disk.
std::string dump_file_name(DumpFormat format, bool complete);

// makedumpfile's dump level: a mask of the page kinds left out
// (makedumpfile.h DL_EXCLUDE_ZERO 0x001, _CACHE 0x002, _CACHE_PRI 0x004,
// _USER_DATA 0x008, _FREE 0x010), so 0..31.
inline constexpr int kDumpLevelZero = 1;
inline constexpr int kDumpLevelMax = 31;
// Every kind left out, as kdump-utils and kdump-tools default to (-d 31).
inline constexpr int kDefaultDumpLevel = kDumpLevelMax;

}  // namespace crashcapture
