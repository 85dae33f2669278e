#include "retention-settings.hpp"

namespace crashcapture {

RetentionPolicy retention_policy_for(const RetentionSettings& settings, uint64_t filesystem_bytes) {
    RetentionPolicy policy;
    if (settings.max_use) {
        policy.max_use_bytes = settings.max_use->resolve(filesystem_bytes);
    }
    if (settings.keep_free) {
        policy.keep_free_bytes = settings.keep_free->resolve(filesystem_bytes);
    }
    policy.max_dumps = static_cast<unsigned>(settings.keep_dumps);
    return policy;
}

}  // namespace crashcapture
