#include "retention.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "file-util.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

constexpr uint64_t kGiB = 1024 * kMiB;

std::vector<DumpDirectory> dumps_of(std::initializer_list<std::pair<int64_t, uint64_t>> specs) {
    // Ids "d<crash time>" so expectations read in time order.
    std::vector<DumpDirectory> dumps;
    for (const auto& [time, bytes] : specs) {
        dumps.push_back(DumpDirectory{fmt::format("d{}", time), time, bytes});
    }
    return dumps;
}

std::vector<std::string> plan(const std::vector<DumpDirectory>& dumps,
                              const RetentionPolicy& policy, uint64_t free_bytes = 100 * kGiB,
                              uint64_t size_bytes = 200 * kGiB) {
    auto ids = plan_retention(dumps, policy, free_bytes, size_bytes);
    EXPECT_TRUE(ids) << ids.error().message;
    return ids ? *ids : std::vector<std::string>{};
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, std::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
}

// ---------------------------------------------------------------------------
// Planning

TEST(RetentionPlan, NoLimitsRemoveNothing) {
    EXPECT_THAT(plan(dumps_of({{1, kGiB}, {2, kGiB}, {3, kGiB}}), RetentionPolicy{}), IsEmpty());
    RetentionPolicy zero;
    zero.max_use_bytes = 0;
    EXPECT_THAT(plan({}, zero), IsEmpty());
}

TEST(RetentionPlan, MaxUseRemovesOldestUntilUnder) {
    RetentionPolicy policy;
    policy.max_use_bytes = 2 * kGiB;
    // 4 GiB in all: the two oldest must go (4 -> 3 -> 2).
    EXPECT_THAT(plan(dumps_of({{10, kGiB}, {20, kGiB}, {30, kGiB}, {40, kGiB}}), policy),
                ElementsAre("d10", "d20"));
    // Exactly at the limit is within it.
    EXPECT_THAT(plan(dumps_of({{10, kGiB}, {20, kGiB}}), policy), IsEmpty());
}

TEST(RetentionPlan, NewestDumpIsNeverRemoved) {
    RetentionPolicy policy;
    policy.max_use_bytes = 0;
    policy.keep_free_bytes = 1000 * kGiB;  // cannot be met
    policy.max_dumps = 1;
    EXPECT_THAT(plan(dumps_of({{5, 10 * kGiB}}), policy), IsEmpty());
    EXPECT_THAT(plan(dumps_of({{5, 10 * kGiB}, {6, 10 * kGiB}, {7, 10 * kGiB}}), policy),
                ElementsAre("d5", "d6"));
}

TEST(RetentionPlan, KeepDumpsProtectsTheNewest) {
    RetentionPolicy policy;
    policy.max_use_bytes = 0;
    policy.keep_dumps = 2;
    EXPECT_THAT(plan(dumps_of({{1, kGiB}, {2, kGiB}, {3, kGiB}, {4, kGiB}}), policy),
                ElementsAre("d1", "d2"));
    // Protection wins over MaxDumps=.
    policy.max_dumps = 1;
    EXPECT_THAT(plan(dumps_of({{1, kGiB}, {2, kGiB}, {3, kGiB}}), policy), ElementsAre("d1"));
    policy.keep_dumps = 10;
    EXPECT_THAT(plan(dumps_of({{1, kGiB}, {2, kGiB}, {3, kGiB}}), policy), IsEmpty());
}

TEST(RetentionPlan, MaxDumpsCountsDumps) {
    RetentionPolicy policy;
    policy.max_dumps = 2;
    EXPECT_THAT(plan(dumps_of({{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}), policy),
                ElementsAre("d1", "d2", "d3"));
    EXPECT_THAT(plan(dumps_of({{1, 1}, {2, 1}}), policy), IsEmpty());
}

TEST(RetentionPlan, KeepFreeCountsWhatEachRemovalFrees) {
    RetentionPolicy policy;
    policy.keep_free_bytes = 12 * kGiB;
    // 5 GiB free; removing the oldest frees 4 (9), the next 4 more (13 >= 12).
    EXPECT_THAT(plan(dumps_of({{1, 4 * kGiB}, {2, 4 * kGiB}, {3, 4 * kGiB}, {4, 4 * kGiB}}), policy,
                     5 * kGiB, 100 * kGiB),
                ElementsAre("d1", "d2"));
    // Enough free already.
    EXPECT_THAT(plan(dumps_of({{1, 4 * kGiB}, {2, 4 * kGiB}}), policy, 12 * kGiB, 100 * kGiB),
                IsEmpty());
}

TEST(RetentionPlan, KeepFreeThatDumpsCannotRestoreRemovesAllButTheNewest) {
    // Something else filled the disk: the dumps go, oldest first, except the newest.
    RetentionPolicy policy;
    policy.keep_free_bytes = 50 * kGiB;
    EXPECT_THAT(plan(dumps_of({{1, kGiB}, {2, kGiB}, {3, kGiB}}), policy, kGiB, 100 * kGiB),
                ElementsAre("d1", "d2"));
}

TEST(RetentionPlan, KeepFreePercentOfTheFilesystem) {
    RetentionPolicy policy;
    policy.keep_free_percent = 15;  // of 100 GiB: 15 GiB
    const auto dumps = dumps_of({{1, 5 * kGiB}, {2, 5 * kGiB}, {3, 5 * kGiB}});
    EXPECT_THAT(plan(dumps, policy, 6 * kGiB, 100 * kGiB), ElementsAre("d1", "d2"));
    EXPECT_THAT(plan(dumps, policy, 15 * kGiB, 100 * kGiB), IsEmpty());
    // With bytes too, the larger requirement applies.
    policy.keep_free_bytes = 7 * kGiB;
    EXPECT_THAT(plan(dumps, policy, 6 * kGiB, 100 * kGiB), ElementsAre("d1", "d2"));
    policy.keep_free_bytes = 20 * kGiB;
    policy.keep_free_percent = 1;
    EXPECT_THAT(plan(dumps, policy, 12 * kGiB, 100 * kGiB), ElementsAre("d1", "d2"));
    // Fractions round up: 0.5% of 1001 bytes is 5.005, so 6 must be free.
    RetentionPolicy fraction;
    fraction.keep_free_percent = 0.5;
    EXPECT_THAT(plan(dumps_of({{1, 1}, {2, 1}}), fraction, 5, 1001), ElementsAre("d1"));
    EXPECT_THAT(plan(dumps_of({{1, 1}, {2, 1}}), fraction, 6, 1001), IsEmpty());
}

TEST(RetentionPlan, ImpossiblePercentagesAreErrors) {
    for (double percent : {-1.0, 100.5, std::nan(""), double{INFINITY}}) {
        RetentionPolicy policy;
        policy.keep_free_percent = percent;
        auto ids = plan_retention(dumps_of({{1, 1}, {2, 1}}), policy, 1, 2);
        ASSERT_FALSE(ids) << percent;
        EXPECT_EQ(ids.error().errno_value, EINVAL);
        EXPECT_THAT(ids.error().message, HasSubstr("KeepFree="));
    }
    RetentionPolicy full;
    full.keep_free_percent = 100;
    EXPECT_TRUE(plan_retention(dumps_of({{1, 1}}), full, 1, 2));
}

TEST(RetentionPlan, OrderIsByCrashTimeThenIdWhateverTheInputOrder) {
    std::vector<DumpDirectory> dumps = {
        {"zeta", 100, kGiB}, {"newest", 300, kGiB}, {"alpha", 100, kGiB}, {"mid", 200, kGiB}};
    RetentionPolicy policy;
    policy.max_dumps = 1;
    EXPECT_THAT(plan(dumps, policy), ElementsAre("alpha", "zeta", "mid"));
}

TEST(RetentionPlan, LimitsCombine) {
    RetentionPolicy policy;
    policy.max_use_bytes = 10 * kGiB;  // satisfied after removing d1
    policy.max_dumps = 2;              // needs d1 and d2 gone
    EXPECT_THAT(plan(dumps_of({{1, 6 * kGiB}, {2, kGiB}, {3, kGiB}, {4, kGiB}}), policy),
                ElementsAre("d1", "d2"));
}

TEST(RetentionPlan, FromCatalogEntries) {
    DumpEntry a;
    a.id = "a";
    a.crash_time = 5;
    a.disk_bytes = 77;
    const auto dirs = dump_directories({a});
    ASSERT_EQ(dirs.size(), 1u);
    EXPECT_EQ(dirs[0].id, "a");
    EXPECT_EQ(dirs[0].crash_time, 5);
    EXPECT_EQ(dirs[0].disk_bytes, 77u);
}

// ---------------------------------------------------------------------------
// Removing

class Retention : public ::testing::Test {
  protected:
    std::string crash_dir() const { return dir_.path(); }
    std::string dump_path(const std::string& id) const { return dir_.file(id); }

    void make_dump(const std::string& id, int64_t crash_time) {
        ASSERT_EQ(::mkdir(dump_path(id).c_str(), 0700), 0);
        write_file(dump_path(id) + "/vmcore-dmesg.txt", "panic\n");
        write_file(dump_path(id) + "/vmcore", std::string(8192, 'v'));
        DumpRecord record;
        record.result = DumpResult::complete;
        record.crash_time = crash_time;
        auto fd = open_directory(dump_path(id));
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_dump_record(fd->get(), record));
    }

    TempDir dir_;
};

TEST_F(Retention, RemovesTheWholeTreeWithoutFollowingLinks) {
    make_dump("old", 1);
    // What must survive: the target of a link inside the dump.
    const std::string outside = dir_.file("precious");
    ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
    write_file(outside + "/data", "keep me");
    ASSERT_EQ(::symlink(outside.c_str(), (dump_path("old") + "/link-to-dir").c_str()), 0);
    ASSERT_EQ(::symlink((outside + "/data").c_str(), (dump_path("old") + "/link-to-file").c_str()),
              0);
    // Nested, read-only, and full of entries.
    const std::string nested = dump_path("old") + "/extra/deeper";
    ASSERT_EQ(::mkdir((dump_path("old") + "/extra").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(nested.c_str(), 0700), 0);
    for (int i = 0; i < 300; ++i) {
        write_file(fmt::format("{}/file{}", nested, i), "x");
    }
    ASSERT_EQ(::chmod(nested.c_str(), 0500), 0);
    ASSERT_EQ(::mkfifo((dump_path("old") + "/fifo").c_str(), 0600), 0);

    ASSERT_TRUE(remove_dump(crash_dir(), "old"));
    EXPECT_FALSE(exists(dump_path("old")));
    EXPECT_TRUE(exists(outside + "/data"));
    EXPECT_EQ(read_text_file(outside + "/data"), "keep me");
    // No hidden leftover either.
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    EXPECT_THAT(*entries, IsEmpty());
    const auto names = [&] {
        std::vector<std::string> out;
        auto fd = open_directory(crash_dir());
        DIR* listing = ::fdopendir(fd->release());
        while (auto* entry = ::readdir(listing)) {
            out.emplace_back(entry->d_name);
        }
        ::closedir(listing);
        std::sort(out.begin(), out.end());
        return out;
    }();
    EXPECT_THAT(names, ElementsAre(".", "..", "precious"));
}

TEST_F(Retention, NeverRemovesAnotherFilesystemMountedInADump) {
    make_dump("mounted", 1);
    const std::string mount_point = dump_path("mounted") + "/mnt";
    ASSERT_EQ(::mkdir(mount_point.c_str(), 0700), 0);
    if (::mount("none", mount_point.c_str(), "tmpfs", 0, "size=1m") != 0) {
        GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
    }
    write_file(mount_point + "/other-fs-data", "not the dump's");
    auto status = remove_dump(crash_dir(), "mounted");
    // The dump was renamed before the walk: find the mount wherever it is
    // now, check its data survived, and leave no mount behind.
    std::string hidden;
    const bool survived = [&] {
        DIR* listing = ::opendir(crash_dir().c_str());
        bool found = false;
        while (auto* entry = ::readdir(listing)) {
            const std::string candidate = crash_dir() + "/" + entry->d_name + "/mnt/other-fs-data";
            if (exists(candidate)) {
                hidden = crash_dir() + "/" + entry->d_name + "/mnt";
                found = true;
            }
        }
        ::closedir(listing);
        return found;
    }();
    if (!hidden.empty()) {
        ::umount2(hidden.c_str(), MNT_DETACH);
    } else {
        ::umount2(mount_point.c_str(), MNT_DETACH);
    }
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().errno_value, EXDEV);
    EXPECT_THAT(status.error().message, HasSubstr("mount point"));
    EXPECT_TRUE(survived);
}

TEST_F(Retention, RemoveDumpRefusesBadIdsAndNonDumps) {
    make_dump("real", 1);
    for (const std::string id : {"", "..", "../real", "real/..", ".hidden", "a/b"}) {
        auto status = remove_dump(crash_dir(), id);
        ASSERT_FALSE(status) << id;
        EXPECT_EQ(status.error().errno_value, EINVAL) << id;
    }
    auto absent = remove_dump(crash_dir(), "nothing");
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().errno_value, ENOENT);

    write_file(dump_path("a-file"), "x");
    auto file = remove_dump(crash_dir(), "a-file");
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().errno_value, ENOTDIR);

    // A directory that is not a dump is not ours to remove.
    ASSERT_EQ(::mkdir(dump_path("notes").c_str(), 0700), 0);
    write_file(dump_path("notes") + "/README", "mine");
    auto foreign = remove_dump(crash_dir(), "notes");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().errno_value, ENOENT);
    EXPECT_THAT(foreign.error().message, HasSubstr("not a dump"));
    EXPECT_TRUE(exists(dump_path("notes") + "/README"));
    ASSERT_TRUE(apply_retention(crash_dir(), {"notes"}));
    EXPECT_TRUE(exists(dump_path("notes") + "/README"));

    // A symlink named like a dump is not followed into its target.
    ASSERT_EQ(::symlink(dump_path("real").c_str(), dump_path("alias").c_str()), 0);
    EXPECT_FALSE(remove_dump(crash_dir(), "alias"));
    EXPECT_TRUE(exists(dump_path("real") + "/vmcore"));
}

TEST_F(Retention, ApplyRemovesThePlanAndFinishesInterruptedRemovals) {
    make_dump("a", 1);
    make_dump("b", 2);
    make_dump("c", 3);
    // A removal cut short by a crash: renamed, half emptied.
    const std::string leftover = dir_.file(".removing.4242");
    ASSERT_EQ(::mkdir(leftover.c_str(), 0700), 0);
    write_file(leftover + "/vmcore", "half");

    ASSERT_TRUE(apply_retention(crash_dir(), {"a", "b", "already-gone"}));
    EXPECT_FALSE(exists(dump_path("a")));
    EXPECT_FALSE(exists(dump_path("b")));
    EXPECT_TRUE(exists(dump_path("c")));
    EXPECT_FALSE(exists(leftover));
}

TEST_F(Retention, ApplyCarriesOnPastFailuresAndNamesThem) {
    make_dump("a", 1);
    make_dump("b", 2);
    auto status = apply_retention(crash_dir(), {"a", "../escape", "b"});
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().errno_value, EINVAL);
    EXPECT_THAT(status.error().message, HasSubstr("../escape"));
    EXPECT_FALSE(exists(dump_path("a")));
    EXPECT_FALSE(exists(dump_path("b")));
}

TEST_F(Retention, ApplyOnAMissingCrashDirectoryIsAnError) {
    auto status = apply_retention(dir_.file("none"), {"a"});
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().errno_value, ENOENT);
}

TEST_F(Retention, EndToEndFromScanToRemoval) {
    make_dump("2024-01", 100);
    make_dump("2024-02", 200);
    make_dump("2024-03", 300);
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    auto space = filesystem_space(crash_dir());
    ASSERT_TRUE(space) << space.error().message;
    RetentionPolicy policy;
    policy.max_dumps = 2;
    auto ids =
        plan_retention(dump_directories(*entries), policy, space->free_bytes, space->size_bytes);
    ASSERT_TRUE(ids);
    EXPECT_THAT(*ids, ElementsAre("2024-01"));
    ASSERT_TRUE(apply_retention(crash_dir(), *ids));
    auto after = scan_dumps(crash_dir());
    ASSERT_TRUE(after);
    ASSERT_EQ(after->size(), 2u);
    EXPECT_EQ(after->front().id, "2024-02");
}

TEST(FilesystemSpace, ReportsTheFilesystemOfAPath) {
    TempDir dir;
    auto space = filesystem_space(dir.path());
    ASSERT_TRUE(space) << space.error().message;
    EXPECT_GT(space->size_bytes, 0u);
    EXPECT_LE(space->free_bytes, space->size_bytes);
    auto missing = filesystem_space(dir.file("nope"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
}

}  // namespace
