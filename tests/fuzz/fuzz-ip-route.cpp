// iproute2's JSON (lib/arming/remote-target): `ip -j route get` before the
// input's first NUL, `ip -j address show dev` after it.
#include <cstdint>

#include "fuzz-support.hpp"
#include "remote-target.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto [route_json, address_json] = fuzz::split_at_nul(data, size);
    if (auto route = parse_ip_route(route_json)) {
        (void)capture_network_from(*route, address_json);
    }
    return 0;
}
