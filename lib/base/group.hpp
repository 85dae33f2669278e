// Group= and --group: a group named by number or by name.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "result.hpp"

namespace crashcapture {

// A number is a gid as it is (a capture initrd has no /etc/group); a name is
// looked up in the group database (getgrnam_r(3): /etc/group, or NSS).
// Errors: EINVAL "not a group id" (a number out of range, (gid_t)-1 among
// them: chown(2) reads it as "no change"), ENOENT "no such group", or the
// lookup's own errno.
Result<gid_t> resolve_group(std::string_view name_or_id);

}  // namespace crashcapture
