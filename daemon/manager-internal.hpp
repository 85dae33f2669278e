// What manager.cpp and manager-after-reboot.cpp share, and nothing else
// includes.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "dump-catalog.hpp"

namespace crashcapture::manager_internal {

// A dump as ListDumps, GetDump and DumpCaptured show it. signature and
// signature_hash are status.json's (schema 2: the saver's, from the log it
// saved), or computed from the dump's kernel log for an older record
// (dump_signature(), through the daemon's DumpSignatureCache), so dumps of
// every version have them.
inline nlohmann::json entry_to_json(const DumpEntry& entry, DumpSignatureCache& signatures) {
    const auto signature = signatures.get(entry);
    return nlohmann::json{
        {"id", entry.id},
        {"path", entry.path},
        {"result", std::string(to_string(entry.record.result))},
        {"crash_time", entry.crash_time},
        {"disk_bytes", entry.disk_bytes},
        {"record_error", entry.record_error},
        {"signature", signature.title},
        {"signature_hash", signature.hash},
        {"record", to_json(entry.record)},
    };
}

inline int64_t now_sec() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace crashcapture::manager_internal
