// Small file helpers shared by the writers of dump directories.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

// name.tmp -> write -> fsync -> rename(name) -> fsync(directory).
Status write_file_atomically(int directory_fd, const std::string& name, std::string_view contents,
                             mode_t mode);

Status fsync_directory(int directory_fd, const std::string& name_for_errors);

// All of contents to fd (EINTR retried, short writes continued); the error
// keeps errno and names name_for_errors ("cannot write NAME").
Status write_all(int fd, std::string_view contents, const std::string& name_for_errors);

Result<UniqueFd> open_directory(const std::string& path);

// Everything from fd's offset to its end (EINTR retried); EFBIG when it is
// more than limit bytes. path_for_errors names the file in messages.
Result<std::string> read_to_end(int fd, const std::string& path_for_errors,
                                size_t limit = std::numeric_limits<size_t>::max());

// A small kernel file read whole (procfs and sysfs report st_size 0, so it
// reads to the end). The error keeps errno (ENOENT for a missing file).
Result<std::string> read_kernel_file(const std::string& path);

// The names in a directory, without "." and "..", read from its start
// whatever the descriptor's offset. Listing everything first and acting after
// keeps readdir() from skipping or repeating entries while the caller
// changes the directory.
Result<std::vector<std::string>> list_directory(int directory_fd,
                                                const std::string& path_for_errors);

// Creates the last component of path with mode (0700 for dump directories),
// accepting an existing directory. The parent must exist.
Status make_directory(const std::string& path, mode_t mode);

}  // namespace crashcapture
