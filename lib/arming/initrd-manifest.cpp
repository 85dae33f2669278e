#include "initrd-manifest.hpp"
#include "json-integer.hpp"
#include "utf8.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <unordered_map>

#include "file-util.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

namespace {

// Large enough that the per-read cost vanishes against XXH3's speed, small
// enough to live on any stack of allocations: the whole file is never held.
constexpr size_t kReadBufferBytes = 128 * 1024;

// Deeper than any real /lib/modules (about 8 levels) by far; the limit only
// keeps a pathological tree from exhausting file descriptors (one per level).
constexpr int kMaxDepth = 128;

// A file's stat may be reused only if it was last changed at least this long
// before the previous manifest was computed. git's "racy git" problem
// (Documentation/technical/racy-git.txt): a file modified again within the
// same timestamp tick as it was hashed keeps its timestamps. Linux stamps
// inodes from a coarse clock (one jiffy, <= 10 ms), and FAT, where an EFI
// system partition keeps kernels, has a 2-second mtime resolution and no
// change time at all (Linux reports the creation time as ctime). 3 s covers both.
constexpr int64_t kRacyMarginNs = 3'000'000'000;

constexpr int64_t kNsPerSec = 1'000'000'000;

struct XxhStateDeleter {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
};
using XxhState = std::unique_ptr<XXH3_state_t, XxhStateDeleter>;

int64_t to_ns(const struct timespec& ts) {
    return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

int64_t realtime_now_ns() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return to_ns(ts);
}

std::string to_hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 0xf];
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int high = nibble(hex[i]);
        const int low = nibble(hex[i + 1]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        out += static_cast<char>((high << 4) | low);
    }
    return out;
}

void put_bytes(nlohmann::json& object, const std::string& key, const std::string& value) {
    if (is_valid_utf8(value)) {
        object[key] = value;
    } else {
        object[key + "_hex"] = to_hex(value);
    }
}

// Throws nlohmann::json exceptions like the rest of the parsing code does.
std::string get_bytes(const nlohmann::json& object, const std::string& key) {
    if (object.contains(key)) {
        return object.at(key).get<std::string>();
    }
    if (object.contains(key + "_hex")) {
        auto decoded = from_hex(object.at(key + "_hex").get<std::string>());
        if (!decoded) {
            throw std::invalid_argument(key + "_hex is not hexadecimal");
        }
        return *decoded;
    }
    return {};
}

std::string format_mode(uint32_t mode) {
    return fmt::format("{:04o}", mode);
}

std::string normalize_input(const std::string& path) {
    std::string out = path;
    while (out.size() > 1 && out.back() == '/') {
        out.pop_back();
    }
    return out;
}

std::string join(const std::string& directory, const std::string& name) {
    if (!directory.empty() && directory.back() == '/') {
        return directory + name;
    }
    return directory + "/" + name;
}

ManifestEntry make_entry(const std::string& path, ManifestEntryKind kind) {
    ManifestEntry entry;
    entry.path = path;
    entry.kind = kind;
    return entry;
}

bool is_vanished(int errno_value) {
    return errno_value == ENOENT || errno_value == ENOTDIR;
}

Result<std::string> read_link_at(int directory_fd, const char* name, const std::string& path) {
    // Symlink targets are at most PATH_MAX; grow anyway rather than truncate.
    std::string buffer(256, '\0');
    for (;;) {
        const ssize_t n = ::readlinkat(directory_fd, name, buffer.data(), buffer.size());
        if (n < 0) {
            return make_errno_error(errno, "cannot read symlink {}", path);
        }
        if (static_cast<size_t>(n) < buffer.size()) {
            buffer.resize(static_cast<size_t>(n));
            return buffer;
        }
        buffer.resize(buffer.size() * 2);
    }
}

// One XXH3 state and one read buffer, reused for every file of a walk: a
// fresh 128 KiB buffer per file would be an mmap/munmap pair each time
// (glibc's M_MMAP_THRESHOLD is 128 KiB), thousands of times in /lib/modules.
class ContentHasher {
  public:
    ContentHasher()
        : state_(XXH3_createState()),
          buffer_(std::make_unique_for_overwrite<char[]>(kReadBufferBytes)) {}

    Result<std::string> hash(int fd, uint64_t* size_bytes) {
        if (!state_ || XXH3_128bits_reset(state_.get()) != XXH_OK) {
            return make_error(ENOMEM, "cannot allocate the XXH3 state");
        }
        // Sequential reads of the whole file: let the page cache read ahead.
        (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        uint64_t total = 0;
        for (;;) {
            const ssize_t n = ::read(fd, buffer_.get(), kReadBufferBytes);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return make_errno_error(errno, "cannot read");
            }
            if (n == 0) {
                break;
            }
            if (XXH3_128bits_update(state_.get(), buffer_.get(), static_cast<size_t>(n)) !=
                XXH_OK) {
                return make_error(EINVAL, "XXH3 update failed");
            }
            total += static_cast<uint64_t>(n);
        }
        // The canonical form is big-endian (xxhash.h, XXH128_canonicalFromHash),
        // so the hex matches `xxhsum -H2` and does not depend on the host.
        XXH128_canonical_t canonical;
        XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_.get()));
        if (size_bytes) {
            *size_bytes = total;
        }
        return to_hex(std::string_view(reinterpret_cast<const char*>(canonical.digest),
                                       sizeof(canonical.digest)));
    }

  private:
    XxhState state_;
    std::unique_ptr<char[]> buffer_;
};

class Walker {
  public:
    Walker(std::vector<ManifestEntry>& out, const Manifest* previous) : out_(out) {
        if (previous && previous->algorithm == kManifestHashAlgorithm &&
            previous->schema_version == kManifestSchemaVersion) {
            reuse_before_ns_ = previous->computed_at_ns - kRacyMarginNs;
            for (const auto& entry : previous->entries) {
                if (!entry.hash.empty()) {
                    previous_.emplace(entry.path, &entry);
                }
            }
        }
    }

    Status add_input(const std::string& path) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) < 0) {
            if (is_vanished(errno)) {
                out_.push_back(make_entry(path, ManifestEntryKind::missing));
                return {};
            }
            return make_errno_error(errno, "cannot stat {}", path);
        }
        if (!S_ISLNK(st.st_mode)) {
            return add_at(AT_FDCWD, path.c_str(), path, st, 0);
        }

        ManifestEntry link = make_entry(path, ManifestEntryKind::symlink);
        auto target = read_link_at(AT_FDCWD, path.c_str(), path);
        if (!target) {
            if (is_vanished(target.error().errno_value)) {
                out_.push_back(make_entry(path, ManifestEntryKind::missing));
                return {};
            }
            return tl::unexpected(target.error());
        }
        link.target = std::move(*target);
        // The builder reads through a top-level link: follow it once.
        struct stat followed {};
        if (::stat(path.c_str(), &followed) < 0) {
            if (is_vanished(errno) || errno == ELOOP) {
                out_.push_back(std::move(link));  // dangling: the target says it all
                return {};
            }
            return make_errno_error(errno, "cannot stat {}", path);
        }
        if (S_ISREG(followed.st_mode)) {
            // O_NOFOLLOW would refuse the link we mean to follow.
            return add_regular_file(AT_FDCWD, path.c_str(), path, followed, std::move(link),
                                    /*follow=*/true);
        }
        link.mode = static_cast<uint32_t>(followed.st_mode & 07777);
        out_.push_back(std::move(link));
        if (S_ISDIR(followed.st_mode)) {
            UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!fd) {
                return is_vanished(errno) ? Status{}
                                          : make_errno_error(errno, "cannot open {}", path);
            }
            return walk_children(fd.get(), path, 1);
        }
        return {};
    }

  private:
    // One name inside directory_fd (or an absolute/relative path with
    // AT_FDCWD), already lstat'ed as st.
    Status add_at(int directory_fd, const char* name, const std::string& path,
                  const struct stat& st, int depth) {
        ManifestEntry entry = make_entry(path, ManifestEntryKind::other);
        entry.mode = static_cast<uint32_t>(st.st_mode & 07777);
        if (S_ISREG(st.st_mode)) {
            entry.kind = ManifestEntryKind::file;
            return add_regular_file(directory_fd, name, path, st, std::move(entry),
                                    /*follow=*/false);
        }
        if (S_ISLNK(st.st_mode)) {
            auto target = read_link_at(directory_fd, name, path);
            if (!target) {
                return is_vanished(target.error().errno_value) ? Status{}
                                                               : tl::unexpected(target.error());
            }
            ManifestEntry link = make_entry(path, ManifestEntryKind::symlink);
            link.target = std::move(*target);
            out_.push_back(std::move(link));
            return {};
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth >= kMaxDepth) {
                return make_error(ELOOP, "{}: directories nested deeper than {} levels", path,
                                  kMaxDepth);
            }
            UniqueFd fd(
                ::openat(directory_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) {
                if (is_vanished(errno)) {
                    return {};
                }
                return make_errno_error(errno, "cannot open directory {}", path);
            }
            entry.kind = ManifestEntryKind::directory;
            out_.push_back(std::move(entry));
            return walk_children(fd.get(), path, depth + 1);
        }
        // FIFOs, sockets and device nodes: recorded, never opened (opening a
        // FIFO blocks, opening a device can have side effects).
        entry.kind = ManifestEntryKind::other;
        out_.push_back(std::move(entry));
        return {};
    }

    Status walk_children(int directory_fd, const std::string& path, int depth) {
        auto listed = list_directory(directory_fd, path);
        if (!listed) {
            return tl::unexpected(listed.error());
        }
        std::vector<std::string> names = std::move(*listed);
        // Byte order (std::char_traits<char>::compare is memcmp-like), so the
        // same tree always yields the same manifest whatever readdir's order.
        std::sort(names.begin(), names.end());
        for (const auto& name : names) {
            const std::string child = join(path, name);
            struct stat st {};
            if (::fstatat(directory_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (is_vanished(errno)) {
                    continue;
                }
                return make_errno_error(errno, "cannot stat {}", child);
            }
            if (auto status = add_at(directory_fd, name.c_str(), child, st, depth); !status) {
                return status;
            }
        }
        return {};
    }

    // entry.path, .kind and (for links) .target are set; fills in the rest.
    Status add_regular_file(int directory_fd, const char* name, const std::string& path,
                            const struct stat& st, ManifestEntry entry, bool follow) {
        if (auto reused = reusable_hash(path, st)) {
            fill_stat(entry, st);
            entry.mode = static_cast<uint32_t>(st.st_mode & 07777);
            entry.size_bytes = static_cast<uint64_t>(st.st_size);
            entry.hash = *reused;
            out_.push_back(std::move(entry));
            return {};
        }
        // O_NONBLOCK: should the name have become a FIFO since the stat, the
        // open must not hang; regular files ignore it.
        const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW);
        UniqueFd fd(::openat(directory_fd, name, flags));
        if (!fd) {
            if (is_vanished(errno)) {
                return {};
            }
            if (errno == ELOOP) {
                return make_error(EAGAIN, "{} was replaced while the manifest was computed", path);
            }
            return make_errno_error(errno, "cannot open {}", path);
        }
        // The stat *before* reading is what goes into the cache: if the file
        // changes while it is hashed, its ctime moves on and the next
        // computation will not trust this hash.
        struct stat opened {};
        if (::fstat(fd.get(), &opened) < 0) {
            return make_errno_error(errno, "cannot stat {}", path);
        }
        if (!S_ISREG(opened.st_mode)) {
            return make_error(EAGAIN, "{} was replaced while the manifest was computed", path);
        }
        fill_stat(entry, opened);
        entry.mode = static_cast<uint32_t>(opened.st_mode & 07777);
        auto hash = hasher_.hash(fd.get(), &entry.size_bytes);
        if (!hash) {
            return propagate(hash.error(), path);
        }
        entry.hash = std::move(*hash);
        out_.push_back(std::move(entry));
        return {};
    }

    static void fill_stat(ManifestEntry& entry, const struct stat& st) {
        entry.inode = static_cast<uint64_t>(st.st_ino);
        entry.mtime_ns = to_ns(st.st_mtim);
        entry.ctime_ns = to_ns(st.st_ctim);
    }

    std::optional<std::string> reusable_hash(const std::string& path, const struct stat& st) const {
        const auto it = previous_.find(path);
        if (it == previous_.end()) {
            return std::nullopt;
        }
        const ManifestEntry& old = *it->second;
        const bool same = old.inode == static_cast<uint64_t>(st.st_ino) &&
                          old.size_bytes == static_cast<uint64_t>(st.st_size) &&
                          old.mtime_ns == to_ns(st.st_mtim) && old.ctime_ns == to_ns(st.st_ctim);
        const bool settled = old.mtime_ns < reuse_before_ns_ && old.ctime_ns < reuse_before_ns_;
        if (!same || !settled) {
            return std::nullopt;
        }
        return old.hash;
    }

    std::vector<ManifestEntry>& out_;
    ContentHasher hasher_;
    std::unordered_map<std::string_view, const ManifestEntry*> previous_;
    int64_t reuse_before_ns_ = 0;
};

Result<Manifest> compute(const std::vector<std::string>& inputs, const Manifest* previous) {
    Manifest manifest;
    manifest.computed_at_ns = realtime_now_ns();
    for (const auto& input : inputs) {
        auto normalized = normalize_input(input);
        if (normalized.empty()) {
            return make_error(EINVAL, "empty path in the list of initrd inputs");
        }
        if (std::find(manifest.inputs.begin(), manifest.inputs.end(), normalized) ==
            manifest.inputs.end()) {
            manifest.inputs.push_back(std::move(normalized));
        }
    }
    Walker walker(manifest.entries, previous);
    for (const auto& input : manifest.inputs) {
        if (auto status = walker.add_input(input); !status) {
            return propagate(status.error(), "cannot compute the initrd manifest");
        }
    }
    return manifest;
}

std::string describe_modification(const ManifestEntry& old_entry, const ManifestEntry& now) {
    if (old_entry.kind != now.kind) {
        return fmt::format("{} -> {}", to_string(old_entry.kind), to_string(now.kind));
    }
    std::vector<std::string> parts;
    if (old_entry.target != now.target) {
        parts.push_back(fmt::format("symlink target {} -> {}", old_entry.target, now.target));
    }
    if (old_entry.hash != now.hash || old_entry.size_bytes != now.size_bytes) {
        parts.emplace_back("content");
    }
    if (old_entry.mode != now.mode) {
        parts.push_back(
            fmt::format("mode {} -> {}", format_mode(old_entry.mode), format_mode(now.mode)));
    }
    std::string joined;
    for (const auto& part : parts) {
        joined += joined.empty() ? part : ", " + part;
    }
    return joined;
}

// Present entries by path; the first occurrence wins when inputs overlap.
std::map<std::string_view, const ManifestEntry*> present_entries(const Manifest& manifest) {
    std::map<std::string_view, const ManifestEntry*> out;
    for (const auto& entry : manifest.entries) {
        if (entry.kind != ManifestEntryKind::missing) {
            out.emplace(entry.path, &entry);
        }
    }
    return out;
}

}  // namespace

std::string_view to_string(ManifestEntryKind kind) {
    switch (kind) {
        case ManifestEntryKind::file:
            return "file";
        case ManifestEntryKind::directory:
            return "directory";
        case ManifestEntryKind::symlink:
            return "symlink";
        case ManifestEntryKind::other:
            return "other";
        case ManifestEntryKind::missing:
            return "missing";
    }
    return "missing";
}

std::optional<ManifestEntryKind> parse_manifest_entry_kind(std::string_view text) {
    for (auto kind :
         {ManifestEntryKind::file, ManifestEntryKind::directory, ManifestEntryKind::symlink,
          ManifestEntryKind::other, ManifestEntryKind::missing}) {
        if (to_string(kind) == text) {
            return kind;
        }
    }
    return std::nullopt;
}

std::string_view to_string(ManifestChangeKind kind) {
    switch (kind) {
        case ManifestChangeKind::added:
            return "added";
        case ManifestChangeKind::removed:
            return "removed";
        case ManifestChangeKind::modified:
            return "modified";
    }
    return "modified";
}

Result<std::string> hash_file_contents(int fd, uint64_t* size_bytes) {
    ContentHasher hasher;
    return hasher.hash(fd, size_bytes);
}

Result<Manifest> compute_manifest(const std::vector<std::string>& inputs) {
    return compute(inputs, nullptr);
}

Result<Manifest> compute_manifest(const std::vector<std::string>& inputs,
                                  const Manifest& previous) {
    return compute(inputs, &previous);
}

std::vector<ManifestChange> diff_manifests(const Manifest& old_manifest, const Manifest& now) {
    if (old_manifest.algorithm != now.algorithm ||
        old_manifest.schema_version != now.schema_version) {
        return {ManifestChange{
            ManifestChangeKind::modified,
            {},
            fmt::format("manifest format changed ({} v{} -> {} v{})", old_manifest.algorithm,
                        old_manifest.schema_version, now.algorithm, now.schema_version)}};
    }
    const auto old_entries = present_entries(old_manifest);
    const auto new_entries = present_entries(now);
    std::vector<ManifestChange> changes;
    auto old_it = old_entries.begin();
    auto new_it = new_entries.begin();
    // A merge of two sorted maps: one pass, output sorted by path.
    while (old_it != old_entries.end() || new_it != new_entries.end()) {
        if (new_it == new_entries.end() ||
            (old_it != old_entries.end() && old_it->first < new_it->first)) {
            changes.push_back({ManifestChangeKind::removed, std::string(old_it->first), {}});
            ++old_it;
        } else if (old_it == old_entries.end() || new_it->first < old_it->first) {
            changes.push_back({ManifestChangeKind::added, std::string(new_it->first), {}});
            ++new_it;
        } else {
            auto detail = describe_modification(*old_it->second, *new_it->second);
            if (!detail.empty()) {
                changes.push_back(
                    {ManifestChangeKind::modified, std::string(new_it->first), std::move(detail)});
            }
            ++old_it;
            ++new_it;
        }
    }
    return changes;
}

std::vector<std::string> changed_inputs(const Manifest& old_manifest, const Manifest& now) {
    return describe_changes(diff_manifests(old_manifest, now));
}

std::vector<std::string> describe_changes(const std::vector<ManifestChange>& changes) {
    std::vector<std::string> lines;
    for (const auto& change : changes) {
        if (change.path.empty()) {
            lines.push_back(change.detail);
        } else if (change.detail.empty()) {
            lines.push_back(fmt::format("{}: {}", to_string(change.kind), change.path));
        } else {
            lines.push_back(
                fmt::format("{}: {} ({})", to_string(change.kind), change.path, change.detail));
        }
    }
    return lines;
}

namespace {

bool is_kernel_module(std::string_view path) {
    // kmod's module suffixes (libkmod/libkmod-util.c): uncompressed, gzip,
    // xz and zstd.
    for (std::string_view suffix : {".ko", ".ko.gz", ".ko.xz", ".ko.zst"}) {
        if (path.size() > suffix.size() && path.ends_with(suffix)) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<std::string> module_changed_after_depmod(const Manifest& now,
                                                       const std::vector<ManifestChange>& changes,
                                                       const std::string& module_directory) {
    const std::string prefix = module_directory + "/";
    const std::string depmod_output = prefix + "modules.dep";
    std::optional<int64_t> depmod_ctime_ns;
    std::unordered_map<std::string_view, const ManifestEntry*> entries;
    for (const auto& entry : now.entries) {
        if (entry.path == depmod_output && entry.kind == ManifestEntryKind::file) {
            depmod_ctime_ns = entry.ctime_ns;
        }
        if (entry.kind == ManifestEntryKind::file && entry.path.starts_with(prefix)) {
            entries.emplace(entry.path, &entry);
        }
    }
    const ManifestEntry* newest = nullptr;
    for (const auto& change : changes) {
        if (change.kind == ManifestChangeKind::removed || !is_kernel_module(change.path)) {
            continue;
        }
        const auto found = entries.find(change.path);
        if (found == entries.end()) {
            continue;  // not a file of this tree
        }
        const ManifestEntry& module = *found->second;
        if (depmod_ctime_ns && module.ctime_ns <= *depmod_ctime_ns) {
            continue;
        }
        if (newest == nullptr || module.ctime_ns > newest->ctime_ns) {
            newest = &module;
        }
    }
    if (newest == nullptr) {
        return std::nullopt;
    }
    return newest->path;
}

nlohmann::json to_json(const Manifest& manifest) {
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& input : manifest.inputs) {
        nlohmann::json item = nlohmann::json::object();
        put_bytes(item, "path", input);
        inputs.push_back(std::move(item));
    }
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& entry : manifest.entries) {
        // Fields at their default are left out: /lib/modules alone has
        // thousands of entries.
        nlohmann::json item = nlohmann::json::object();
        put_bytes(item, "path", entry.path);
        item["kind"] = to_string(entry.kind);
        if (entry.mode != 0) {
            item["mode"] = entry.mode;
        }
        if (!entry.hash.empty()) {
            item["size"] = entry.size_bytes;
            item["hash"] = entry.hash;
            item["inode"] = entry.inode;
            item["mtime_ns"] = entry.mtime_ns;
            item["ctime_ns"] = entry.ctime_ns;
        }
        if (entry.kind == ManifestEntryKind::symlink) {
            put_bytes(item, "target", entry.target);
        }
        entries.push_back(std::move(item));
    }
    return nlohmann::json{
        {"schema_version", manifest.schema_version},
        {"algorithm", manifest.algorithm},
        {"computed_at_ns", manifest.computed_at_ns},
        {"inputs", std::move(inputs)},
        {"entries", std::move(entries)},
    };
}

Result<Manifest> manifest_from_json(const nlohmann::json& json) {
    try {
        Manifest manifest;
        manifest.schema_version = json_integer<int>(json.at("schema_version"), "schema_version");
        if (manifest.schema_version > kManifestSchemaVersion) {
            return make_error(0, "manifest schema version {} is newer than this tool's {}",
                              manifest.schema_version, kManifestSchemaVersion);
        }
        manifest.algorithm = json.at("algorithm").get<std::string>();
        manifest.computed_at_ns = json_integer(json, "computed_at_ns", int64_t{0});
        for (const auto& item : json.at("inputs")) {
            manifest.inputs.push_back(get_bytes(item, "path"));
        }
        const auto& entries = json.at("entries");
        manifest.entries.reserve(entries.size());
        for (const auto& item : entries) {
            ManifestEntry entry;
            entry.path = get_bytes(item, "path");
            const auto kind_text = item.at("kind").get<std::string>();
            const auto kind = parse_manifest_entry_kind(kind_text);
            if (!kind) {
                return make_error(0, "unknown manifest entry kind \"{}\"", kind_text);
            }
            entry.kind = *kind;
            entry.mode = json_integer(item, "mode", uint32_t{0});
            entry.size_bytes = json_integer(item, "size", uint64_t{0});
            entry.hash = item.value("hash", "");
            entry.inode = json_integer(item, "inode", uint64_t{0});
            entry.mtime_ns = json_integer(item, "mtime_ns", int64_t{0});
            entry.ctime_ns = json_integer(item, "ctime_ns", int64_t{0});
            entry.target = get_bytes(item, "target");
            manifest.entries.push_back(std::move(entry));
        }
        return manifest;
    } catch (const std::exception& e) {
        // nlohmann::json::exception, and invalid_argument from get_bytes.
        return make_error(0, "malformed initrd manifest: {}", e.what());
    }
}

Status write_manifest(int directory_fd, const std::string& file_name, const Manifest& manifest) {
    // Compact: thousands of entries; one line per entry would be nicer to
    // read but the daemon's changed_inputs() is the human interface.
    return write_file_atomically(directory_fd, file_name, to_json(manifest).dump() + "\n", 0644);
}

Result<Manifest> read_manifest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    try {
        auto manifest = manifest_from_json(nlohmann::json::parse(in));
        if (!manifest) {
            return propagate(manifest.error(), path);
        }
        return manifest;
    } catch (const std::exception& e) {
        return make_error(0, "{}: not valid JSON: {}", path, e.what());
    }
}

}  // namespace crashcapture
