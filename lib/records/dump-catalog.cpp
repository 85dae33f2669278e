#include "dump-catalog.hpp"
#include "json-integer.hpp"
#include "utf8.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "file-util.hpp"
#include "save-dump.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

namespace {

// Deeper than any dump directory (they are flat) by far; keeps a hostile
// tree from exhausting file descriptors, one per level.
constexpr int kMaxDepth = 64;

// stat(2): "st_blocks: number of 512B blocks allocated", whatever st_blksize.
constexpr uint64_t kStatBlockBytes = 512;

class UsageCounter {
  public:
    Status add_tree(int directory_fd, const std::string& path, int depth) {
        if (depth > kMaxDepth) {
            return make_error(ELOOP, "{}: directories nested deeper than {} levels", path,
                              kMaxDepth);
        }
        auto names = list_directory(directory_fd, path);
        if (!names) {
            return tl::unexpected(names.error());
        }
        for (const auto& name : *names) {
            const std::string child = path + "/" + name;
            struct stat st {};
            if (::fstatat(directory_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT) {
                    continue;  // removed while we looked
                }
                return make_errno_error(errno, "cannot stat {}", child);
            }
            add(st);
            if (S_ISDIR(st.st_mode)) {
                UniqueFd fd(::openat(directory_fd, name.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!fd) {
                    if (errno == ENOENT) {
                        continue;
                    }
                    return make_errno_error(errno, "cannot open directory {}", child);
                }
                if (auto status = add_tree(fd.get(), child, depth + 1); !status) {
                    return status;
                }
            }
        }
        return {};
    }

    void add(const struct stat& st) {
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
            !seen_.insert({st.st_dev, st.st_ino}).second) {
            return;
        }
        total_ += static_cast<uint64_t>(st.st_blocks) * kStatBlockBytes;
    }

    uint64_t total() const { return total_; }

  private:
    uint64_t total_ = 0;
    std::set<std::pair<dev_t, ino_t>> seen_;
};

Result<uint64_t> usage_of_open_directory(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    UsageCounter counter;
    counter.add(st);
    if (auto status = counter.add_tree(fd, path, 1); !status) {
        return tl::unexpected(status.error());
    }
    return counter.total();
}

bool exists_at(int directory_fd, std::string_view name) {
    struct stat st {};
    return ::fstatat(directory_fd, std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

// What crashcapture-save leaves behind, best first (save-dump.hpp).
std::vector<std::string> dump_file_candidates() {
    return {dump_file_name(DumpFormat::kdump, true), dump_file_name(DumpFormat::flattened, true),
            dump_file_name(DumpFormat::kdump, false), dump_file_name(DumpFormat::flattened, false)};
}

// A directory that cannot be read is still listed, with the reason: one bad
// directory must not hide the others (a daemon never dies of a bad input).
DumpEntry unreadable_entry(const std::string& id, const std::string& path, const Error& error) {
    DumpEntry entry;
    entry.id = id;
    entry.path = path;
    entry.record_error = error.message;
    entry.record.result = DumpResult::failed;
    entry.record.error = error.message;
    return entry;
}

// Reads one dump directory; nullopt when it is not a dump of ours.
std::optional<DumpEntry> read_entry(int crash_fd, const std::string& crash_dir,
                                    const std::string& id) {
    const std::string path = crash_dir + "/" + id;
    UniqueFd fd(::openat(crash_fd, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            return std::nullopt;  // gone, a file, or a symlink
        }
        return unreadable_entry(
            id, path, make_errno_error(errno, "cannot open dump directory {}", path).value());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        return unreadable_entry(id, path, make_errno_error(errno, "cannot stat {}", path).value());
    }

    const bool has_record_file = exists_at(fd.get(), kRecordFileName);
    std::string dump_file;
    for (const auto& candidate : dump_file_candidates()) {
        if (exists_at(fd.get(), candidate)) {
            dump_file = candidate;
            break;
        }
    }
    const bool has_dmesg = exists_at(fd.get(), kDmesgFileName);
    if (!has_record_file && dump_file.empty() && !has_dmesg) {
        return std::nullopt;
    }

    DumpEntry entry;
    entry.id = id;
    entry.path = path;
    if (has_record_file) {
        auto record = read_dump_record(path + "/" + std::string(kRecordFileName));
        if (record) {
            entry.record = std::move(*record);
        } else {
            entry.record_error = record.error().message;
        }
    } else {
        entry.record_error = fmt::format(
            "no {}: the capture did not finish (the capture kernel hung, lost power "
            "or was reset)",
            kRecordFileName);
    }
    if (entry.has_record() && entry.record.result == DumpResult::failed &&
        entry.record.error == kCaptureInterruptedError) {
        // The record crashcapture-save writes before it starts, never
        // replaced: the capture stopped mid-way (power cut, reset, hang). It
        // was written before the kernel log and the dump, so it names
        // neither; what did reach the disk is listed, a partial dump as
        // incomplete, never as a good one (its name still ends .incomplete).
        entry.record.dump_file = dump_file;
        entry.record.dmesg_file = has_dmesg ? std::string(kDmesgFileName) : std::string();
        if (!dump_file.empty()) {
            entry.record.result = DumpResult::incomplete;
            entry.record.error = fmt::format(
                "{}: the capture kernel lost power, was reset or hung before its final "
                "record, and {} may hold only part of the dump",
                kCaptureInterruptedError, dump_file);
        }
    }
    if (!entry.has_record()) {
        entry.record.result = dump_file.empty() ? DumpResult::failed : DumpResult::incomplete;
        entry.record.error = entry.record_error;
        entry.record.dump_file = dump_file;
        entry.record.dmesg_file = has_dmesg ? std::string(kDmesgFileName) : std::string();
    }
    entry.crash_time = entry.record.crash_time != 0   ? entry.record.crash_time
                       : entry.record.started_at != 0 ? entry.record.started_at
                                                      : static_cast<int64_t>(st.st_mtim.tv_sec);
    auto usage = usage_of_open_directory(fd.get(), path);
    if (usage) {
        entry.disk_bytes = *usage;
    } else {
        entry.record.warnings.push_back("cannot measure disk usage: " + usage.error().message);
    }
    return entry;
}

// The kernel log a signature is read from: record.dmesg_file, a plain name
// in the dump's directory. Empty when the capture's own signature is in the
// record (nothing to read) or the name is missing or not a plain name.
std::string signature_log_path(const DumpEntry& entry) {
    const auto& name = entry.record.dmesg_file;
    if (!entry.record.signature.empty() || name.empty() || name.find('/') != std::string::npos ||
        entry.path.empty()) {
        return {};
    }
    return entry.path + "/" + name;
}

bool older(const DumpEntry& a, const DumpEntry& b) {
    return std::tie(a.crash_time, a.id) < std::tie(b.crash_time, b.id);
}

}  // namespace

PanicSignature dump_signature(const DumpEntry& entry) {
    // The capture's own (status.json schema 2) is the dump's name for good;
    // a record of an older saver gets it from its kernel log.
    if (!entry.record.signature.empty()) {
        return PanicSignature{entry.record.signature,
                              entry.record.signature_hash.empty()
                                  ? panic_signature_hash(entry.record.signature)
                                  : entry.record.signature_hash};
    }
    const std::string path = signature_log_path(entry);
    if (path.empty()) {
        return {};
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
        return {};
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxSignatureLogBytes &&
        ::lseek(fd.get(), st.st_size - static_cast<off_t>(kMaxSignatureLogBytes), SEEK_SET) < 0) {
        return {};
    }
    auto text = read_to_end(fd.get(), path, kMaxSignatureLogBytes);
    return text ? panic_signature(*text) : PanicSignature{};
}

PanicSignature DumpSignatureCache::get(const DumpEntry& entry) {
    const std::string path = signature_log_path(entry);
    if (path.empty()) {
        return dump_signature(entry);  // the record's own, or no log to read
    }
    struct stat st {};
    if (::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
        by_path_.erase(path);
        return {};
    }
    const LogIdentity identity{
        static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
        static_cast<int64_t>(st.st_size),
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    if (auto it = by_path_.find(path); it != by_path_.end() && it->second.first == identity) {
        return it->second.second;
    }
    if (by_path_.size() >= kEntries) {
        by_path_.clear();
    }
    ++logs_read_;
    auto signature = dump_signature(entry);
    by_path_[path] = {identity, signature};
    return signature;
}

bool is_valid_dump_id(std::string_view id) {
    return static_cast<bool>(check_dump_id(id));
}

Status check_dump_id(std::string_view id) {
    if (id.empty()) {
        return make_error(EINVAL, "empty dump id");
    }
    // NAME_MAX (limits.h, 255): longer cannot be a directory name.
    if (id.size() > NAME_MAX) {
        return make_error(EINVAL, "dump id longer than {} bytes", NAME_MAX);
    }
    if (id.front() == '.') {
        return make_error(EINVAL, "dump id \"{}\" starts with '.'", id);
    }
    if (id.find('/') != std::string_view::npos) {
        return make_error(EINVAL, "dump id \"{}\" contains '/'", id);
    }
    if (id.find("..") != std::string_view::npos) {
        return make_error(EINVAL, "dump id \"{}\" contains \"..\"", id);
    }
    for (const char c : id) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            return make_error(EINVAL, "dump id contains control character 0x{:02x}", byte);
        }
    }
    if (!is_valid_utf8(id)) {
        return make_error(EINVAL, "dump id is not valid UTF-8");
    }
    return {};
}

Result<uint64_t> disk_usage_bytes(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        return static_cast<uint64_t>(st.st_blocks) * kStatBlockBytes;
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return make_errno_error(errno, "cannot open directory {}", path);
    }
    return usage_of_open_directory(fd.get(), path);
}

Result<std::vector<DumpEntry>> scan_dumps(const std::string& crash_dir) {
    UniqueFd crash_fd(::open(crash_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!crash_fd) {
        if (errno == ENOENT) {
            return std::vector<DumpEntry>{};
        }
        return make_errno_error(errno, "cannot open crash directory {}", crash_dir);
    }
    auto names = list_directory(crash_fd.get(), crash_dir);
    if (!names) {
        return tl::unexpected(names.error());
    }
    std::vector<DumpEntry> entries;
    for (const auto& name : *names) {
        if (!is_valid_dump_id(name)) {
            continue;
        }
        if (auto entry = read_entry(crash_fd.get(), crash_dir, name)) {
            entries.push_back(std::move(*entry));
        }
    }
    std::sort(entries.begin(), entries.end(), older);
    return entries;
}

Result<DumpEntry> load_dump(const std::string& crash_dir, const std::string& id) {
    if (auto valid = check_dump_id(id); !valid) {
        return tl::unexpected(valid.error());
    }
    UniqueFd crash_fd(::open(crash_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!crash_fd) {
        return make_errno_error(errno, "cannot open crash directory {}", crash_dir);
    }
    auto entry = read_entry(crash_fd.get(), crash_dir, id);
    if (!entry) {
        return make_error(ENOENT, "no dump \"{}\" in {}", id, crash_dir);
    }
    return std::move(*entry);
}

Result<DumpScan> scan_dump_directories(const std::vector<std::string>& crash_dirs) {
    DumpScan scan;
    std::set<std::string> seen;
    for (size_t i = 0; i < crash_dirs.size(); ++i) {
        auto dumps = scan_dumps(crash_dirs[i]);
        if (!dumps) {
            if (i == 0) {
                return tl::unexpected(dumps.error());
            }
            scan.problems.push_back(dumps.error().message);
            continue;
        }
        for (auto& entry : *dumps) {
            if (seen.insert(entry.id).second) {
                scan.dumps.push_back(std::move(entry));
            }
        }
    }
    std::sort(scan.dumps.begin(), scan.dumps.end(), older);
    return scan;
}

Result<DumpEntry> load_dump_from(const std::vector<std::string>& crash_dirs,
                                 const std::string& id) {
    Result<DumpEntry> first = make_error(ENOENT, "no dump \"{}\"", id);
    for (size_t i = 0; i < crash_dirs.size(); ++i) {
        auto entry = load_dump(crash_dirs[i], id);
        if (entry || entry.error().errno_value == EINVAL) {
            return entry;
        }
        if (i == 0) {
            first = std::move(entry);
        }
    }
    return first;
}

Result<Ledger> read_ledger(const std::string& state_dir) {
    const std::string path = state_dir + "/" + std::string(kLedgerFileName);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            return Ledger{};
        }
        return make_errno_error(errno, "cannot open {}", path);
    }
    auto text = read_to_end(fd.get(), path);
    if (!text) {
        return tl::unexpected(text.error());
    }
    try {
        const auto json = nlohmann::json::parse(*text);
        const int version = json_integer<int>(json.at("schema_version"), "schema_version");
        if (version > kLedgerSchemaVersion) {
            return make_error(0, "{}: schema version {} is newer than this tool's {}", path,
                              version, kLedgerSchemaVersion);
        }
        Ledger ledger;
        for (const auto& id : json.at("reported")) {
            auto text_id = id.get<std::string>();
            // An id that could not name a dump cannot match one either.
            if (is_valid_dump_id(text_id)) {
                ledger.reported.insert(std::move(text_id));
            }
        }
        return ledger;
    } catch (const std::exception& e) {
        return make_error(0, "{}: malformed ledger: {}", path, e.what());
    }
}

Status write_ledger(const std::string& state_dir, const Ledger& ledger) {
    auto fd = open_directory(state_dir);
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    // Only valid ids get in (they come from scan_dumps), and those are UTF-8,
    // so dump() cannot throw on an invalid string.
    const nlohmann::json json{{"schema_version", kLedgerSchemaVersion},
                              {"reported", ledger.reported}};
    return write_file_atomically(fd->get(), std::string(kLedgerFileName), json.dump(2) + "\n",
                                 0644);
}

std::vector<DumpEntry> unreported(const std::vector<DumpEntry>& entries, const Ledger& ledger) {
    std::vector<DumpEntry> out;
    for (const auto& entry : entries) {
        if (!ledger.reported.contains(entry.id)) {
            out.push_back(entry);
        }
    }
    return out;
}

Status mark_reported(const std::string& state_dir, Ledger& ledger,
                     const std::vector<std::string>& ids) {
    Ledger updated = ledger;
    for (const auto& id : ids) {
        if (auto valid = check_dump_id(id); !valid) {
            return tl::unexpected(valid.error());
        }
        updated.reported.insert(id);
    }
    if (auto status = write_ledger(state_dir, updated); !status) {
        return status;
    }
    ledger = std::move(updated);
    return {};
}

bool prune_ledger(Ledger& ledger, const std::vector<DumpEntry>& present) {
    std::set<std::string_view> ids;
    for (const auto& entry : present) {
        ids.insert(entry.id);
    }
    return std::erase_if(ledger.reported,
                         [&](const std::string& id) { return !ids.contains(id); }) > 0;
}

}  // namespace crashcapture
