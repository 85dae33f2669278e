// /proc/self/mountinfo (lib/arming/initrd-plan parse_mountinfo()): the
// daemon finds the dump target's filesystem in it.
#include <cstdint>

#include "fuzz-support.hpp"
#include "initrd-plan.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)parse_mountinfo(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
