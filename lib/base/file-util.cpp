#include "file-util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace crashcapture {

Status fsync_directory(int directory_fd, const std::string& name_for_errors) {
    if (::fsync(directory_fd) < 0 && errno != EINVAL) {
        return make_errno_error(errno, "cannot fsync directory {}", name_for_errors);
    }
    return {};
}

Status write_all(int fd, std::string_view contents, const std::string& name_for_errors) {
    while (!contents.empty()) {
        const ssize_t n = ::write(fd, contents.data(), contents.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot write {}", name_for_errors);
        }
        contents.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status write_file_atomically(int directory_fd, const std::string& name, std::string_view contents,
                             mode_t mode) {
    const std::string temporary = name + ".tmp";
    UniqueFd fd(
        ::openat(directory_fd, temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) {
        return make_errno_error(errno, "cannot create {}", temporary);
    }
    // The umask must not widen or narrow what we chose.
    (void)::fchmod(fd.get(), mode);
    if (auto written = write_all(fd.get(), contents, temporary); !written) {
        ::unlinkat(directory_fd, temporary.c_str(), 0);
        return written;
    }
    if (::fsync(fd.get()) < 0) {
        const int saved = errno;
        ::unlinkat(directory_fd, temporary.c_str(), 0);
        return make_errno_error(saved, "cannot fsync {}", temporary);
    }
    fd.reset();
    if (::renameat(directory_fd, temporary.c_str(), directory_fd, name.c_str()) < 0) {
        const int saved = errno;
        ::unlinkat(directory_fd, temporary.c_str(), 0);
        return make_errno_error(saved, "cannot rename {} to {}", temporary, name);
    }
    return fsync_directory(directory_fd, name);
}

Result<UniqueFd> open_directory(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        return make_errno_error(errno, "cannot open directory {}", path);
    }
    return fd;
}

Result<std::string> read_to_end(int fd, const std::string& path_for_errors, size_t limit) {
    std::string text;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot read {}", path_for_errors);
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > limit) {
            return make_error(EFBIG, "{} is larger than {} bytes", path_for_errors, limit);
        }
    }
}

Result<std::string> read_kernel_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    return read_to_end(fd.get(), path);
}

Result<std::vector<std::string>> list_directory(int directory_fd,
                                                const std::string& path_for_errors) {
    // fdopendir() takes ownership of its descriptor: give it a duplicate.
    UniqueFd listing_fd(::fcntl(directory_fd, F_DUPFD_CLOEXEC, 3));
    if (!listing_fd) {
        return make_errno_error(errno, "cannot duplicate the descriptor of {}", path_for_errors);
    }
    struct DirCloser {
        void operator()(DIR* dir) const { ::closedir(dir); }
    };
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(listing_fd.get()));
    if (!dir) {
        return make_errno_error(errno, "cannot list {}", path_for_errors);
    }
    listing_fd.release();
    // The duplicate shares the file offset with directory_fd.
    ::rewinddir(dir.get());
    std::vector<std::string> names;
    for (;;) {
        errno = 0;
        const struct dirent* entry = ::readdir(dir.get());
        if (!entry) {
            if (errno != 0) {
                return make_errno_error(errno, "cannot list {}", path_for_errors);
            }
            return names;
        }
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") {
            names.emplace_back(name);
        }
    }
}

Status make_directory(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0) {
        if (errno == EEXIST) {
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                return {};
            }
            return make_error(ENOTDIR, "{} exists and is not a directory", path);
        }
        return make_errno_error(errno, "cannot create directory {}", path);
    }
    // mkdir() applies the umask; the mode is the point (dumps are private).
    if (::chmod(path.c_str(), mode) < 0) {
        return make_errno_error(errno, "cannot set the mode of {}", path);
    }
    return {};
}

}  // namespace crashcapture
