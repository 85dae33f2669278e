// Group= and --group: a group named by number or by name.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "result.hpp"

namespace crashcapture {

// A number is a gid as it is (a capture initrd has no /etc/group); a name is
// looked up in the group database (getgrnam_r(3): /etc/group, or NSS).
// Errors: EINVAL "not a group id" (a number out of range, (gid_t)-1 among
// them: chown(2) reads it as "no change"), ENOENT "no such group", or the
// lookup's own errno.
Result<gid_t> resolve_group(std::string_view name_or_id);

// Group=: its members must be able to enter a dump directory (each dump 0750,
// crashcapture-save --group), which tmpfiles.d makes 0700 root. Gives the
// directory to gid with mode 0750. Returns true when it changed something,
// false when it was so already or is not there (or not a directory: the
// capture, or tmpfiles.d at the next boot, makes it); an error names the
// directory when chown(2) or chmod(2) fails.
Result<bool> share_directory_with_group(const std::string& directory, gid_t gid);

}  // namespace crashcapture
