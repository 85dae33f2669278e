// Small file helpers shared by the writers of dump directories.
#pragma once

#include <string>
#include <string_view>

#include "result.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

// name.tmp -> write -> fsync -> rename(name) -> fsync(directory).
Status write_file_atomically(int directory_fd, const std::string& name, std::string_view contents,
                             mode_t mode);

Status fsync_directory(int directory_fd, const std::string& name_for_errors);

Result<UniqueFd> open_directory(const std::string& path);

// Creates the last component of path with mode (0700 for dump directories),
// accepting an existing directory. The parent must exist.
Status make_directory(const std::string& path, mode_t mode);

}  // namespace crashcapture
