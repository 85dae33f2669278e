// What manager.cpp and manager-after-reboot.cpp share, and nothing else
// includes.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "dump-catalog.hpp"

namespace crashcapture::manager_internal {

inline nlohmann::json entry_to_json(const DumpEntry& entry) {
    return nlohmann::json{
        {"id", entry.id},
        {"path", entry.path},
        {"result", std::string(to_string(entry.record.result))},
        {"crash_time", entry.crash_time},
        {"disk_bytes", entry.disk_bytes},
        {"record_error", entry.record_error},
        {"record", to_json(entry.record)},
    };
}

inline int64_t now_sec() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace crashcapture::manager_internal
