// Retention of dumps in the crash directory: which to remove when they use
// too much space or leave too little free, and removing them. The knobs
// follow systemd-coredump's coredump.conf (MaxUse=, KeepFree=) and
// kdump-tools' KDUMP_NUM_DUMPS; unlike coredump's vacuum, the newest dump is
// never removed, whatever the policy says: it is the one the admin is about
// to look at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dump-catalog.hpp"
#include "result.hpp"

namespace crashcapture {

// What the policy needs to know of one dump.
struct DumpDirectory {
    std::string id;
    int64_t crash_time = 0;   // orders dumps, oldest first; ties broken by id
    uint64_t disk_bytes = 0;  // real usage (st_blocks), freed when it is removed
};

std::vector<DumpDirectory> dump_directories(const std::vector<DumpEntry>& entries);

struct RetentionPolicy {
    // MaxUse=: the dumps together may use at most this much disk.
    std::optional<uint64_t> max_use_bytes;
    // KeepFree=: the filesystem must keep at least this much free...
    std::optional<uint64_t> keep_free_bytes;
    // ...and at least this share of its size (0-100). Both apply when both
    // are set: the larger wins.
    std::optional<double> keep_free_percent;
    // MaxDumps=: at most this many dumps; 0 means no limit.
    unsigned max_dumps = 0;
    // KeepDumps=: the newest N dumps are never removed, even if that breaks
    // the limits above. The newest one is always kept, so 0 and 1 mean the same.
    unsigned keep_dumps = 0;
};

// The ids to remove, oldest first: dumps are taken from the oldest while any
// limit is exceeded, counting each removal as freeing its disk_bytes, and
// never among the newest max(keep_dumps, 1). Pure: no filesystem access.
// EINVAL for a policy that makes no sense (keep_free_percent outside 0-100).
Result<std::vector<std::string>> plan_retention(const std::vector<DumpDirectory>& dumps,
                                                const RetentionPolicy& policy,
                                                uint64_t filesystem_free_bytes,
                                                uint64_t filesystem_size_bytes);

// statvfs() of the filesystem holding path: free is f_bavail (what df calls
// "Avail", without the blocks reserved for root), size f_blocks.
struct FilesystemSpace {
    uint64_t free_bytes = 0;
    uint64_t size_bytes = 0;
};
Result<FilesystemSpace> filesystem_space(const std::string& path);

// Removes <crash_dir>/<id> and everything in it, with openat/unlinkat,
// never following a symlink and never crossing into another filesystem.
// The directory is first renamed to a hidden ".removing.<inode>" name, so
// readers see the dump whole or not at all, and a removal cut short by a
// crash is finished by the next apply_retention(). EINVAL for an invalid id
// (ids come over D-Bus), ENOENT when there is no such dump or the directory
// is not one (scan_dumps() would not list it: another tool's, an admin's).
Status remove_dump(const std::string& crash_dir, const std::string& id);

// Removes each id (a dump already gone counts as removed) and any removal
// left unfinished earlier. Carries on past failures; the error names every
// dump that could not be removed and carries the first errno.
Status apply_retention(const std::string& crash_dir, const std::vector<std::string>& ids);

}  // namespace crashcapture
