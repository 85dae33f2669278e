// The crash signature (lib/dump/panic-signature) over any kernel log: the
// daemon reads vmcore-dmesg.txt and pstore records that a crashing kernel
// wrote, so they may hold anything. A title is one line, and the hash is
// the title's, present exactly when the title is.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz-support.hpp"
#include "panic-signature.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto signature =
        panic_signature(std::string_view(reinterpret_cast<const char*>(data), size));
    if (signature.title.find('\n') != std::string::npos ||
        signature.hash.empty() != signature.title.empty() ||
        (!signature.title.empty() && signature.hash != panic_signature_hash(signature.title))) {
        std::abort();
    }
    return 0;
}
