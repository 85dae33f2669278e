#include "group.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "text.hpp"

namespace crashcapture {

Result<gid_t> resolve_group(std::string_view name_or_id) {
    if (!name_or_id.empty() && name_or_id.find_first_not_of("0123456789") == std::string::npos) {
        const auto gid = parse_integer<gid_t>(name_or_id);
        if (!gid || *gid == static_cast<gid_t>(-1)) {
            return make_error(EINVAL, "{}: not a group id", name_or_id);
        }
        return *gid;
    }
    const std::string name(name_or_id);
    // ERANGE: a group with many members needs a bigger buffer (getgrnam_r(3)).
    for (size_t size = 16384; size <= (16u << 20); size *= 4) {
        struct group entry {};
        struct group* found = nullptr;
        std::vector<char> buffer(size);
        const int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE) {
            continue;
        }
        if (rc != 0) {
            return make_errno_error(rc, "{}: cannot look the group up", name);
        }
        if (!found) {
            return make_error(ENOENT, "{}: no such group", name);
        }
        return found->gr_gid;
    }
    return make_error(ERANGE, "{}: the group's entry is too large", name);
}

Result<bool> share_directory_with_group(const std::string& directory, gid_t gid) {
    struct stat st {};
    if (::stat(directory.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
        return false;
    }
    if (st.st_gid == gid && (st.st_mode & 07777) == 0750) {
        return false;
    }
    if (::chown(directory.c_str(), static_cast<uid_t>(-1), gid) < 0) {
        return make_errno_error(errno, "cannot give {} to group {}", directory, gid);
    }
    if (::chmod(directory.c_str(), 0750) < 0) {
        return make_errno_error(errno, "cannot make {} 0750", directory);
    }
    return true;
}

}  // namespace crashcapture
