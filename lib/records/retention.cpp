#include "retention.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>

#include "file-util.hpp"
#include "save-dump.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

namespace {

// Hidden, so is_valid_dump_id() rejects it and listings skip it.
constexpr std::string_view kRemovingPrefix = ".removing.";

// Dump directories are flat; the limit keeps a hostile tree from exhausting
// file descriptors (one per level).
constexpr int kMaxDepth = 64;

// Passes over a directory before giving up on emptying it: entries created
// while we remove get a second chance.
constexpr int kEmptyingPasses = 4;

Status remove_tree_at(int parent_fd, const std::string& name, const std::string& path, dev_t device,
                      int depth);

// Removes everything inside directory_fd: list, remove, and list again, since
// entries created meanwhile are caught by the next pass.
Status remove_children(int directory_fd, const std::string& path, dev_t device, int depth) {
    for (int pass = 0; pass < kEmptyingPasses; ++pass) {
        auto names = list_directory(directory_fd, path);
        if (!names) {
            return tl::unexpected(names.error());
        }
        bool removed_any = false;
        for (const auto& name : *names) {
            const std::string child = path + "/" + name;
            struct stat st {};
            if (::fstatat(directory_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT) {
                    continue;
                }
                return make_errno_error(errno, "cannot stat {}", child);
            }
            if (S_ISDIR(st.st_mode)) {
                if (auto status = remove_tree_at(directory_fd, name, child, device, depth + 1);
                    !status) {
                    return status;
                }
            } else if (::unlinkat(directory_fd, name.c_str(), 0) < 0 && errno != ENOENT) {
                return make_errno_error(errno, "cannot remove {}", child);
            }
            removed_any = true;
        }
        if (!removed_any) {
            return {};
        }
    }
    return {};
}

// Removes parent_fd/name, a directory, and what it holds.
Status remove_tree_at(int parent_fd, const std::string& name, const std::string& path, dev_t device,
                      int depth) {
    if (depth > kMaxDepth) {
        return make_error(ELOOP, "{}: directories nested deeper than {} levels", path, kMaxDepth);
    }
    UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            return {};
        }
        return make_errno_error(errno, "cannot open directory {}", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    // A filesystem mounted inside a dump is not the dump's to lose.
    if (st.st_dev != device) {
        return make_error(EXDEV, "{} is another filesystem's mount point, not removing it", path);
    }
    // Without write and search permission on a directory its entries cannot
    // be removed; root has them anyway, an unprivileged owner may need this.
    if ((st.st_mode & S_IRWXU) != S_IRWXU) {
        (void)::fchmod(fd.get(), (st.st_mode & 07777) | S_IRWXU);
    }
    if (auto status = remove_children(fd.get(), path, device, depth); !status) {
        return status;
    }
    fd.reset();
    for (int attempt = 0; attempt < kEmptyingPasses; ++attempt) {
        if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
            return {};
        }
        if (errno != ENOTEMPTY && errno != EEXIST) {
            break;
        }
        // Something was created meanwhile: empty it again.
        UniqueFd again(
            ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!again) {
            break;
        }
        if (auto status = remove_children(again.get(), path, device, depth); !status) {
            return status;
        }
    }
    return make_errno_error(errno, "cannot remove directory {}", path);
}

Status remove_dump_at(int crash_fd, const std::string& crash_dir, const std::string& id) {
    if (auto valid = check_dump_id(id); !valid) {
        return valid;
    }
    const std::string path = crash_dir + "/" + id;
    struct stat st {};
    if (::fstatat(crash_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) {
            return make_error(ENOENT, "no dump \"{}\" in {}", id, crash_dir);
        }
        return make_errno_error(errno, "cannot stat {}", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        return make_error(ENOTDIR, "{} is not a dump directory", path);
    }
    // Ids come over D-Bus: never remove a directory the catalog would not
    // list (another tool's dumps, an admin's notes).
    if (auto dump = load_dump(crash_dir, id); !dump) {
        return dump.error().errno_value == ENOENT
                   ? make_error(ENOENT, "{} is not a dump (no {}, vmcore or {}); not removing it",
                                path, kRecordFileName, kDmesgFileName)
                   : tl::unexpected(dump.error());
    }
    struct stat crash_st {};
    if (::fstat(crash_fd, &crash_st) < 0) {
        return make_errno_error(errno, "cannot stat {}", crash_dir);
    }
    // The inode number keeps the hidden name short (an id may use all of
    // NAME_MAX) and unique while the directory exists.
    const std::string hidden = fmt::format("{}{}", kRemovingPrefix, st.st_ino);
    if (::renameat(crash_fd, id.c_str(), crash_fd, hidden.c_str()) < 0) {
        return make_errno_error(errno, "cannot rename {} to {} to remove it", path, hidden);
    }
    // Make the rename durable first: after a crash the dump is gone from
    // listings and the leftover is finished by the next apply_retention().
    (void)fsync_directory(crash_fd, crash_dir);
    if (auto status =
            remove_tree_at(crash_fd, hidden, crash_dir + "/" + hidden, crash_st.st_dev, 1);
        !status) {
        return propagate(status.error(), fmt::format("cannot remove dump {}", id));
    }
    return {};
}

// Finishes removals a crash or an error interrupted.
Status remove_leftovers(int crash_fd, const std::string& crash_dir, dev_t device) {
    auto names = list_directory(crash_fd, crash_dir);
    if (!names) {
        return tl::unexpected(names.error());
    }
    std::vector<std::string> leftovers;
    for (auto& name : *names) {
        if (std::string_view(name).starts_with(kRemovingPrefix)) {
            leftovers.push_back(std::move(name));
        }
    }
    for (const auto& name : leftovers) {
        struct stat st {};
        if (::fstatat(crash_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode)) {
            continue;
        }
        if (auto status = remove_tree_at(crash_fd, name, crash_dir + "/" + name, device, 1);
            !status) {
            return status;
        }
    }
    return {};
}

}  // namespace

std::vector<DumpDirectory> dump_directories(const std::vector<DumpEntry>& entries) {
    std::vector<DumpDirectory> out;
    out.reserve(entries.size());
    for (const auto& entry : entries) {
        out.push_back(DumpDirectory{entry.id, entry.crash_time, entry.disk_bytes});
    }
    return out;
}

Result<std::vector<std::string>> plan_retention(const std::vector<DumpDirectory>& dumps,
                                                const RetentionPolicy& policy,
                                                uint64_t filesystem_free_bytes,
                                                uint64_t filesystem_size_bytes) {
    uint64_t required_free = policy.keep_free_bytes.value_or(0);
    if (policy.keep_free_percent) {
        const double percent = *policy.keep_free_percent;
        if (!std::isfinite(percent) || percent < 0 || percent > 100) {
            return make_error(EINVAL, "KeepFree= percentage {} is not between 0 and 100", percent);
        }
        const auto share = static_cast<uint64_t>(
            std::ceil(static_cast<long double>(filesystem_size_bytes) * percent / 100));
        required_free = std::max(required_free, share);
    }

    std::vector<const DumpDirectory*> order;
    order.reserve(dumps.size());
    for (const auto& dump : dumps) {
        order.push_back(&dump);
    }
    std::sort(order.begin(), order.end(), [](const DumpDirectory* a, const DumpDirectory* b) {
        return std::tie(a->crash_time, a->id) < std::tie(b->crash_time, b->id);
    });

    uint64_t used = 0;
    for (const auto* dump : order) {
        used += dump->disk_bytes;
    }
    uint64_t free = filesystem_free_bytes;
    size_t count = order.size();
    const size_t protected_count = std::max<size_t>(policy.keep_dumps, 1);
    const size_t removable = count > protected_count ? count - protected_count : 0;

    auto over_limits = [&] {
        return (policy.max_dumps != 0 && count > policy.max_dumps) ||
               (policy.max_use_bytes && used > *policy.max_use_bytes) ||
               (required_free != 0 && free < required_free);
    };
    std::vector<std::string> remove;
    for (size_t i = 0; i < removable && over_limits(); ++i) {
        remove.push_back(order[i]->id);
        used -= order[i]->disk_bytes;
        free += order[i]->disk_bytes;
        --count;
    }
    return remove;
}

Result<FilesystemSpace> filesystem_space(const std::string& path) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) < 0) {
        return make_errno_error(errno, "cannot get the free space of {}", path);
    }
    return FilesystemSpace{static_cast<uint64_t>(st.f_bavail) * st.f_frsize,
                           static_cast<uint64_t>(st.f_blocks) * st.f_frsize};
}

Status remove_dump(const std::string& crash_dir, const std::string& id) {
    if (auto valid = check_dump_id(id); !valid) {
        return valid;
    }
    auto crash_fd = open_directory(crash_dir);
    if (!crash_fd) {
        return tl::unexpected(crash_fd.error());
    }
    return remove_dump_at(crash_fd->get(), crash_dir, id);
}

Status apply_retention(const std::string& crash_dir, const std::vector<std::string>& ids) {
    auto crash_fd = open_directory(crash_dir);
    if (!crash_fd) {
        return tl::unexpected(crash_fd.error());
    }
    struct stat crash_st {};
    if (::fstat(crash_fd->get(), &crash_st) < 0) {
        return make_errno_error(errno, "cannot stat {}", crash_dir);
    }
    std::vector<Error> failures;
    if (auto status = remove_leftovers(crash_fd->get(), crash_dir, crash_st.st_dev); !status) {
        failures.push_back(status.error());
    }
    for (const auto& id : ids) {
        auto status = remove_dump_at(crash_fd->get(), crash_dir, id);
        if (!status && status.error().errno_value != ENOENT) {
            failures.push_back(status.error());
        }
    }
    if (failures.empty()) {
        return {};
    }
    std::string message;
    for (const auto& failure : failures) {
        message += message.empty() ? failure.message : "; " + failure.message;
    }
    return make_error(failures.front().errno_value,
                      "retention of {} could not remove everything: {}", crash_dir, message);
}

}  // namespace crashcapture
