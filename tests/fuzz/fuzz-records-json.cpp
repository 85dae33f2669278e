// The JSON records read after a reboot: a dump's status.json
// (lib/dump/dump-record) and an armed-boot ledger entry
// (lib/records/armed-boot-ledger), each read and written back.
#include <cstdint>

#include "armed-boot-ledger.hpp"
#include "dump-record.hpp"
#include "fuzz-support.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto json = nlohmann::json::parse(data, data + size, nullptr, false);
    if (json.is_discarded()) {
        return 0;
    }
    if (auto record = dump_record_from_json(json)) {
        (void)dump_record_text(*record);
    }
    if (auto boot = armed_boot_from_json(json)) {
        (void)to_json(*boot).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        (void)describe_lost_capture(*boot);
        (void)lost_capture_id(*boot);
    }
    return 0;
}
