#include "armed-boot-ledger.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr const char* kBootA = "0f5c0d3e-6a1b-4e7c-9d2f-8a6b4c3e1d70";
constexpr const char* kBootB = "11111111-2222-4333-8444-555555555555";
constexpr const char* kBootC = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

ArmedBoot boot(const std::string& id, int64_t armed_at, bool armed = true, bool orderly = false) {
    ArmedBoot b;
    b.boot_id = id;
    b.kernel_release = "6.1.0-test-amd64";
    b.armed_at = armed_at;
    b.last_seen = armed_at + 600;
    b.armed = armed;
    b.orderly_shutdown = orderly;
    return b;
}

DumpEntry dump(const std::string& id, const std::string& boot_id) {
    DumpEntry entry;
    entry.id = id;
    entry.path = "/var/crash/" + id;
    entry.record.boot_id = boot_id;
    entry.record.result = DumpResult::complete;
    return entry;
}

void write_file(const std::string& path, const std::string& text, int64_t mtime = 0) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    if (mtime != 0) {
        struct utimbuf times {
            static_cast<time_t>(mtime), static_cast<time_t>(mtime)
        };
        ::utime(path.c_str(), &times);
    }
}

}  // namespace

TEST(ArmedBootLedger, BootIdsCompareInEitherSpelling) {
    EXPECT_EQ(normalize_boot_id(kBootA), "0f5c0d3e6a1b4e7c9d2f8a6b4c3e1d70");
    EXPECT_EQ(normalize_boot_id("0F5C0D3E6A1B4E7C9D2F8A6B4C3E1D70"),
              "0f5c0d3e6a1b4e7c9d2f8a6b4c3e1d70");
    EXPECT_EQ(normalize_boot_id(""), "");
    EXPECT_EQ(normalize_boot_id("0f5c0d3e"), "");
    EXPECT_EQ(normalize_boot_id("../../etc/passwd"), "");
    EXPECT_EQ(lost_capture_id(boot(kBootA, 1)), std::string("lost-") + kBootA);
    EXPECT_EQ(boot_id_of_lost_capture(std::string("lost-") + kBootA), kBootA);
    EXPECT_EQ(boot_id_of_lost_capture("lost-../x"), "");
    EXPECT_EQ(boot_id_of_lost_capture("2026-11-20-1000-aaaa"), "");
}

TEST(ArmedBootLedger, WriteReadRoundTripOldestFirst) {
    TempDir root;
    const std::string dir = root.file("boots");
    auto lost = boot(kBootB, 2000);
    lost.outcome = BootOutcome::lost;
    lost.resolved_at = 3000;
    lost.pstore.push_back(
        {"/sys/fs/pstore/dmesg-ramoops-0", "Kernel panic - not syncing: x", 2500, 1234});
    ASSERT_TRUE(write_armed_boot(dir, lost));
    ASSERT_TRUE(write_armed_boot(dir, boot(kBootA, 1000)));
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);

    auto list = read_armed_boots(dir);
    ASSERT_TRUE(list) << list.error().message;
    EXPECT_TRUE(list->problems.empty());
    ASSERT_EQ(list->boots.size(), 2u);
    EXPECT_EQ(list->boots[0].boot_id, kBootA);
    EXPECT_EQ(list->boots[1].boot_id, kBootB);
    EXPECT_EQ(list->boots[1].outcome, BootOutcome::lost);
    ASSERT_EQ(list->boots[1].pstore.size(), 1u);
    EXPECT_EQ(list->boots[1].pstore[0].panic_line, "Kernel panic - not syncing: x");
    EXPECT_EQ(list->boots[0].last_seen, 1600);

    auto one = read_armed_boot(dir, kBootA);
    ASSERT_TRUE(one);
    EXPECT_TRUE(one->armed);
    EXPECT_EQ(read_armed_boot(dir, kBootC).error().errno_value, ENOENT);
    EXPECT_EQ(read_armed_boot(dir, "../x").error().errno_value, EINVAL);

    ASSERT_TRUE(remove_armed_boot(dir, kBootA));
    EXPECT_EQ(read_armed_boots(dir)->boots.size(), 1u);
    EXPECT_EQ(remove_armed_boot(dir, kBootA).error().errno_value, ENOENT);
}

TEST(ArmedBootLedger, MissingDirectoryHoldsNoBoots) {
    TempDir root;
    auto list = read_armed_boots(root.file("none"));
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->boots.empty());
}

TEST(ArmedBootLedger, BadRecordsAreSkippedWithAReason) {
    TempDir root;
    const std::string dir = root.file("boots");
    ASSERT_TRUE(write_armed_boot(dir, boot(kBootA, 1000)));
    write_file(dir + "/" + kBootB + ".json", "{not json");
    write_file(dir + "/" + kBootC + ".json", to_json(boot(kBootA, 5)).dump());  // wrong name
    write_file(dir + "/" + kBootA + ".json.tmp", "half");                       // ignored
    auto list = read_armed_boots(dir);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->boots.size(), 1u);
    EXPECT_EQ(list->problems.size(), 2u);
    EXPECT_THAT(list->problems[0] + list->problems[1], HasSubstr("not JSON"));
    EXPECT_THAT(list->problems[0] + list->problems[1], HasSubstr("not the one its name says"));
}

TEST(ArmedBootLedger, ResolvesEachWay) {
    const std::vector<DumpEntry> dumps = {
        dump("2026-11-20-1000-x", "0f5c0d3e6a1b4e7c9d2f8a6b4c3e1d70"),  // boot A, without dashes
        dump(std::string("2026-11-21-1000-") + kBootC, ""),             // boot C, by its name
    };
    EXPECT_EQ(resolve_earlier_boot(boot(kBootA, 1), dumps).outcome, BootOutcome::captured);
    EXPECT_EQ(resolve_earlier_boot(boot(kBootA, 1), dumps).dump_id, "2026-11-20-1000-x");
    EXPECT_EQ(resolve_earlier_boot(boot(kBootC, 1), dumps).outcome, BootOutcome::captured);
    // A dump beats the orderly mark: the capture is the news.
    EXPECT_EQ(resolve_earlier_boot(boot(kBootA, 1, true, true), dumps).outcome,
              BootOutcome::captured);
    EXPECT_EQ(resolve_earlier_boot(boot(kBootB, 1, true, true), dumps).outcome,
              BootOutcome::orderly);
    EXPECT_EQ(resolve_earlier_boot(boot(kBootB, 1, false, false), dumps).outcome,
              BootOutcome::disarmed);
    EXPECT_EQ(resolve_earlier_boot(boot(kBootB, 1), dumps).outcome, BootOutcome::lost);
    EXPECT_EQ(resolve_earlier_boot(boot(kBootB, 1), {}).outcome, BootOutcome::lost);
}

TEST(ArmedBootLedger, PruningKeepsLostAndCurrentBoots) {
    std::vector<ArmedBoot> boots;
    for (int i = 0; i < 5; ++i) {
        boots.push_back(boot(fmt::format("{:08x}-0000-4000-8000-000000000000", i), 100 + i));
        boots.back().outcome = BootOutcome::orderly;
    }
    boots[0].outcome = BootOutcome::lost;
    const std::string current = boots[1].boot_id;
    const auto forget = armed_boots_to_forget(boots, current, 2);
    // Candidates: 2, 3, 4 (0 is lost, 1 is current); keep the 2 newest.
    EXPECT_THAT(forget, ElementsAre(boots[2].boot_id));
    EXPECT_TRUE(armed_boots_to_forget(boots, current, 32).empty());
}

TEST(ArmedBootLedger, FindsPstoreRecordsLiveAndArchived) {
    TempDir root;
    const auto paths = SystemPaths::under(root.path());
    write_file(paths.sys + "/fs/pstore/dmesg-ramoops-0",
               "Panic#1 Part1\n<6>[   10.000000] booting\n<0>[   12.345678] Kernel panic - not "
               "syncing: sysrq triggered crash\n",
               2000);
    write_file(paths.sys + "/fs/pstore/console-ramoops-0", "console\n", 2000);
    write_file(root.path() + "/var/lib/systemd/pstore/1700000000/001/dmesg.txt",
               "[    1.0] BUG: kernel NULL pointer dereference\n", 1000);
    const auto records = find_pstore_records(paths);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_THAT(records[0].path, HasSubstr("/var/lib/systemd/pstore/1700000000/001/dmesg.txt"));
    EXPECT_EQ(records[0].panic_line, "BUG: kernel NULL pointer dereference");
    EXPECT_EQ(records[0].time, 1000);
    EXPECT_EQ(records[1].panic_line, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_EQ(records[0].signature.title, "BUG: kernel NULL pointer dereference");
    EXPECT_EQ(records[1].signature.title, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_EQ(records[1].signature.hash, panic_signature_hash(records[1].signature.title));
    EXPECT_TRUE(find_pstore_records(SystemPaths::under(root.file("empty"))).empty());
}

TEST(ArmedBootLedger, PstoreRecordsGoToTheLatestLostBootArmedBeforeThem) {
    auto first = boot(kBootA, 1000);
    auto second = boot(kBootB, 2000);
    std::vector<ArmedBoot*> lost{&first, &second};
    attribute_pstore_records(
        lost, {{"/p/old", "", 500, 1}, {"/p/a", "a", 1500, 1}, {"/p/b", "b", 2500, 1}});
    ASSERT_EQ(first.pstore.size(), 1u);
    EXPECT_EQ(first.pstore[0].path, "/p/a");
    ASSERT_EQ(second.pstore.size(), 1u);
    EXPECT_EQ(second.pstore[0].path, "/p/b");
}

TEST(ArmedBootLedger, LostCaptureLooksLikeADumpEntry) {
    auto lost = boot(kBootA, 1000);
    lost.outcome = BootOutcome::lost;
    lost.last_seen = 1795000000;
    const auto quiet = lost_capture_json(lost);
    EXPECT_EQ(quiet["id"], std::string("lost-") + kBootA);
    EXPECT_EQ(quiet["result"], "lost");
    EXPECT_EQ(quiet["crash_time"], 1795000000);
    EXPECT_EQ(quiet["disk_bytes"], 0);
    EXPECT_EQ(quiet["record"]["boot_id"], kBootA);
    EXPECT_EQ(quiet["record"]["kernel_release"], "6.1.0-test-amd64");
    EXPECT_EQ(quiet["lost"]["last_seen"], 1795000000);
    EXPECT_THAT(quiet["record"]["error"].get<std::string>(),
                HasSubstr("ended without an orderly shutdown and left no dump"));
    EXPECT_THAT(describe_lost_capture(lost), HasSubstr("last seen alive at 2026-11-18"));
    EXPECT_THAT(describe_lost_capture(lost), HasSubstr("no pstore record"));

    lost.pstore.push_back({"/sys/fs/pstore/dmesg-efi-1", "Kernel panic - not syncing: x", 1, 1});
    const auto loud = lost_capture_json(lost);
    EXPECT_EQ(loud["record"]["panic_line"], "Kernel panic - not syncing: x");
    EXPECT_EQ(loud["lost"]["pstore"][0]["path"], "/sys/fs/pstore/dmesg-efi-1");
    EXPECT_THAT(describe_lost_capture(lost),
                HasSubstr("pstore kept the panic: Kernel panic - not syncing: x"));
    EXPECT_EQ(quiet["signature"], "");
    EXPECT_EQ(quiet["signature_hash"], "");
    // Records of the ledger written before signatures have none (above);
    // the first record that has one names the lost crash.
    lost.pstore.push_back({"/sys/fs/pstore/dmesg-efi-2", "Kernel panic - not syncing: y", 2, 1,
                           PanicSignature{"WARNING in foo", "0123456789abcdef"}});
    const auto named = lost_capture_json(lost);
    EXPECT_EQ(named["signature"], "WARNING in foo");
    EXPECT_EQ(named["signature_hash"], "0123456789abcdef");
    auto back = armed_boot_from_json(to_json(lost));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back->pstore[0].signature.empty());
    EXPECT_EQ(back->pstore[1].signature.title, "WARNING in foo");
    EXPECT_EQ(back->pstore[1].signature.hash, "0123456789abcdef");
}

// The note crashcapture-capture leaves on the root filesystem when the target
// cannot be mounted: the lost capture then says why.
TEST(ArmedBootLedger, CaptureFailureNoteTellsWhyTheCaptureWasLost) {
    TempDir dir;
    const std::string notes = dir.path() + "/capture-failures";
    ASSERT_EQ(::mkdir(notes.c_str(), 0700), 0);
    // Named in the procfs spelling by the capture kernel (crashcapture.boot_id=).
    {
        std::ofstream note(notes + "/" + kBootA + ".log");
        note << "reason: the target device UUID=1234 (/dev/vdb when the capture initrd was "
                "built) did not appear within 90s\n\n[    1.000000] capture kernel journal\n";
    }
    // Another boot's note, and a stray file, must not be attributed.
    std::ofstream(notes + "/" + kBootC + ".log") << "reason: something else\n";
    std::ofstream(notes + "/README") << "not a note\n";

    auto with_note = boot(kBootA, 1000);
    with_note.outcome = BootOutcome::lost;
    auto without_note = boot(kBootB, 2000);
    without_note.outcome = BootOutcome::lost;
    std::vector<ArmedBoot*> lost{&with_note, &without_note};
    attach_capture_failure_notes(lost, notes);

    EXPECT_EQ(with_note.capture_failure,
              "the target device UUID=1234 (/dev/vdb when the capture initrd was built) did not "
              "appear within 90s");
    EXPECT_EQ(with_note.capture_log, notes + "/" + kBootA + ".log");
    EXPECT_TRUE(without_note.capture_failure.empty());
    EXPECT_TRUE(without_note.capture_log.empty());
    EXPECT_THAT(describe_lost_capture(with_note),
                HasSubstr("the capture kernel ran but could not save the dump: the target device "
                          "UUID=1234"));
    EXPECT_THAT(describe_lost_capture(without_note), Not(HasSubstr("capture kernel ran")));

    // Kept in the ledger: the note is attached once, when the boot is resolved.
    auto round_trip = armed_boot_from_json(to_json(with_note));
    ASSERT_TRUE(round_trip);
    EXPECT_EQ(round_trip->capture_failure, with_note.capture_failure);
    EXPECT_EQ(round_trip->capture_log, with_note.capture_log);

    // No directory: nothing attached, no error.
    auto other = boot(kBootC, 3000);
    std::vector<ArmedBoot*> others{&other};
    attach_capture_failure_notes(others, dir.path() + "/missing");
    EXPECT_TRUE(other.capture_failure.empty());
}

TEST(ArmedBootLedger, NotesOnASpareBootAreMovedBesideTheOthersAndAttached) {
    TempDir dir;
    const std::string spare = dir.path() + "/boot/crashcapture-failures";
    const std::string notes = dir.path() + "/state/capture-failures";
    std::filesystem::create_directories(dir.path() + "/state");
    write_file(spare + "/" + kBootA + ".log",
               "reason: Target=/var/crash: the device UUID=aa-root (/dev/mapper/vg0-root when the "
               "capture initrd was built) did not appear within 90s\n\njournal\n");
    write_file(spare + "/" + kBootB + ".log", "reason: a newer copy loses\n");
    write_file(notes + "/" + kBootB + ".log", "reason: the one already adopted\n");
    write_file(spare + "/lost+found.log", "not a boot's note\n");

    EXPECT_THAT(adopt_capture_failure_notes(spare, notes), ::testing::IsEmpty());
    EXPECT_TRUE(std::filesystem::exists(notes + "/" + kBootA + ".log"));
    EXPECT_FALSE(std::filesystem::exists(spare + "/" + kBootA + ".log"));
    EXPECT_FALSE(std::filesystem::exists(spare + "/" + kBootB + ".log"));
    EXPECT_TRUE(std::filesystem::exists(spare + "/lost+found.log"));

    auto a = boot(kBootA, 1000);
    auto b = boot(kBootB, 2000);
    std::vector<ArmedBoot*> lost{&a, &b};
    attach_capture_failure_notes(lost, notes);
    EXPECT_THAT(a.capture_failure, HasSubstr("vg0-root when the capture initrd was built"));
    EXPECT_EQ(a.capture_log, notes + "/" + kBootA + ".log");
    EXPECT_EQ(b.capture_failure, "the one already adopted");

    // Attached once: a later directory does not replace the note.
    write_file(dir.path() + "/other/" + kBootA + ".log", "reason: other\n");
    attach_capture_failure_notes(lost, dir.path() + "/other");
    EXPECT_EQ(a.capture_log, notes + "/" + kBootA + ".log");

    // No spare directory at all: nothing to do, nothing to say.
    EXPECT_THAT(adopt_capture_failure_notes(dir.path() + "/none", notes), ::testing::IsEmpty());
}

TEST(ArmedBootLedger, ASpareNoteThatCannotBeMovedIsAProblemNamed) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root writes into a read-only directory";
    }
    TempDir dir;
    const std::string spare = dir.path() + "/spare";
    write_file(spare + "/" + std::string(kBootA) + ".log", "reason: x\n");
    ASSERT_EQ(::chmod(spare.c_str(), 0500), 0);
    const auto problems = adopt_capture_failure_notes(spare, dir.path() + "/notes");
    ::chmod(spare.c_str(), 0700);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_THAT(problems[0], HasSubstr(spare));
}

TEST(ArmedBootLedger, PendingBootsAreDecidedOnceAndTheLostGetTheirEvidence) {
    TempDir dir;
    const std::string notes = dir.path() + "/capture-failures";
    constexpr const char* kBootD = "dddddddd-0000-4000-8000-000000000001";
    constexpr const char* kCurrent = "cccccccc-0000-4000-8000-000000000002";
    write_file(notes + "/" + kBootD + ".log", "reason: cannot reach the server\n");
    std::vector<ArmedBoot> boots = {
        boot(kBootA, 1000),              // captured: a dump names it
        boot(kBootB, 2000, true, true),  // shut down in order
        boot(kBootD, 3000),              // lost, with a note and a pstore record
        boot(kCurrent, 4000),            // this boot: never decided now
    };
    ArmedBoot decided_before = boot(kBootC, 500);  // decided at an earlier start
    decided_before.outcome = BootOutcome::lost;
    boots.insert(boots.begin(), decided_before);
    const std::vector<DumpEntry> dumps = {dump("2026-11-20-1000-x", kBootA)};
    PstoreRecord record;
    record.path = "/sys/fs/pstore/dmesg-efi-1";
    record.panic_line = "Kernel panic - not syncing: sysrq triggered crash";
    record.time = 3500;
    int pstore_reads = 0;
    const auto find_pstore = [&] {
        ++pstore_reads;
        return std::vector<PstoreRecord>{record};
    };
    const auto decided = resolve_pending_boots(boots, kCurrent, dumps, find_pstore, notes, 9999);

    ASSERT_EQ(decided.size(), 3U);
    EXPECT_EQ(decided[0]->boot_id, kBootA);
    EXPECT_EQ(decided[0]->outcome, BootOutcome::captured);
    EXPECT_EQ(decided[0]->dump_id, "2026-11-20-1000-x");
    EXPECT_EQ(decided[1]->outcome, BootOutcome::orderly);
    EXPECT_EQ(decided[2]->boot_id, kBootD);
    EXPECT_EQ(decided[2]->outcome, BootOutcome::lost);
    EXPECT_EQ(decided[2]->capture_failure, "cannot reach the server");
    ASSERT_EQ(decided[2]->pstore.size(), 1U);
    EXPECT_EQ(decided[2]->pstore[0].path, record.path);
    for (const ArmedBoot* boot : decided) {
        EXPECT_EQ(boot->resolved_at, 9999);
    }
    // The earlier decision and the current boot are left as they were.
    EXPECT_EQ(boots[0].resolved_at, 0);
    EXPECT_TRUE(boots[0].pstore.empty());
    EXPECT_EQ(boots[4].outcome, BootOutcome::pending);
    EXPECT_EQ(pstore_reads, 1);
    // A second pass decides nothing, and reads no pstore record: nothing was lost.
    EXPECT_TRUE(resolve_pending_boots(boots, kCurrent, dumps, find_pstore, notes, 10000).empty());
    EXPECT_EQ(pstore_reads, 1);
}

TEST(ArmedBootLedgerJson, AnOutOfRangeNumberIsAMalformedRecordNotUndefinedBehaviour) {
    // tests/fuzz/fuzz-records-json: a pstore record's bytes as 4E96.
    auto json = nlohmann::json::parse(R"({"schema_version": 1,
        "boot_id": "0f5c0d3e6a1b4e7c9d2f8a6b4c3e1d70", "outcome": "lost",
        "pstore": [{"path": "/sys/fs/pstore/dmesg-efi-1", "bytes": 4E96, "time": 1}]})");
    auto boot = armed_boot_from_json(json);
    ASSERT_FALSE(boot);
    EXPECT_THAT(boot.error().message, HasSubstr("malformed boot record"));
    EXPECT_THAT(boot.error().message, HasSubstr("bytes"));
}
