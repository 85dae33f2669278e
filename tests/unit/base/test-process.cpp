#include "process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>

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
    TempDir dir;
    auto pid = start_program({"crashcapture-no-such-program"}, dir.file("log"));
    ASSERT_FALSE(pid);
    EXPECT_EQ(pid.error().errno_value, ENOENT);
}
