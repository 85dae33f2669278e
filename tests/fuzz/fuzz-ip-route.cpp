// iproute2's JSON (lib/arming/remote-target): `ip -j route get` before the
// input's first NUL, `ip -j address show dev` after it, read also as `ip -j
// -d link show` (the same objects: ifname, address, linkinfo ...). A link
// line the capture script reads must never carry a quote, a newline or a
// shell word of its own.
#include <cstdint>
#include <cstdlib>

#include "fuzz-support.hpp"
#include "remote-target.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto [route_json, address_json] = fuzz::split_at_nul(data, size);
    if (auto route = parse_ip_route(route_json)) {
        (void)capture_network_from(*route, address_json);
        if (auto links = capture_links_from(route->device, address_json)) {
            for (const auto& link : *links) {
                const auto line = capture_link_line(link);
                if (line.find_first_of("'\"\n\\$`;|&<>(){}*?") != std::string::npos) {
                    std::abort();
                }
            }
        }
    }
    return 0;
}
