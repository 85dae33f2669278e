// crashcapture.conf's [Retention] as the retention policy applies it
// (lib/records/retention.hpp): the daemon's side, which sees both.
#pragma once

#include <cstdint>

#include "config.hpp"
#include "retention.hpp"

namespace crashcapture {

// MaxUse= and KeepFree= resolved for a filesystem of filesystem_bytes (a
// percentage is of the filesystem's size, rounded down); KeepDumps= is the
// policy's MaxDumps (at most this many dumps; 0, no limit). Unset settings
// stay unset: no limit.
RetentionPolicy retention_policy_for(const RetentionSettings& settings, uint64_t filesystem_bytes);

}  // namespace crashcapture
