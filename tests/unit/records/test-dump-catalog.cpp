#include "dump-catalog.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "file-util.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

void write_file(const std::string& path, std::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
}

// A file of logical size `size_bytes` with only its first page written.
void write_sparse(const std::string& path, uint64_t size_bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    const std::string page(4096, 'x');
    ASSERT_EQ(::write(fd, page.data(), page.size()), static_cast<ssize_t>(page.size()));
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size_bytes)), 0);
    ::close(fd);
}

uint64_t blocks_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

void set_mtime(const std::string& path, time_t seconds) {
    struct timespec times[2]{};
    times[0].tv_sec = seconds;
    times[1].tv_sec = seconds;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

DumpRecord complete_record(int64_t crash_time) {
    DumpRecord record;
    record.result = DumpResult::complete;
    record.kernel_release = "6.1.0-18-amd64";
    record.crash_time = crash_time;
    record.started_at = crash_time + 5;
    record.panic_line = "Kernel panic - not syncing: sysrq triggered crash";
    record.format = "kdump";
    record.dump_file = "vmcore";
    record.dmesg_file = "vmcore-dmesg.txt";
    return record;
}

class DumpCatalog : public ::testing::Test {
  protected:
    std::string crash_dir() const { return dir_.file("crash"); }
    std::string state_dir() const { return dir_.file("state"); }
    std::string dump_path(const std::string& id) const { return crash_dir() + "/" + id; }

    void SetUp() override {
        ASSERT_EQ(::mkdir(crash_dir().c_str(), 0700), 0);
        ASSERT_EQ(::mkdir(state_dir().c_str(), 0755), 0);
    }

    void make_dump_dir(const std::string& id) {
        ASSERT_EQ(::mkdir(dump_path(id).c_str(), 0700), 0) << id;
    }

    // What a successful crashcapture-save leaves behind.
    void make_complete_dump(const std::string& id, int64_t crash_time) {
        make_dump_dir(id);
        write_file(dump_path(id) + "/vmcore-dmesg.txt", "[    0.000000] Linux version 6.1.0\n");
        write_sparse(dump_path(id) + "/vmcore", 64 * kMiB);
        auto fd = open_directory(dump_path(id));
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_dump_record(fd->get(), complete_record(crash_time)));
    }

    TempDir dir_;
};

// ---------------------------------------------------------------------------
// Ids

TEST(DumpId, AcceptsDirectoryNames) {
    EXPECT_TRUE(is_valid_dump_id("2024-05-01T10:20:30-0123456789abcdef"));
    EXPECT_TRUE(is_valid_dump_id("a"));
    EXPECT_TRUE(is_valid_dump_id("crash.old"));
    EXPECT_TRUE(is_valid_dump_id("panne du serveur \xc3\xa9t\xc3\xa9"));  // UTF-8
    EXPECT_TRUE(is_valid_dump_id(std::string(255, 'x')));
}

TEST(DumpId, RejectsAnythingThatCouldEscapeOrHide) {
    for (const std::string& id :
         {std::string(), std::string("."), std::string(".."), std::string(".hidden"),
          std::string(".removing.1234"), std::string("a/b"), std::string("/etc"),
          std::string("../etc"), std::string("a..b"), std::string("x\n"), std::string("tab\there"),
          std::string("del\x7f"), std::string("nul\0byte", 8), std::string("\xff\xfe"),
          std::string("\xc0\xaf"),      // overlong '/'
          std::string("\xed\xa0\x80"),  // UTF-16 surrogate
          std::string("\xe2\x82"),      // truncated sequence
          std::string(256, 'x')}) {
        EXPECT_FALSE(is_valid_dump_id(id)) << id;
        auto status = check_dump_id(id);
        ASSERT_FALSE(status);
        EXPECT_EQ(status.error().errno_value, EINVAL);
    }
    EXPECT_THAT(check_dump_id("a/b").error().message, HasSubstr("'/'"));
    EXPECT_THAT(check_dump_id(".x").error().message, HasSubstr("starts with '.'"));
    EXPECT_THAT(check_dump_id("a..b").error().message, HasSubstr("\"..\""));
}

// ---------------------------------------------------------------------------
// Disk usage

TEST(DiskUsage, CountsAllocatedBlocksNotApparentSize) {
    TempDir dir;
    write_sparse(dir.file("vmcore"), 1024 * kMiB);
    auto usage = disk_usage_bytes(dir.file("vmcore"));
    ASSERT_TRUE(usage) << usage.error().message;
    EXPECT_EQ(*usage, blocks_of(dir.file("vmcore")));
    EXPECT_LT(*usage, kMiB);  // one page written of a 1 GiB file
}

TEST(DiskUsage, WalksTreesOnceWithoutFollowingLinks) {
    TempDir dir;
    const std::string tree = dir.file("dump");
    ASSERT_EQ(::mkdir(tree.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((tree + "/sub").c_str(), 0700), 0);
    write_file(tree + "/a", std::string(100000, 'a'));
    write_file(tree + "/sub/b", std::string(50000, 'b'));
    // A hard link is the same blocks: counted once.
    ASSERT_EQ(::link((tree + "/a").c_str(), (tree + "/sub/a-again").c_str()), 0);
    // A symlink to a big file elsewhere costs the link only.
    write_file(dir.file("outside"), std::string(1000000, 'o'));
    ASSERT_EQ(::symlink(dir.file("outside").c_str(), (tree + "/link").c_str()), 0);

    const uint64_t expected = blocks_of(tree) + blocks_of(tree + "/sub") + blocks_of(tree + "/a") +
                              blocks_of(tree + "/sub/b") + blocks_of(tree + "/link");
    auto usage = disk_usage_bytes(tree);
    ASSERT_TRUE(usage) << usage.error().message;
    EXPECT_EQ(*usage, expected);
    EXPECT_LT(*usage, 1000000u);
}

TEST(DiskUsage, MissingPathIsAnError) {
    auto usage = disk_usage_bytes("/nonexistent/dump");
    ASSERT_FALSE(usage);
    EXPECT_EQ(usage.error().errno_value, ENOENT);
}

// ---------------------------------------------------------------------------
// Scanning

TEST_F(DumpCatalog, MissingCrashDirectoryHoldsNoDumps) {
    auto entries = scan_dumps(dir_.file("never-created"));
    ASSERT_TRUE(entries) << entries.error().message;
    EXPECT_THAT(*entries, IsEmpty());
}

TEST_F(DumpCatalog, CompleteDumpIsReadFromItsRecord) {
    make_complete_dump("2024-05-01-a", 1714557630);
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries) << entries.error().message;
    ASSERT_EQ(entries->size(), 1u);
    const auto& entry = entries->front();
    EXPECT_EQ(entry.id, "2024-05-01-a");
    EXPECT_EQ(entry.path, dump_path("2024-05-01-a"));
    EXPECT_TRUE(entry.has_record());
    EXPECT_EQ(entry.record.result, DumpResult::complete);
    EXPECT_EQ(entry.record.kernel_release, "6.1.0-18-amd64");
    EXPECT_EQ(entry.crash_time, 1714557630);
    // Real usage of a sparse 64 MiB vmcore: a few pages, not 64 MiB.
    EXPECT_GT(entry.disk_bytes, 0u);
    EXPECT_LT(entry.disk_bytes, kMiB);
    EXPECT_EQ(entry.disk_bytes, *disk_usage_bytes(dump_path("2024-05-01-a")));
}

TEST_F(DumpCatalog, SignatureComesFromTheKernelLog) {
    make_complete_dump("a", 1000);
    auto entry = load_dump(crash_dir(), "a");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_TRUE(dump_signature(*entry).empty());  // the log holds no crash

    write_file(dump_path("a") + "/vmcore-dmesg.txt",
               "[    0.000000] Linux version 6.1.0\n"
               "[   26.574500] sysrq: Trigger a crash\n"
               "[   26.575182] Kernel panic - not syncing: sysrq triggered crash\n");
    const auto signature = dump_signature(*entry);
    EXPECT_EQ(signature.title, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_EQ(signature.hash, panic_signature_hash(signature.title));

    // Only the end of a long log is read: the crash is there.
    write_file(dump_path("a") + "/vmcore-dmesg.txt",
               std::string(kMaxSignatureLogBytes, 'x') +
                   "\n[   26.575182] Kernel panic - not syncing: sysrq triggered crash\n");
    EXPECT_EQ(dump_signature(*entry).title, signature.title);

    entry->record.dmesg_file = "";
    EXPECT_TRUE(dump_signature(*entry).empty());
    entry->record.dmesg_file = "vmcore-dmesg.txt";
    entry->record.dmesg_file = "../a/vmcore-dmesg.txt";  // a record never names another directory
    EXPECT_TRUE(dump_signature(*entry).empty());
    entry->record.dmesg_file = "missing.txt";
    EXPECT_TRUE(dump_signature(*entry).empty());
}

TEST_F(DumpCatalog, DumpWithoutRecordIsListedWithTheReason) {
    // The capture kernel died after renaming the dump, before the record.
    make_dump_dir("no-record");
    write_file(dump_path("no-record") + "/vmcore", "KDUMP   ");
    write_file(dump_path("no-record") + "/vmcore-dmesg.txt", "panic\n");
    set_mtime(dump_path("no-record"), 1700000000);
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 1u);
    const auto& entry = entries->front();
    EXPECT_FALSE(entry.has_record());
    EXPECT_THAT(entry.record_error, HasSubstr("no status.json"));
    EXPECT_EQ(entry.record.result, DumpResult::incomplete);
    EXPECT_EQ(entry.record.error, entry.record_error);
    EXPECT_EQ(entry.record.dump_file, "vmcore");
    EXPECT_EQ(entry.record.dmesg_file, "vmcore-dmesg.txt");
    EXPECT_EQ(entry.crash_time, 1700000000);  // the directory's mtime
}

TEST_F(DumpCatalog, GarbledRecordIsListedWithTheReason) {
    make_dump_dir("garbled");
    write_file(dump_path("garbled") + "/status.json", "{\"schema_version\": 1, \"res");
    write_file(dump_path("garbled") + "/vmcore.flat.incomplete", "x");
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 1u);
    const auto& entry = entries->front();
    EXPECT_FALSE(entry.has_record());
    EXPECT_THAT(entry.record_error, HasSubstr("not valid JSON"));
    EXPECT_EQ(entry.record.result, DumpResult::incomplete);
    EXPECT_EQ(entry.record.dump_file, "vmcore.flat.incomplete");
    EXPECT_EQ(entry.record.dmesg_file, "");
}

TEST_F(DumpCatalog, InterruptedCaptureIsIncompleteWithWhatReachedTheDisk) {
    // The power failed while crashcapture-save wrote: its first record
    // ("failed: interrupted", written before the kernel log and the dump,
    // so naming neither) was never replaced.
    DumpRecord first;
    first.result = DumpResult::failed;
    first.error = std::string(kCaptureInterruptedError);
    first.boot_id = "0fbfb924-b278-4106-917b-5bff165bd50b";
    first.started_at = 1700000000;
    make_dump_dir("cut");
    auto fd = open_directory(dump_path("cut"));
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_dump_record_reserved(fd->get(), first, "status.json"));
    write_file(dump_path("cut") + "/vmcore-dmesg.txt", "panic\n");
    write_file(dump_path("cut") + "/vmcore.incomplete", "KDUMP   ");

    auto entry = load_dump(crash_dir(), "cut");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_TRUE(entry->has_record());
    EXPECT_EQ(entry->record.result, DumpResult::incomplete);
    EXPECT_THAT(entry->record.error, HasSubstr(std::string(kCaptureInterruptedError)));
    EXPECT_THAT(entry->record.error, HasSubstr("lost power"));
    EXPECT_EQ(entry->record.dump_file, "vmcore.incomplete");
    EXPECT_EQ(entry->record.dmesg_file, "vmcore-dmesg.txt");
    EXPECT_EQ(entry->record.boot_id, first.boot_id);

    // Cut before the dump was opened: only the kernel log, still a failure.
    ASSERT_EQ(::unlink((dump_path("cut") + "/vmcore.incomplete").c_str()), 0);
    entry = load_dump(crash_dir(), "cut");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->record.result, DumpResult::failed);
    EXPECT_EQ(entry->record.error, kCaptureInterruptedError);
    EXPECT_EQ(entry->record.dump_file, "");
    EXPECT_EQ(entry->record.dmesg_file, "vmcore-dmesg.txt");

    // A final record is taken as it is, whatever lies beside it.
    DumpRecord final_record = first;
    final_record.error = "cannot write vmcore.incomplete at offset 4096: Input/output error";
    write_file(dump_path("cut") + "/vmcore.incomplete", "KDUMP   ");
    ASSERT_TRUE(write_dump_record(fd->get(), final_record));
    entry = load_dump(crash_dir(), "cut");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->record.result, DumpResult::failed);
    EXPECT_EQ(entry->record.error, final_record.error);
    EXPECT_EQ(entry->record.dump_file, "");
}

TEST_F(DumpCatalog, OnlyAKernelLogMeansTheCaptureFailed) {
    make_dump_dir("log-only");
    write_file(dump_path("log-only") + "/vmcore-dmesg.txt", "panic\n");
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ(entries->front().record.result, DumpResult::failed);
    EXPECT_EQ(entries->front().record.dump_file, "");
    EXPECT_EQ(entries->front().record.dmesg_file, "vmcore-dmesg.txt");
}

TEST_F(DumpCatalog, BestDumpFileIsNamed) {
    make_dump_dir("both");
    write_file(dump_path("both") + "/vmcore.incomplete", "x");
    write_file(dump_path("both") + "/vmcore", "x");
    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    EXPECT_EQ(entries->front().record.dump_file, "vmcore");
}

TEST_F(DumpCatalog, WhatIsNotOursIsLeftOut) {
    make_complete_dump("ours", 100);
    // kdump-tools' layout, an admin's notes, hidden and removal directories,
    // a symlink to a dump, a file with a dump-like name.
    make_dump_dir("202405011020");
    write_file(dump_path("202405011020") + "/dump.202405011020", "x");
    make_dump_dir("notes");
    write_file(dump_path("notes") + "/README", "x");
    make_dump_dir(".removing.1234");
    write_file(dump_path(".removing.1234") + "/status.json", "{}");
    make_dump_dir("empty");
    ASSERT_EQ(::symlink(dump_path("ours").c_str(), dump_path("alias").c_str()), 0);
    write_file(dump_path("vmcore"), "x");
    // Not UTF-8: cannot travel over D-Bus, so cannot be an id.
    make_dump_dir("bad\xff");
    write_file(dump_path("bad\xff") + "/status.json", "{}");

    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries) << entries.error().message;
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ(entries->front().id, "ours");
}

TEST_F(DumpCatalog, SortedByCrashTimeThenId) {
    make_complete_dump("c", 300);
    make_complete_dump("b", 100);
    make_complete_dump("a", 300);
    // No crash time in the record: started_at stands in.
    make_dump_dir("d");
    auto record = complete_record(0);
    record.started_at = 200;
    auto fd = open_directory(dump_path("d"));
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_dump_record(fd->get(), record));

    auto entries = scan_dumps(crash_dir());
    ASSERT_TRUE(entries);
    std::vector<std::string> ids;
    for (const auto& entry : *entries) {
        ids.push_back(entry.id);
    }
    EXPECT_THAT(ids, ElementsAre("b", "d", "a", "c"));
    EXPECT_EQ((*entries)[1].crash_time, 200);
}

TEST_F(DumpCatalog, UnreadableDumpDirectoryIsListedNotFatal) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root opens directories whatever their mode";
    }
    make_complete_dump("readable", 100);
    make_dump_dir("locked");
    ASSERT_EQ(::chmod(dump_path("locked").c_str(), 0), 0);
    auto entries = scan_dumps(crash_dir());
    ::chmod(dump_path("locked").c_str(), 0700);
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 2u);
}

TEST_F(DumpCatalog, LoadDumpByIdValidatesIt) {
    make_complete_dump("one", 100);
    make_dump_dir("notes");
    write_file(dump_path("notes") + "/README", "x");

    auto entry = load_dump(crash_dir(), "one");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->record.result, DumpResult::complete);

    auto escape = load_dump(crash_dir(), "../state");
    ASSERT_FALSE(escape);
    EXPECT_EQ(escape.error().errno_value, EINVAL);

    auto absent = load_dump(crash_dir(), "two");
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().errno_value, ENOENT);

    auto foreign = load_dump(crash_dir(), "notes");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().errno_value, ENOENT);
}

// Target= and /var/crash (FailureAction=dump-to-rootfs): one list.
TEST_F(DumpCatalog, SeveralDirectoriesMakeOneListTheFirstWinningATie) {
    const std::string fallback = dir_.file("fallback");
    ASSERT_EQ(::mkdir(fallback.c_str(), 0700), 0);
    make_complete_dump("target-new", 300);
    make_complete_dump("both", 100);
    for (const auto& [id, time] : {std::pair{"fallback-old", 50}, std::pair{"both", 999}}) {
        const std::string path = fallback + "/" + id;
        ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
        write_file(path + "/vmcore-dmesg.txt", "x\n");
        auto fd = open_directory(path);
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_dump_record(fd->get(), complete_record(time)));
    }
    auto scan = scan_dump_directories({crash_dir(), fallback, dir_.file("absent")});
    ASSERT_TRUE(scan) << scan.error().message;
    std::vector<std::string> ids;
    for (const auto& entry : scan->dumps) {
        ids.push_back(entry.id + "@" +
                      entry.path.substr(entry.path.rfind('/', entry.path.rfind('/') - 1) + 1));
    }
    EXPECT_THAT(ids, ElementsAre("fallback-old@fallback/fallback-old", "both@crash/both",
                                 "target-new@crash/target-new"));
    EXPECT_TRUE(scan->problems.empty());  // a missing directory holds no dumps

    auto from_fallback = load_dump_from({crash_dir(), fallback}, "fallback-old");
    ASSERT_TRUE(from_fallback) << from_fallback.error().message;
    EXPECT_EQ(from_fallback->path, fallback + "/fallback-old");
    auto tie = load_dump_from({crash_dir(), fallback}, "both");
    ASSERT_TRUE(tie);
    EXPECT_EQ(tie->path, dump_path("both"));
    auto absent = load_dump_from({crash_dir(), fallback}, "nowhere");
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().errno_value, ENOENT);
    auto escape = load_dump_from({crash_dir(), fallback}, "../state");
    ASSERT_FALSE(escape);
    EXPECT_EQ(escape.error().errno_value, EINVAL);

    // The first directory's errors are errors; a later one's are problems.
    write_file(dir_.file("not-a-directory"), "x");
    EXPECT_FALSE(scan_dump_directories({dir_.file("not-a-directory"), fallback}));
    auto partial = scan_dump_directories({crash_dir(), dir_.file("not-a-directory")});
    ASSERT_TRUE(partial);
    EXPECT_EQ(partial->dumps.size(), 2u);
    ASSERT_EQ(partial->problems.size(), 1u);
}

// ---------------------------------------------------------------------------
// The ledger

TEST_F(DumpCatalog, EachNewDumpIsReportedOnce) {
    make_complete_dump("first", 100);
    auto ledger = read_ledger(state_dir());
    ASSERT_TRUE(ledger) << ledger.error().message;
    EXPECT_THAT(ledger->reported, IsEmpty());

    auto entries = *scan_dumps(crash_dir());
    auto fresh = unreported(entries, *ledger);
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh.front().id, "first");
    ASSERT_TRUE(mark_reported(state_dir(), *ledger, {"first"}));
    EXPECT_THAT(unreported(entries, *ledger), IsEmpty());

    // A daemon restart reads the ledger back: still nothing new.
    auto reread = read_ledger(state_dir());
    ASSERT_TRUE(reread);
    EXPECT_THAT(unreported(entries, *reread), IsEmpty());

    // A new crash: only it is new.
    make_complete_dump("second", 200);
    entries = *scan_dumps(crash_dir());
    fresh = unreported(entries, *reread);
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh.front().id, "second");
}

TEST_F(DumpCatalog, LedgerIsWrittenAtomically) {
    Ledger ledger;
    ASSERT_TRUE(mark_reported(state_dir(), ledger, {"a", "b"}));
    EXPECT_EQ(::access((state_dir() + "/reported.json.tmp").c_str(), F_OK), -1);
    struct stat st {};
    ASSERT_EQ(::stat((state_dir() + "/reported.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    const auto json = nlohmann::json::parse(read_text_file(state_dir() + "/reported.json"));
    EXPECT_EQ(json.at("schema_version"), 1);
    EXPECT_EQ(json.at("reported"), nlohmann::json({"a", "b"}));
}

TEST_F(DumpCatalog, FailedMarkLeavesTheLedgerAsItWas) {
    Ledger ledger;
    ASSERT_TRUE(mark_reported(state_dir(), ledger, {"a"}));
    auto invalid = mark_reported(state_dir(), ledger, {"b", "../../etc/passwd"});
    ASSERT_FALSE(invalid);
    EXPECT_EQ(invalid.error().errno_value, EINVAL);
    EXPECT_EQ(ledger.reported, std::set<std::string>{"a"});

    auto unwritable = mark_reported(dir_.file("no-such-state-dir"), ledger, {"c"});
    ASSERT_FALSE(unwritable);
    EXPECT_EQ(unwritable.error().errno_value, ENOENT);
    EXPECT_EQ(ledger.reported, std::set<std::string>{"a"});
    EXPECT_EQ(read_ledger(state_dir())->reported, std::set<std::string>{"a"});
}

TEST_F(DumpCatalog, CorruptLedgerIsAnError) {
    write_file(state_dir() + "/reported.json", "{\"schema_version\": 1, \"repo");
    auto truncated = read_ledger(state_dir());
    ASSERT_FALSE(truncated);
    EXPECT_THAT(truncated.error().message, HasSubstr("malformed ledger"));

    write_file(state_dir() + "/reported.json", R"({"schema_version": 2, "reported": []})");
    auto newer = read_ledger(state_dir());
    ASSERT_FALSE(newer);
    EXPECT_THAT(newer.error().message, HasSubstr("newer"));

    write_file(state_dir() + "/reported.json", R"({"schema_version": 1, "reported": [1, 2]})");
    EXPECT_FALSE(read_ledger(state_dir()));
}

TEST_F(DumpCatalog, LedgerIgnoresIdsThatCannotNameADump) {
    write_file(state_dir() + "/reported.json",
               R"({"schema_version": 1, "reported": ["ok", "../x", ".hidden"]})");
    auto ledger = read_ledger(state_dir());
    ASSERT_TRUE(ledger);
    EXPECT_EQ(ledger->reported, std::set<std::string>{"ok"});
}

TEST_F(DumpCatalog, PruningForgetsRemovedDumps) {
    make_complete_dump("kept", 100);
    Ledger ledger;
    ledger.reported = {"kept", "removed-long-ago"};
    const auto entries = *scan_dumps(crash_dir());
    EXPECT_TRUE(prune_ledger(ledger, entries));
    EXPECT_EQ(ledger.reported, std::set<std::string>{"kept"});
    EXPECT_FALSE(prune_ledger(ledger, entries));
}

}  // namespace

TEST_F(DumpCatalog, TheSignatureCacheReadsAnUnchangedLogOnce) {
    make_complete_dump("a", 1000);
    auto entry = load_dump(crash_dir(), "a");
    ASSERT_TRUE(entry) << entry.error().message;
    const std::string log = dump_path("a") + "/vmcore-dmesg.txt";
    write_file(log, "[   26.575182] Kernel panic - not syncing: sysrq triggered crash\n");
    DumpSignatureCache cache;
    const auto first = cache.get(*entry);
    EXPECT_EQ(first.title, "Kernel panic - not syncing: sysrq triggered crash");
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(cache.get(*entry), first);
    }
    EXPECT_EQ(cache.logs_read(), 1u);

    // A changed log (another size) is read again.
    write_file(log, "[   26.575182] Kernel panic - not syncing: Fatal exception in interrupt\n");
    EXPECT_EQ(cache.get(*entry).title, "Kernel panic - not syncing: Fatal exception in interrupt");
    EXPECT_EQ(cache.logs_read(), 2u);

    // The record's own signature (schema 2) needs no log at all.
    entry->record.signature = "BUG: soft lockup";
    EXPECT_EQ(cache.get(*entry).title, "BUG: soft lockup");
    EXPECT_EQ(cache.logs_read(), 2u);
    entry->record.signature.clear();
    ::unlink(log.c_str());
    EXPECT_TRUE(cache.get(*entry).empty()) << "a log that is gone is not answered from the cache";
}
