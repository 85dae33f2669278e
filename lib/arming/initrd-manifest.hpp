// The manifest of a capture initrd: a content hash of every input that went
// into it (the capture kernel, /lib/modules/KVER, config files, fstab, ssh
// keys, the builder's own files). The daemon rebuilds the initrd only when
// the manifest of what is on disk now differs from the one saved with the
// initrd, and logs which inputs changed (ARCHITECTURE.md, "The flow", step 2).
//
// Changes are decided by content, kind, permissions and symlink targets, never
// by mtimes: a package upgrade that rewrites identical files, or a `touch`,
// is not a change; a same-size edit is.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace crashcapture {

inline constexpr int kManifestSchemaVersion = 1;
// XXH3 with a 128-bit result (xxhash.h, XXH3_128bits): fast enough that
// hashing /lib/modules is bound by reading it, and wide enough that an
// accidental collision is not a concern. It is not a cryptographic hash: the
// manifest detects changes, it does not authenticate anything.
inline constexpr std::string_view kManifestHashAlgorithm = "xxh3-128";

enum class ManifestEntryKind { file, directory, symlink, other, missing };
std::string_view to_string(ManifestEntryKind kind);
std::optional<ManifestEntryKind> parse_manifest_entry_kind(std::string_view text);

struct ManifestEntry {
    std::string path;  // the input as given, or input + "/" + path inside it
    ManifestEntryKind kind = ManifestEntryKind::missing;
    // Permission bits (st_mode & 07777): dracut copies them into the initrd,
    // so an ssh key made world-readable or a hook made executable is a change.
    // 0 for symlinks whose target is not a file, and for missing inputs.
    uint32_t mode = 0;
    uint64_t size_bytes = 0;  // bytes hashed (regular files)
    std::string hash;         // hex XXH3-128 of the content (regular files)
    std::string target;       // readlink() of a symlink, never followed inside trees

    // Stat cache, never compared: compute_manifest(inputs, previous) reuses
    // the previous hash of a file whose inode, size, mtime and ctime are all
    // unchanged, the way git's index does (see initrd-manifest.cpp).
    uint64_t inode = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
};

struct Manifest {
    int schema_version = kManifestSchemaVersion;
    std::string algorithm = std::string(kManifestHashAlgorithm);
    std::vector<std::string> inputs;     // as given, trailing '/' removed, duplicates dropped
    std::vector<ManifestEntry> entries;  // inputs in order, each tree in sorted order
    int64_t computed_at_ns = 0;          // CLOCK_REALTIME when the walk started
};

// Hashes every input. A missing input (ENOENT, ENOTDIR) is recorded as
// missing, not an error: an optional ssh key that is absent today and present
// tomorrow is an addition. Directories are walked in byte order of their
// names, without following symlinks (so /lib/modules/KVER/build, a link to
// the kernel headers, costs one readlink, not a walk of the headers) and
// without leaving the tree. An input that is itself a symlink (/boot/vmlinuz
// -> vmlinuz-6.1.0-18-amd64) is recorded by target *and* followed, since the
// initrd builder reads what it points to. Files vanishing during the walk
// are left out. Any other error (EACCES, EIO) fails the whole manifest: a
// manifest with holes could hide a change.
Result<Manifest> compute_manifest(const std::vector<std::string>& inputs);

// The same, reusing the hash of each regular file whose stat cache matches
// `previous` (a manifest computed earlier on this system) and that was not
// modified shortly before `previous` was computed. A large speed-up on a cold
// page cache (/lib/modules is hundreds of MB); the result is identical to a
// full computation as long as nothing forged an inode's ctime.
Result<Manifest> compute_manifest(const std::vector<std::string>& inputs, const Manifest& previous);

// Hex XXH3-128 of everything readable from fd, read in bounded chunks.
Result<std::string> hash_file_contents(int fd, uint64_t* size_bytes = nullptr);

enum class ManifestChangeKind { added, removed, modified };
std::string_view to_string(ManifestChangeKind kind);

struct ManifestChange {
    ManifestChangeKind kind = ManifestChangeKind::modified;
    std::string path;
    std::string detail;  // for modified: "content", "mode 0644 -> 0600", …
};

// What differs between two manifests, sorted by path. Missing inputs count
// as absent: missing -> file is "added", file -> missing is "removed". When
// the manifests cannot be compared (another hash algorithm or schema), the
// answer is one change with an empty path saying so: rebuild.
std::vector<ManifestChange> diff_manifests(const Manifest& old_manifest, const Manifest& now);

// diff_manifests() as log lines: "modified: /boot/vmlinuz-6.1.0-18-amd64
// (content)", "added: /root/.ssh/id_ed25519", "removed: /etc/crypttab". Empty
// means nothing really changed and the existing initrd can be kept.
std::vector<std::string> changed_inputs(const Manifest& old_manifest, const Manifest& now);
// The same lines for changes diff_manifests() already gave.
std::vector<std::string> describe_changes(const std::vector<ManifestChange>& changes);

// The newest kernel module (.ko, .ko.gz/.xz/.zst) that `changes` added or
// modified under module_directory (/usr/lib/modules/KVER) after that tree's
// modules.dep was written, by ctime, which neither dpkg nor cp -p can set
// back; or nullopt. Such a module is not yet in modules.dep: depmod runs
// after the files are in place (a kernel package's postinst, DKMS, or by
// hand), and dracut resolves modules through modules.dep, so an initrd built
// before depmod ends holds the old driver, or misses the new one, and must
// be built again once it has run. A tree without modules.dep is waiting for
// its first depmod: any changed module counts.
std::optional<std::string> module_changed_after_depmod(const Manifest& now,
                                                       const std::vector<ManifestChange>& changes,
                                                       const std::string& module_directory);

// JSON. Paths and symlink targets that are not valid UTF-8 (JSON cannot hold
// them) are stored hex-encoded under "path_hex" / "target_hex".
nlohmann::json to_json(const Manifest& manifest);
Result<Manifest> manifest_from_json(const nlohmann::json& json);

// Written through a temporary file and rename (write_file_atomically), so a
// crash mid-write leaves the old manifest, never half a new one.
Status write_manifest(int directory_fd, const std::string& file_name, const Manifest& manifest);
Result<Manifest> read_manifest(const std::string& path);

}  // namespace crashcapture
