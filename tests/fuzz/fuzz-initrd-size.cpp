// The initrd size walker (lib/arming/initrd-size): concatenated cpio,
// gzip and zstd segments, as the daemon measures the capture initrd.
#include <cstdint>

#include "fuzz-support.hpp"
#include "initrd-size.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)measure_initrd_data(std::string_view(reinterpret_cast<const char*>(data), size), true);
    return 0;
}
