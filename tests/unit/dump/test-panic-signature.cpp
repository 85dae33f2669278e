// The crash signature on kernel logs: the sysrq-c crashes are vmcore-dmesg.txt
// of real captures (Debian 6.1 and 6.12, amd64 and arm64, from the end-to-end
// guests), and so are the crashtest-*.txt fixtures: the crash-type matrix's
// captures (tests/e2e/run-crash-types.sh, the crashtest module, an OOM, an
// NMI), each cut from a few lines before the report to the end of the log.
// The other crash types are excerpts written in the format those kernels
// print (each fixture's header cites nothing: the citations are in
// panic-signature.cpp, next to the code that reads each format).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "panic-signature.hpp"

namespace crashcapture {
namespace {

std::string fixture(const std::string& name) {
    const std::string path =
        CRASHCAPTURE_SOURCE_DIR "/tests/unit/dump/fixtures/panic-signature/" + name;
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Replaces every match of pattern by what rewrite makes of it.
template <typename Rewrite>
std::string replace_each(const std::string& text, const std::regex& pattern, Rewrite rewrite) {
    std::string out;
    auto last = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
        out.append(last, (*it)[0].first);
        out += rewrite(*it);
        last = (*it)[0].second;
    }
    out.append(last, text.cend());
    return out;
}

std::string shifted_digits(std::string text) {
    for (char& c : text) {
        if (c >= '0' && c <= '9') {
            c = static_cast<char>('0' + (c - '0' + 7) % 10);
        } else if (c >= 'a' && c <= 'f') {
            c = static_cast<char>('a' + (c - 'a' + 3) % 6);
        }
    }
    return text;
}

// The same crash on another machine, another day: other timestamps, other
// addresses and offsets (another build, KASLR), other PIDs, CPU numbers,
// command names and taint.
std::string on_another_machine(const std::string& log) {
    std::string out = replace_each(log, std::regex(R"(\[ *\d+\.\d+\])"),
                                   [](const std::smatch& m) { return shifted_digits(m.str()); });
    out = replace_each(
        out, std::regex(R"((0x)([0-9a-f]+)|\b()([0-9a-f]{12,})\b)"), [](const std::smatch& m) {
            return m[1].matched ? "0x" + shifted_digits(m[2].str()) : shifted_digits(m[4].str());
        });
    out = std::regex_replace(out, std::regex(R"(Comm: \S+)"), "Comm: other-comm");
    out = std::regex_replace(out, std::regex(R"(task \S+:)"), "task other-comm:");
    out = std::regex_replace(out, std::regex(R"(\[spin:)"), "[other-comm:");
    out =
        replace_each(out, std::regex(R"((PID: |pid:|CPU: |CPU#|CPU|cpu |other-comm:)(\d+))"),
                     [](const std::smatch& m) { return m[1].str() + shifted_digits(m[2].str()); });
    out = std::regex_replace(out, std::regex(R"(Not tainted|Tainted: [A-Z ]+?(?= +\d))"),
                             "Tainted: G    B D W  O");
    return out;
}

// pstore's dmesg record of the same log: a header, a syslog level on each line.
std::string as_pstore_record(const std::string& log) {
    return "Panic#1 Part1\n" +
           std::regex_replace(log, std::regex("^", std::regex::multiline), "<4>");
}

struct Case {
    std::string fixture;
    std::string title;
};

class PanicSignatureTest : public ::testing::TestWithParam<Case> {};

TEST_P(PanicSignatureTest, TitlesTheCrash) {
    const auto signature = panic_signature(fixture(GetParam().fixture));
    EXPECT_EQ(signature.title, GetParam().title);
    EXPECT_EQ(signature.hash, panic_signature_hash(GetParam().title));
}

TEST_P(PanicSignatureTest, SameCrashOnAnotherMachineHasTheSameSignature) {
    const std::string log = fixture(GetParam().fixture);
    const std::string other = on_another_machine(log);
    ASSERT_NE(other, log);
    const auto signature = panic_signature(log);
    const auto elsewhere = panic_signature(other);
    EXPECT_EQ(elsewhere.title, signature.title) << other;
    EXPECT_EQ(elsewhere.hash, signature.hash);
}

TEST_P(PanicSignatureTest, PstoreRecordOfTheCrashHasTheSameSignature) {
    const std::string log = fixture(GetParam().fixture);
    EXPECT_EQ(panic_signature(as_pstore_record(log)).title, panic_signature(log).title);
}

const Case kCases[] = {
    {"sysrq-6.1-amd64.txt", "Kernel panic - not syncing: sysrq triggered crash"},
    {"sysrq-6.1-arm64.txt", "Kernel panic - not syncing: sysrq triggered crash"},
    {"sysrq-6.12-amd64.txt", "Kernel panic - not syncing: sysrq triggered crash"},
    {"sysrq-6.12-arm64.txt", "Kernel panic - not syncing: sysrq triggered crash"},
    {"null-deref-6.1-amd64.txt", "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    {"page-fault-6.12-amd64.txt", "BUG: unable to handle page fault in read_vmcore_region"},
    {"gpf-6.1-amd64.txt", "general protection fault in __list_del_entry_valid"},
    {"kernel-bug-6.1-amd64.txt", "kernel BUG at mm/slub.c:379"},
    {"warning-panic-on-warn-6.1-amd64.txt", "WARNING in dummy_dev_init"},
    {"soft-lockup-6.1-amd64.txt", "watchdog: BUG: soft lockup in spin_forever"},
    {"hung-task-6.12-amd64.txt", "INFO: task hung in ext4_writepages"},
    {"oom-6.1-amd64.txt", "Kernel panic - not syncing: System is deadlocked on memory"},
    {"nmi-unknown-6.1-amd64.txt", "NMI received for unknown reason"},
    {"hard-lockup-6.12-amd64.txt", "watchdog: hard LOCKUP in irqspin_loop"},
    {"arm64-null-deref-6.1.txt",
     "Unable to handle kernel NULL pointer dereference in crashtest_write_null"},
    {"arm64-stack-overflow-6.12.txt", "Kernel panic - not syncing: kernel stack overflow"},
    // Real captures of the crash-type matrix (Debian 6.1.0-57 and 6.12.118,
    // QEMU TCG).
    {"crashtest-null-6.1-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    {"crashtest-null-6.12-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    // BUG() names crashtest.c, not the build directory (build-module.sh).
    {"crashtest-bug-6.1-amd64.txt", "kernel BUG at crashtest.c:124"},
    {"crashtest-bug-6.12-amd64.txt", "kernel BUG at crashtest.c:124"},
    {"crashtest-warn-6.1-amd64.txt", "WARNING in crashtest_trigger_write"},
    {"crashtest-warn-6.12-amd64.txt", "WARNING in crashtest_trigger_write"},
    // The oops in a timer callback (softirq): the same function, so the same
    // title as the NULL write in process context; the context is in the log.
    {"crashtest-timer-6.1-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    {"crashtest-timer-6.12-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    // And in an hrtimer callback (hard interrupt).
    {"crashtest-hrtimer-6.1-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    {"crashtest-hrtimer-6.12-amd64.txt",
     "BUG: kernel NULL pointer dereference in crashtest_write_null"},
    {"crashtest-nmi-6.1-amd64.txt", "NMI received for unknown reason"},
    {"crashtest-nmi-6.12-amd64.txt", "NMI received for unknown reason"},
    // The pc is in mdelay()'s busy-wait (delay_tsc here; another CPU model
    // takes another loop): the spinning caller names the lockup.
    {"crashtest-softlockup-6.1-amd64.txt", "watchdog: BUG: soft lockup in crashtest_trigger_write"},
    {"crashtest-softlockup-6.12-amd64.txt",
     "watchdog: BUG: soft lockup in crashtest_trigger_write"},
    {"crashtest-hungtask-6.1-amd64.txt", "INFO: task hung in crashtest_trigger_write"},
    {"crashtest-hungtask-6.12-amd64.txt", "INFO: task hung in crashtest_trigger_write"},
    // The recursion's frames are crashtest_recurse.isra.0: the suffix goes.
    {"crashtest-stack-6.1-amd64.txt", "BUG: TASK stack guard page was hit in crashtest_recurse"},
    {"crashtest-stack-6.12-amd64.txt", "BUG: TASK stack guard page was hit in crashtest_recurse"},
    {"crashtest-oom-6.1-amd64.txt",
     "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"},
    {"crashtest-oom-6.12-amd64.txt",
     "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"},
};

INSTANTIATE_TEST_SUITE_P(KernelLogs, PanicSignatureTest, ::testing::ValuesIn(kCases),
                         [](const auto& test_param) {
                             std::string name = test_param.param.fixture.substr(
                                 0, test_param.param.fixture.size() - 4);
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) {
                                     c = '_';
                                 }
                             }
                             return name;
                         });

TEST(PanicSignature, DifferentCrashesHaveDifferentHashes) {
    std::set<std::string> titles;
    std::set<std::string> hashes;
    for (const auto& c : kCases) {
        const auto signature = panic_signature(fixture(c.fixture));
        titles.insert(signature.title);
        hashes.insert(signature.hash);
    }
    EXPECT_EQ(hashes.size(), titles.size());
    EXPECT_GE(titles.size(), 12u);
}

TEST(PanicSignature, OneCrashTypeOnBothKernelsHasOneSignature) {
    // The matrix's real logs: 6.12 prints "Oops: Oops:", "UID: 0" and a
    // "Tainted: [O]=..." line that 6.1 does not; the signature is the same.
    const std::pair<const char*, const char*> same_crash[] = {
        {"crashtest-null-6.1-amd64.txt", "crashtest-null-6.12-amd64.txt"},
        {"crashtest-warn-6.1-amd64.txt", "crashtest-warn-6.12-amd64.txt"},
        {"crashtest-timer-6.1-amd64.txt", "crashtest-timer-6.12-amd64.txt"},
        {"crashtest-softlockup-6.1-amd64.txt", "crashtest-softlockup-6.12-amd64.txt"},
        {"crashtest-hungtask-6.1-amd64.txt", "crashtest-hungtask-6.12-amd64.txt"},
        {"crashtest-stack-6.1-amd64.txt", "crashtest-stack-6.12-amd64.txt"},
        {"crashtest-oom-6.1-amd64.txt", "crashtest-oom-6.12-amd64.txt"},
        {"crashtest-nmi-6.1-amd64.txt", "crashtest-nmi-6.12-amd64.txt"},
        {"crashtest-hrtimer-6.1-amd64.txt", "crashtest-hrtimer-6.12-amd64.txt"},
        {"crashtest-bug-6.1-amd64.txt", "crashtest-bug-6.12-amd64.txt"},
    };
    for (const auto& [on_6_1, on_6_12] : same_crash) {
        const auto first = panic_signature(fixture(on_6_1));
        EXPECT_FALSE(first.empty()) << on_6_1;
        EXPECT_EQ(panic_signature(fixture(on_6_12)).hash, first.hash) << on_6_1 << " " << on_6_12;
    }
}

TEST(PanicSignature, HashIsFnv1a64OfTheTitle) {
    // The published FNV-1a 64 test vectors (draft-eastlake-fnv, "" and "a").
    EXPECT_EQ(panic_signature_hash(""), "cbf29ce484222325");
    EXPECT_EQ(panic_signature_hash("a"), "af63dc4c8601ec8c");
    EXPECT_EQ(panic_signature_hash("Kernel panic - not syncing: sysrq triggered crash").size(),
              16u);
}

TEST(PanicSignature, EmptyWithoutACrash) {
    EXPECT_TRUE(panic_signature("").empty());
    EXPECT_TRUE(panic_signature("[    0.000000] Linux version 6.1.0-57-amd64\n").empty());
    EXPECT_EQ(panic_signature("").hash, "");
}

TEST(PanicSignature, TheReportThatPanicsWinsOverAnEarlierWarning) {
    // A WARNING that did not panic (no panic_on_warn), then sysrq-c.
    const std::string log =
        "[   10.000001] WARNING: CPU: 0 PID: 1 at fs/foo.c:10 foo_thing+0x1/0x2\n"
        "[   10.000002] RIP: 0010:foo_thing+0x1/0x2\n"
        "[   10.000003] ---[ end trace 0000000000000000 ]---\n" +
        fixture("sysrq-6.1-amd64.txt");
    EXPECT_EQ(panic_signature(log).title, "Kernel panic - not syncing: sysrq triggered crash");
}

TEST(PanicSignature, AnOopsWhoseLogEndsBeforeThePanic) {
    std::string log = fixture("null-deref-6.1-amd64.txt");
    log = log.substr(0, log.find("Kernel panic"));
    EXPECT_EQ(panic_signature(log).title,
              "BUG: kernel NULL pointer dereference in crashtest_write_null");
}

TEST(PanicSignature, FatalExceptionTitlesTheFirstOops) {
    // An oops in process context killed its task ([#1]); the second one, in
    // an interrupt, panicked. The first is the cause.
    std::string log = fixture("gpf-6.1-amd64.txt");
    log = log.substr(0, log.find("Kernel panic"));
    log += fixture("null-deref-6.1-amd64.txt");
    EXPECT_EQ(panic_signature(log).title, "general protection fault in __list_del_entry_valid");
}

TEST(PanicSignature, OtherReportsKeepTheirWordsAndTheirFunction) {
    // mm/kasan/report.c names the function on its first line.
    EXPECT_EQ(
        panic_signature("[   31.1] BUG: KASAN: slab-use-after-free in "
                        "ext4_fill_super+0x1a2/0x3c0 [ext4]\n"
                        "[   31.2] Read of size 8 at addr ffff888012345678 by task mount/412\n")
            .title,
        "BUG: KASAN: slab-use-after-free in ext4_fill_super");
    // kernel/sched/core.c __might_resched: the function is the caller of
    // the might_sleep() checks.
    EXPECT_EQ(panic_signature("[    5.0] BUG: sleeping function called from invalid context at "
                              "mm/slab.h:742\n"
                              "[    5.1] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: "
                              "77, name: modprobe\n"
                              "[    5.2] Call Trace:\n"
                              "[    5.3]  <TASK>\n"
                              "[    5.4]  dump_stack_lvl+0x44/0x5c\n"
                              "[    5.5]  __might_resched.cold+0xcc/0xe1\n"
                              "[    5.6]  kmem_cache_alloc_trace+0x2d1/0x330\n"
                              "[    5.7]  foo_probe+0x3a/0x90 [foo]\n"
                              "[    5.8]  </TASK>\n")
                  .title,
              "BUG: sleeping function called from invalid context in kmem_cache_alloc_trace");
}

TEST(PanicSignature, PanicMessageKeepsShortNumbersAndDropsAddressesAndCpus) {
    EXPECT_EQ(panic_signature("[ 1.0] Kernel panic - not syncing: Attempted to kill init! "
                              "exitcode=0x0000000b\n")
                  .title,
              "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b");
    EXPECT_EQ(panic_signature("Kernel panic - not syncing: stack-protector: Kernel stack is "
                              "corrupted in: ffffffffc0a1b2c3 on CPU 3\n")
                  .title,
              "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ADDR "
              "on CPU");
    // kernel/panic.c __stack_chk_fail: "%pB" of the caller.
    EXPECT_EQ(panic_signature("Kernel panic - not syncing: stack-protector: Kernel stack is "
                              "corrupted in: parse_thing+0x1a4/0x1b0 [foo]\n")
                  .title,
              "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
              "parse_thing [foo]");
}

}  // namespace
}  // namespace crashcapture
