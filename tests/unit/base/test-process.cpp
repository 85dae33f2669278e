#include "process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "spawn-semantics.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;

TEST(StartProgram, StandardErrorGoesToTheFileAndTheCallerReaps) {
    TempDir dir;
    const std::string log = dir.file("builder.log");
    std::ofstream(log) << "an older build's words\n";
    auto pid = start_program({"sh", "-c", "echo why it failed >&2; exit 3"}, log);
    ASSERT_TRUE(pid) << pid.error().message;
    int status = 0;
    ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 3);
    // Truncated, not appended: LastError is this build's last line.
    EXPECT_EQ(test::read_text_file(log), "why it failed\n");
}

TEST(StartProgram, StandardOutputGoesToItsOwnFileWhenAsked) {
    TempDir dir;
    const std::string log = dir.file("setup.log");
    const std::string out = dir.file("setup.json");
    std::ofstream(out) << "an older answer, longer than the new one\n";
    auto pid =
        start_program({"sh", "-c", "echo '{\"applied\": true}'; echo progress >&2"}, log, out);
    ASSERT_TRUE(pid) << pid.error().message;
    ASSERT_EQ(::waitpid(*pid, nullptr, 0), *pid);
    EXPECT_EQ(test::read_text_file(out), "{\"applied\": true}\n");
    EXPECT_EQ(test::read_text_file(log), "progress\n");
}

TEST(StartProgram, ANewLogIsPrivate) {
    TempDir dir;
    const std::string log = dir.file("builder.log");
    auto pid = start_program({"true"}, log);
    ASSERT_TRUE(pid) << pid.error().message;
    ASSERT_EQ(::waitpid(*pid, nullptr, 0), *pid);
    struct stat st {};
    ASSERT_EQ(::stat(log.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);  // root's, like the rest of /run/crashcapture
}

TEST(StartProgram, AMissingProgramIsAnError) {
    SKIP_UNLESS_SPAWN_WAITS_FOR_EXEC();
    TempDir dir;
    auto pid = start_program({"crashcapture-no-such-program"}, dir.file("log"));
    ASSERT_FALSE(pid);
    EXPECT_EQ(pid.error().errno_value, ENOENT);
}

TEST(StartProgram, AChildOfABlockingParentStillDiesOfSigtermWithItsGroup) {
    SKIP_UNLESS_SPAWN_WAITS_FOR_EXEC();
    // As the daemon does: SIGTERM blocked, read from a signalfd.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigset_t before;
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &before), 0);
    TempDir dir;
    // A builder that starts a grandchild (dracut) and waits for it.
    auto pid = start_program({"sh", "-c", "sleep 60 & wait"}, dir.file("log"));
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    ASSERT_TRUE(pid) << pid.error().message;
    EXPECT_EQ(::getpgid(*pid), *pid);  // its own process group
    ::usleep(200 * 1000);              // sh has started sleep
    ASSERT_EQ(::kill(-*pid, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGTERM);
    // Nothing of the group is left, once init has reaped the grandchild.
    bool gone = false;
    for (int tries = 0; tries < 100 && !gone; ++tries) {
        gone = ::kill(-*pid, 0) == -1 && errno == ESRCH;
        ::usleep(50 * 1000);
    }
    EXPECT_TRUE(gone) << "a process of group " << *pid << " is still there after 5 s";
}
