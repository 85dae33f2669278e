// crashcapture.conf and a drop-in (lib/config): the input before its first
// NUL is the main file, the rest a drop-in applied over it.
#include <cstdint>

#include "config.hpp"
#include "fuzz-support.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto [main_text, dropin_text] = fuzz::split_at_nul(data, size);
    const auto loaded = parse_config(
        {{"/etc/crashcapture/crashcapture.conf", std::string(main_text)},
         {"/etc/crashcapture/crashcapture.conf.d/fuzz.conf", std::string(dropin_text)}});
    for (const auto& error : loaded.errors) {
        (void)error.to_string();
    }
    // crashcapturectl prints the effective configuration as JSON.
    (void)to_json(loaded.config).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}
