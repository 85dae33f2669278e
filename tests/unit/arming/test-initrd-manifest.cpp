#include "initrd-manifest.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "file-util.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

void write_file(const std::string& path, std::string_view contents, mode_t mode = 0644) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << contents;
        ASSERT_TRUE(out.good()) << path;
    }
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// Rewrites bytes in place: same inode, same size, only the content differs.
void overwrite_in_place(const std::string& path, std::string_view contents) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, contents.data(), contents.size(), 0),
              static_cast<ssize_t>(contents.size()));
    ::close(fd);
}

void make_dir(const std::string& path) {
    ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path;
}

void make_link(const std::string& target, const std::string& path) {
    ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
}

// Moves mtime (and ctime) without touching the content, like `touch`.
void touch(const std::string& path, int64_t seconds_from_now) {
    struct timespec times[2]{};
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec += seconds_from_now;
    times[1] = times[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// Linux stamps inodes from a coarse clock (one jiffy): wait long enough that
// the next modification gets a different ctime.
void let_the_clock_tick() {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
}

std::string reference_hash(std::string_view data) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(data.data(), data.size()));
    std::string hex;
    for (const unsigned char byte : canonical.digest) {
        hex += fmt::format("{:02x}", byte);
    }
    return hex;
}

const ManifestEntry* find_entry(const Manifest& manifest, const std::string& path) {
    for (const auto& entry : manifest.entries) {
        if (entry.path == path) {
            return &entry;
        }
    }
    return nullptr;
}

std::vector<std::string> entry_paths(const Manifest& manifest) {
    std::vector<std::string> paths;
    for (const auto& entry : manifest.entries) {
        paths.push_back(entry.path);
    }
    return paths;
}

Manifest must_compute(const std::vector<std::string>& inputs) {
    auto manifest = compute_manifest(inputs);
    EXPECT_TRUE(manifest) << manifest.error().message;
    return manifest ? *manifest : Manifest{};
}

// A small capture-initrd input set: kernel, modules tree, config, fstab.
class InitrdManifest : public ::testing::Test {
  protected:
    void SetUp() override {
        make_dir(dir_.file("boot"));
        write_file(kernel(), "bzImage contents");
        make_dir(modules());
        make_dir(modules() + "/kernel");
        make_dir(modules() + "/kernel/fs");
        write_file(modules() + "/kernel/fs/ext4.ko", "ext4 module");
        write_file(modules() + "/kernel/fs/xfs.ko", "xfs module");
        write_file(modules() + "/modules.dep", "kernel/fs/ext4.ko:\n");
        make_link("/usr/src/linux-headers-6.1.0-18-amd64", modules() + "/build");
        make_dir(dir_.file("etc"));
        write_file(fstab(), "/dev/vda1 / ext4 defaults 0 1\n");
        write_file(key(), "ssh-ed25519 AAAA", 0600);
    }

    std::string kernel() const { return dir_.file("boot/vmlinuz-6.1.0-18-amd64"); }
    std::string modules() const { return dir_.file("modules"); }
    std::string fstab() const { return dir_.file("etc/fstab"); }
    std::string key() const { return dir_.file("etc/id_ed25519"); }
    std::vector<std::string> inputs() const { return {kernel(), modules(), fstab(), key()}; }

    TempDir dir_;
};

TEST(ManifestHash, IsCanonicalXxh3_128InHex) {
    TempDir dir;
    write_file(dir.file("empty"), "");
    write_file(dir.file("abc"), "abc");
    for (const auto& [name, contents] :
         std::vector<std::pair<std::string, std::string>>{{"empty", ""}, {"abc", "abc"}}) {
        const int fd = ::open(dir.file(name).c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint64_t size = 99;
        auto hash = hash_file_contents(fd, &size);
        ::close(fd);
        ASSERT_TRUE(hash) << hash.error().message;
        EXPECT_EQ(*hash, reference_hash(contents));
        EXPECT_EQ(hash->size(), 32u);
        EXPECT_EQ(size, contents.size());
    }
    // The published XXH3-128 of the empty input (xxhsum -H2 /dev/null).
    EXPECT_EQ(reference_hash(""), "99aa06d3014798d86001c324468d497f");
}

TEST(ManifestHash, LargeFilesAreStreamedAcrossBufferBoundaries) {
    TempDir dir;
    // Not a multiple of the read buffer, so the last chunk is partial.
    std::string data(3 * 1024 * 1024 + 12345, '\0');
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    write_file(dir.file("big"), data);
    auto manifest = compute_manifest({dir.file("big")});
    ASSERT_TRUE(manifest) << manifest.error().message;
    ASSERT_EQ(manifest->entries.size(), 1u);
    EXPECT_EQ(manifest->entries[0].hash, reference_hash(data));
    EXPECT_EQ(manifest->entries[0].size_bytes, data.size());
}

TEST_F(InitrdManifest, RecordsEveryInputTreeInSortedOrder) {
    const auto manifest = must_compute(inputs());
    EXPECT_EQ(manifest.schema_version, kManifestSchemaVersion);
    EXPECT_EQ(manifest.algorithm, "xxh3-128");
    EXPECT_GT(manifest.computed_at_ns, 0);
    EXPECT_EQ(manifest.inputs, inputs());
    EXPECT_THAT(
        entry_paths(manifest),
        ElementsAre(kernel(), modules(), modules() + "/build", modules() + "/kernel",
                    modules() + "/kernel/fs", modules() + "/kernel/fs/ext4.ko",
                    modules() + "/kernel/fs/xfs.ko", modules() + "/modules.dep", fstab(), key()));

    const auto* ko = find_entry(manifest, modules() + "/kernel/fs/ext4.ko");
    ASSERT_NE(ko, nullptr);
    EXPECT_EQ(ko->kind, ManifestEntryKind::file);
    EXPECT_EQ(ko->hash, reference_hash("ext4 module"));
    EXPECT_EQ(ko->size_bytes, 11u);
    EXPECT_EQ(ko->mode, 0644u);

    const auto* build = find_entry(manifest, modules() + "/build");
    ASSERT_NE(build, nullptr);
    EXPECT_EQ(build->kind, ManifestEntryKind::symlink);
    EXPECT_EQ(build->target, "/usr/src/linux-headers-6.1.0-18-amd64");
    EXPECT_TRUE(build->hash.empty());

    const auto* dir = find_entry(manifest, modules() + "/kernel");
    ASSERT_NE(dir, nullptr);
    EXPECT_EQ(dir->kind, ManifestEntryKind::directory);
    EXPECT_EQ(find_entry(manifest, key())->mode, 0600u);
}

TEST_F(InitrdManifest, SameTreeGivesNoChanges) {
    const auto before = must_compute(inputs());
    const auto after = must_compute(inputs());
    EXPECT_THAT(changed_inputs(before, after), IsEmpty());
    EXPECT_THAT(diff_manifests(before, after), IsEmpty());
}

TEST_F(InitrdManifest, TouchingFilesIsNotAChange) {
    const auto before = must_compute(inputs());
    touch(kernel(), -1000);
    touch(modules() + "/kernel/fs/ext4.ko", 3600);
    touch(modules(), 10);
    // An identical copy renamed over the original, as dpkg does on upgrade.
    write_file(fstab() + ".dpkg-new", "/dev/vda1 / ext4 defaults 0 1\n");
    ASSERT_EQ(::rename((fstab() + ".dpkg-new").c_str(), fstab().c_str()), 0);
    const auto after = must_compute(inputs());
    EXPECT_THAT(changed_inputs(before, after), IsEmpty());
    EXPECT_NE(find_entry(before, fstab())->inode, find_entry(after, fstab())->inode);
}

TEST_F(InitrdManifest, SameSizeEditIsAChange) {
    const auto before = must_compute(inputs());
    overwrite_in_place(modules() + "/kernel/fs/xfs.ko", "XFS");  // same size, new bytes
    // Hide the edit from timestamps too: mtimes must not matter either way.
    const auto* old_entry = find_entry(before, modules() + "/kernel/fs/xfs.ko");
    struct timespec times[2]{};
    times[0].tv_sec = old_entry->mtime_ns / 1'000'000'000;
    times[0].tv_nsec = old_entry->mtime_ns % 1'000'000'000;
    times[1] = times[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, (modules() + "/kernel/fs/xfs.ko").c_str(), times, 0), 0);
    const auto after = must_compute(inputs());
    EXPECT_THAT(changed_inputs(before, after),
                ElementsAre("modified: " + modules() + "/kernel/fs/xfs.ko (content)"));
}

TEST_F(InitrdManifest, AddedRemovedAndModifiedAreNamedSortedByPath) {
    const auto before = must_compute(inputs());
    write_file(modules() + "/kernel/fs/btrfs.ko", "btrfs module");
    ASSERT_EQ(::unlink((modules() + "/modules.dep").c_str()), 0);
    write_file(fstab(), "/dev/vda1 / ext4 defaults 0 1\n/dev/vdb1 /var/crash xfs defaults 0 2\n");
    const auto after = must_compute(inputs());
    EXPECT_THAT(changed_inputs(before, after),
                ElementsAre("modified: " + fstab() + " (content)",
                            "added: " + modules() + "/kernel/fs/btrfs.ko",
                            "removed: " + modules() + "/modules.dep"));
    const auto changes = diff_manifests(before, after);
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes[1].kind, ManifestChangeKind::added);
    EXPECT_EQ(changes[1].path, modules() + "/kernel/fs/btrfs.ko");
    EXPECT_EQ(changes[0].detail, "content");
}

TEST_F(InitrdManifest, PermissionChangeIsAChange) {
    const auto before = must_compute(inputs());
    ASSERT_EQ(::chmod(key().c_str(), 0644), 0);
    EXPECT_THAT(changed_inputs(before, must_compute(inputs())),
                ElementsAre("modified: " + key() + " (mode 0600 -> 0644)"));
}

TEST_F(InitrdManifest, SymlinksInsideTreesAreRecordedByTargetNotFollowed) {
    // A link to a big tree outside the input: only the link is recorded.
    make_dir(dir_.file("headers"));
    write_file(dir_.file("headers/Makefile"), "all:");
    ASSERT_EQ(::unlink((modules() + "/build").c_str()), 0);
    make_link(dir_.file("headers"), modules() + "/build");
    const auto before = must_compute({modules()});
    for (const auto& path : entry_paths(before)) {
        EXPECT_THAT(path, ::testing::Not(HasSubstr("Makefile")));
    }
    // The headers' contents are not an input.
    write_file(dir_.file("headers/Makefile"), "all: vmlinux");
    EXPECT_THAT(changed_inputs(before, must_compute({modules()})), IsEmpty());
    // Pointing the link elsewhere is.
    ASSERT_EQ(::unlink((modules() + "/build").c_str()), 0);
    make_link("elsewhere", modules() + "/build");
    EXPECT_THAT(changed_inputs(before, must_compute({modules()})),
                ElementsAre("modified: " + modules() + "/build (symlink target " +
                            dir_.file("headers") + " -> elsewhere)"));
}

TEST_F(InitrdManifest, TopLevelSymlinkIsRecordedAndFollowed) {
    const std::string link = dir_.file("boot/vmlinuz");
    make_link("vmlinuz-6.1.0-18-amd64", link);
    const auto before = must_compute({link});
    ASSERT_EQ(before.entries.size(), 1u);
    EXPECT_EQ(before.entries[0].kind, ManifestEntryKind::symlink);
    EXPECT_EQ(before.entries[0].target, "vmlinuz-6.1.0-18-amd64");
    EXPECT_EQ(before.entries[0].hash, reference_hash("bzImage contents"));

    // The kernel package reinstalled with new contents under the same name.
    write_file(kernel(), "bzImage CONTENTS");
    EXPECT_THAT(changed_inputs(before, must_compute({link})),
                ElementsAre("modified: " + link + " (content)"));

    // A new kernel: the link moves.
    write_file(dir_.file("boot/vmlinuz-6.1.0-19-amd64"), "bzImage contents");
    ASSERT_EQ(::unlink(link.c_str()), 0);
    make_link("vmlinuz-6.1.0-19-amd64", link);
    EXPECT_THAT(changed_inputs(before, must_compute({link})),
                ElementsAre("modified: " + link +
                            " (symlink target vmlinuz-6.1.0-18-amd64 -> vmlinuz-6.1.0-19-amd64)"));
}

TEST_F(InitrdManifest, TopLevelSymlinkToDirectoryIsWalked) {
    const std::string link = dir_.file("lib-modules");
    make_link(modules(), link);
    const auto manifest = must_compute({link});
    EXPECT_EQ(manifest.entries[0].kind, ManifestEntryKind::symlink);
    EXPECT_NE(find_entry(manifest, link + "/kernel/fs/ext4.ko"), nullptr);
    EXPECT_EQ(find_entry(manifest, link + "/kernel/fs/ext4.ko")->hash,
              reference_hash("ext4 module"));
}

TEST_F(InitrdManifest, DanglingTopLevelSymlinkIsRecordedByTarget) {
    const std::string link = dir_.file("boot/vmlinuz");
    make_link("vmlinuz-gone", link);
    const auto manifest = must_compute({link});
    ASSERT_EQ(manifest.entries.size(), 1u);
    EXPECT_EQ(manifest.entries[0].kind, ManifestEntryKind::symlink);
    EXPECT_EQ(manifest.entries[0].target, "vmlinuz-gone");
    EXPECT_TRUE(manifest.entries[0].hash.empty());
}

TEST_F(InitrdManifest, MissingInputsAreRecordedNotErrors) {
    const std::string absent = dir_.file("etc/crypttab");
    const std::string under_a_file = fstab() + "/not-a-dir";  // ENOTDIR
    const auto before = must_compute({absent, under_a_file, fstab()});
    ASSERT_EQ(before.entries.size(), 3u);
    EXPECT_EQ(before.entries[0].kind, ManifestEntryKind::missing);
    EXPECT_EQ(before.entries[1].kind, ManifestEntryKind::missing);
    // Still missing: nothing changed.
    EXPECT_THAT(changed_inputs(before, must_compute({absent, under_a_file, fstab()})), IsEmpty());
    // Appearing is an addition, disappearing a removal.
    write_file(absent, "cryptroot UUID=1234 none luks\n");
    const auto with = must_compute({absent, under_a_file, fstab()});
    EXPECT_THAT(changed_inputs(before, with), ElementsAre("added: " + absent));
    ASSERT_EQ(::unlink(absent.c_str()), 0);
    EXPECT_THAT(changed_inputs(with, must_compute({absent, under_a_file, fstab()})),
                ElementsAre("removed: " + absent));
    // A new input in the list that does not exist is no reason to rebuild.
    EXPECT_THAT(changed_inputs(must_compute({fstab()}), must_compute({fstab(), absent})),
                IsEmpty());
}

TEST_F(InitrdManifest, KindChangeIsNamed) {
    const auto before = must_compute({fstab()});
    ASSERT_EQ(::unlink(fstab().c_str()), 0);
    make_dir(fstab());
    EXPECT_THAT(changed_inputs(before, must_compute({fstab()})),
                ElementsAre("modified: " + fstab() + " (file -> directory)"));
}

TEST_F(InitrdManifest, SpecialFilesAreRecordedButNeverOpened) {
    // Opening a FIFO for reading would block the walk.
    ASSERT_EQ(::mkfifo((modules() + "/fifo").c_str(), 0600), 0);
    const auto manifest = must_compute({modules()});
    const auto* fifo = find_entry(manifest, modules() + "/fifo");
    ASSERT_NE(fifo, nullptr);
    EXPECT_EQ(fifo->kind, ManifestEntryKind::other);
    EXPECT_EQ(fifo->mode, 0600u);
    EXPECT_TRUE(fifo->hash.empty());
}

TEST_F(InitrdManifest, InputsAreNormalizedAndDeduplicated) {
    const auto manifest = must_compute({modules() + "/", modules(), modules() + "//", fstab()});
    EXPECT_EQ(manifest.inputs, (std::vector<std::string>{modules(), fstab()}));
    EXPECT_EQ(manifest.entries.front().path, modules());
    EXPECT_NE(find_entry(manifest, modules() + "/modules.dep"), nullptr);
    EXPECT_FALSE(compute_manifest({""}));
}

TEST_F(InitrdManifest, OverlappingInputsCompareOnce) {
    const auto before = must_compute({modules(), modules() + "/modules.dep"});
    write_file(modules() + "/modules.dep", "changed\n");
    EXPECT_THAT(changed_inputs(before, must_compute({modules(), modules() + "/modules.dep"})),
                ElementsAre("modified: " + modules() + "/modules.dep (content)"));
}

TEST(InitrdManifestErrors, UnreadableFileFailsTheManifest) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root reads files whatever their mode";
    }
    TempDir dir;
    write_file(dir.file("secret"), "x", 0000);
    auto manifest = compute_manifest({dir.path()});
    ASSERT_FALSE(manifest);
    EXPECT_EQ(manifest.error().errno_value, EACCES);
    EXPECT_THAT(manifest.error().message, HasSubstr("secret"));
}

TEST(InitrdManifestErrors, PathologicallyDeepTreesAreRefused) {
    TempDir dir;
    std::string path = dir.path();
    for (int i = 0; i < 130; ++i) {
        path += "/d";
        make_dir(path);
    }
    auto manifest = compute_manifest({dir.path()});
    ASSERT_FALSE(manifest);
    EXPECT_EQ(manifest.error().errno_value, ELOOP);
}

TEST_F(InitrdManifest, ThousandsOfFilesAreQuick) {
    // /lib/modules/KVER has about 5,000 entries; the manifest of a tree that
    // size must take well under a second on a warm cache.
    const std::string tree = dir_.file("many");
    make_dir(tree);
    for (int d = 0; d < 50; ++d) {
        const std::string sub = fmt::format("{}/dir{:02}", tree, d);
        make_dir(sub);
        for (int f = 0; f < 100; ++f) {
            write_file(fmt::format("{}/mod{:03}.ko", sub, f), fmt::format("module {} {}", d, f));
        }
    }
    const auto start = std::chrono::steady_clock::now();
    const auto manifest = must_compute({tree});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(manifest.entries.size(), 1u + 50u + 5000u);
    EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------
// The stat cache.

TEST_F(InitrdManifest, CacheReusesHashesOfSettledFiles) {
    auto previous = must_compute(inputs());
    // Pretend it was computed long after the files were last changed.
    previous.computed_at_ns += 3600LL * 1'000'000'000;
    // Mark one cached hash so reuse is visible.
    for (auto& entry : previous.entries) {
        if (entry.path == kernel()) {
            entry.hash = std::string(32, 'f');
        }
    }
    auto cached = compute_manifest(inputs(), previous);
    ASSERT_TRUE(cached) << cached.error().message;
    EXPECT_EQ(find_entry(*cached, kernel())->hash, std::string(32, 'f'));
    // Without a previous manifest everything is hashed.
    EXPECT_EQ(find_entry(must_compute(inputs()), kernel())->hash,
              reference_hash("bzImage contents"));
}

TEST_F(InitrdManifest, CacheDoesNotTrustRecentlyChangedFiles) {
    // Computed right after the files were written: a write in the same clock
    // tick would not move the timestamps, so nothing may be reused.
    auto previous = must_compute(inputs());
    for (auto& entry : previous.entries) {
        if (entry.path == kernel()) {
            entry.hash = std::string(32, 'f');
        }
    }
    auto cached = compute_manifest(inputs(), previous);
    ASSERT_TRUE(cached);
    EXPECT_EQ(find_entry(*cached, kernel())->hash, reference_hash("bzImage contents"));
}

TEST_F(InitrdManifest, CacheStillSeesSameSizeEditsAndIgnoresTouches) {
    auto previous = must_compute(inputs());
    previous.computed_at_ns += 3600LL * 1'000'000'000;
    let_the_clock_tick();
    overwrite_in_place(kernel(), "BZIMAGE contents");  // same size, same inode
    touch(fstab(), 100);
    auto now = compute_manifest(inputs(), previous);
    ASSERT_TRUE(now) << now.error().message;
    EXPECT_THAT(changed_inputs(previous, *now),
                ElementsAre("modified: " + kernel() + " (content)"));
    EXPECT_EQ(find_entry(*now, kernel())->hash, reference_hash("BZIMAGE contents"));
}

TEST_F(InitrdManifest, CachedEntriesEqualFreshOnes) {
    // Every field a diff compares must come out the same from the cache,
    // top-level symlinks included.
    const std::string link = dir_.file("boot/vmlinuz");
    make_link("vmlinuz-6.1.0-18-amd64", link);
    auto all = inputs();
    all.push_back(link);
    auto previous = must_compute(all);
    previous.computed_at_ns += 3600LL * 1'000'000'000;
    auto cached = compute_manifest(all, previous);
    ASSERT_TRUE(cached) << cached.error().message;
    const auto fresh = must_compute(all);
    EXPECT_THAT(changed_inputs(fresh, *cached), IsEmpty());
    EXPECT_THAT(changed_inputs(previous, *cached), IsEmpty());
    EXPECT_EQ(find_entry(*cached, link)->mode, 0644u);
}

TEST_F(InitrdManifest, CacheFromAnotherAlgorithmIsIgnored) {
    auto previous = must_compute(inputs());
    previous.computed_at_ns += 3600LL * 1'000'000'000;
    previous.algorithm = "sha256";
    for (auto& entry : previous.entries) {
        entry.hash = std::string(64, 'a');
    }
    auto now = compute_manifest(inputs(), previous);
    ASSERT_TRUE(now);
    EXPECT_EQ(find_entry(*now, kernel())->hash, reference_hash("bzImage contents"));
    EXPECT_THAT(changed_inputs(previous, *now),
                ElementsAre("manifest format changed (sha256 v1 -> xxh3-128 v1)"));
}

// ---------------------------------------------------------------------------
// Serialization.

TEST_F(InitrdManifest, JsonRoundTripKeepsEverything) {
    // A file name that is not UTF-8, and a link target that is not either.
    write_file(modules() + "/caf\xe9.ko", "latin-1 name");
    make_link("\xff\xfe", modules() + "/odd-link");
    const auto manifest = must_compute(inputs());
    const auto text = to_json(manifest).dump();
    EXPECT_THAT(text, HasSubstr("path_hex"));
    EXPECT_THAT(text, HasSubstr("target_hex"));
    auto back = manifest_from_json(nlohmann::json::parse(text));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->inputs, manifest.inputs);
    EXPECT_EQ(back->computed_at_ns, manifest.computed_at_ns);
    ASSERT_EQ(back->entries.size(), manifest.entries.size());
    for (size_t i = 0; i < manifest.entries.size(); ++i) {
        const auto& a = manifest.entries[i];
        const auto& b = back->entries[i];
        EXPECT_EQ(a.path, b.path);
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(a.mode, b.mode);
        EXPECT_EQ(a.size_bytes, b.size_bytes);
        EXPECT_EQ(a.hash, b.hash);
        EXPECT_EQ(a.target, b.target);
        EXPECT_EQ(a.inode, b.inode);
        EXPECT_EQ(a.mtime_ns, b.mtime_ns);
        EXPECT_EQ(a.ctime_ns, b.ctime_ns);
    }
    EXPECT_THAT(changed_inputs(*back, must_compute(inputs())), IsEmpty());
}

TEST_F(InitrdManifest, WrittenAtomicallyAndReadBack) {
    const auto manifest = must_compute(inputs());
    auto fd = open_directory(dir_.path());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_manifest(fd->get(), "initrd.manifest.json", manifest));
    EXPECT_NE(::access(dir_.file("initrd.manifest.json").c_str(), F_OK), -1);
    EXPECT_EQ(::access(dir_.file("initrd.manifest.json.tmp").c_str(), F_OK), -1);
    auto back = read_manifest(dir_.file("initrd.manifest.json"));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_THAT(changed_inputs(*back, manifest), IsEmpty());
    EXPECT_EQ(back->entries.size(), manifest.entries.size());
}

TEST(InitrdManifestJson, BadInputsAreErrors) {
    TempDir dir;
    auto missing = read_manifest(dir.file("none.json"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);

    write_file(dir.file("truncated.json"), "{\"schema_version\": 1, \"entr");
    auto truncated = read_manifest(dir.file("truncated.json"));
    ASSERT_FALSE(truncated);
    EXPECT_THAT(truncated.error().message, HasSubstr("not valid JSON"));

    auto newer = manifest_from_json(nlohmann::json{
        {"schema_version", 99}, {"algorithm", "xxh3-128"}, {"inputs", {}}, {"entries", {}}});
    ASSERT_FALSE(newer);
    EXPECT_THAT(newer.error().message, HasSubstr("newer"));

    auto bad_kind = manifest_from_json(
        nlohmann::json::parse(R"({"schema_version":1,"algorithm":"xxh3-128","inputs":[],
                                 "entries":[{"path":"/x","kind":"socket"}]})"));
    ASSERT_FALSE(bad_kind);
    EXPECT_THAT(bad_kind.error().message, HasSubstr("socket"));

    auto bad_hex = manifest_from_json(
        nlohmann::json::parse(R"({"schema_version":1,"algorithm":"xxh3-128","inputs":[],
                                 "entries":[{"path_hex":"zz","kind":"file"}]})"));
    ASSERT_FALSE(bad_hex);
    EXPECT_THAT(bad_hex.error().message, HasSubstr("malformed"));

    auto wrong_type = manifest_from_json(nlohmann::json{{"schema_version", "1"}});
    EXPECT_FALSE(wrong_type);
}

TEST(InitrdManifestKinds, NamesRoundTrip) {
    for (auto kind :
         {ManifestEntryKind::file, ManifestEntryKind::directory, ManifestEntryKind::symlink,
          ManifestEntryKind::other, ManifestEntryKind::missing}) {
        EXPECT_EQ(parse_manifest_entry_kind(to_string(kind)), kind);
    }
    EXPECT_FALSE(parse_manifest_entry_kind("fifo"));
}

// module_changed_after_depmod(): a manifest of /usr/lib/modules/KVER as the
// walk records it, with ctimes in seconds for readability.
ManifestEntry tree_file(const std::string& path, int64_t ctime_s) {
    ManifestEntry entry;
    entry.path = path;
    entry.kind = ManifestEntryKind::file;
    entry.ctime_ns = ctime_s * 1'000'000'000;
    return entry;
}

constexpr const char* kTree = "/usr/lib/modules/6.1.0-57-amd64";

TEST(ModuleChangedAfterDepmod, AModuleCopiedInBeforeDepmodIsNamed) {
    Manifest now;
    const std::string module = std::string(kTree) + "/updates/virtio_blk.ko";
    now.entries = {tree_file(std::string(kTree) + "/modules.dep", 100), tree_file(module, 200)};
    const std::vector<ManifestChange> changes{{ManifestChangeKind::added, module, ""}};
    EXPECT_EQ(module_changed_after_depmod(now, changes, kTree), module);
}

TEST(ModuleChangedAfterDepmod, DepmodAfterTheModuleEndsTheWait) {
    Manifest now;
    const std::string module = std::string(kTree) + "/updates/virtio_blk.ko";
    now.entries = {tree_file(std::string(kTree) + "/modules.dep", 201), tree_file(module, 200)};
    const std::vector<ManifestChange> changes{
        {ManifestChangeKind::added, module, ""},
        {ManifestChangeKind::modified, std::string(kTree) + "/modules.dep", "content"}};
    EXPECT_EQ(module_changed_after_depmod(now, changes, kTree), std::nullopt);
}

TEST(ModuleChangedAfterDepmod, TheNewestOfSeveralCompressedModulesIsNamed) {
    Manifest now;
    const std::string older = std::string(kTree) + "/kernel/drivers/block/virtio_blk.ko.xz";
    const std::string newer = std::string(kTree) + "/kernel/drivers/scsi/sd_mod.ko.zst";
    now.entries = {tree_file(older, 150), tree_file(newer, 160),
                   tree_file(std::string(kTree) + "/modules.dep", 100)};
    const std::vector<ManifestChange> changes{{ManifestChangeKind::modified, older, "content"},
                                              {ManifestChangeKind::modified, newer, "content"}};
    EXPECT_EQ(module_changed_after_depmod(now, changes, kTree), newer);
}

TEST(ModuleChangedAfterDepmod, ATreeWithoutModulesDepWaitsForItsFirstDepmod) {
    Manifest now;
    const std::string module = std::string(kTree) + "/kernel/fs/ext4/ext4.ko";
    now.entries = {tree_file(module, 5)};
    const std::vector<ManifestChange> changes{
        {ManifestChangeKind::added, module, ""},
        {ManifestChangeKind::removed, std::string(kTree) + "/modules.dep", ""}};
    EXPECT_EQ(module_changed_after_depmod(now, changes, kTree), module);
}

TEST(ModuleChangedAfterDepmod, OtherFilesRemovalsAndOtherTreesDoNotWait) {
    Manifest now;
    const std::string firmware = "/usr/lib/firmware/foo.bin";
    const std::string other_kernel = "/usr/lib/modules/6.12.118+deb12-amd64/kernel/a.ko";
    const std::string not_a_module = std::string(kTree) + "/modules.alias";
    const std::string removed = std::string(kTree) + "/updates/gone.ko";
    now.entries = {tree_file(std::string(kTree) + "/modules.dep", 100), tree_file(firmware, 300),
                   tree_file(other_kernel, 300), tree_file(not_a_module, 300)};
    const std::vector<ManifestChange> changes{
        {ManifestChangeKind::modified, firmware, "content"},
        {ManifestChangeKind::added, other_kernel, ""},
        {ManifestChangeKind::modified, not_a_module, "content"},
        {ManifestChangeKind::removed, removed, ""}};
    EXPECT_EQ(module_changed_after_depmod(now, changes, kTree), std::nullopt);
}

}  // namespace
