// What crashcaptured brings back from a raw target at start
// (lib/records/raw-recovery): the device's bytes, which after a cut-short
// capture or an older capture's leftovers are anything, and the record the
// capture copied to the root filesystem. Whatever they hold, recovery
// returns (no exception, no sanitizer report), writes no more than the
// device can hold (files are limited to 64 MiB,
// fuzz::limit_output_file_size(): the seeds' devices are a few KiB), and every dump
// directory it makes has a status.json that reads back.
//
// Input: the device's length (4 bytes, little-endian, capped at what
// follows), the device's bytes, then the capture's status.json (nothing: no
// record came back). A length, not a NUL as the text harnesses split at:
// the flattened header is 4096 bytes of mostly zeros.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "dump-options.hpp"
#include "dump-record.hpp"
#include "fuzz-support.hpp"
#include "raw-recovery.hpp"

using namespace crashcapture;

namespace {
void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::ScratchDirectory scratch;
    fuzz::limit_output_file_size();
    if (size < 4) {
        return 0;
    }
    uint32_t device_size = 0;
    std::memcpy(&device_size, data, sizeof(device_size));
    data += 4;
    size -= 4;
    device_size = static_cast<uint32_t>(std::min<size_t>(device_size, size));
    const fuzz::MemoryFile device(data, device_size);
    const std::string record_text(reinterpret_cast<const char*>(data) + device_size,
                                  size - device_size);

    const std::string records = scratch.file("records");
    const std::string crash = scratch.file("crash");
    ::mkdir(records.c_str(), 0700);
    ::mkdir(crash.c_str(), 0700);
    if (!record_text.empty()) {
        const std::string capture = records + "/2026-12-06-110000";
        ::mkdir(capture.c_str(), 0700);
        write_text(capture + "/" + std::string(kRecordFileName), record_text);
        write_text(capture + "/" + std::string(kDmesgFileName), "<0>Kernel panic\n");
    }
    const auto report = recover_raw_captures(device.path(), records, crash, 1795508256);
    if (report) {
        for (const auto& recovered : report->recovered) {
            if (!read_dump_record(recovered.path + "/" + std::string(kRecordFileName))) {
                std::fprintf(stderr, "no readable status.json in %s\n", recovered.path.c_str());
                std::abort();
            }
        }
    }
    scratch.clear();
    return 0;
}
