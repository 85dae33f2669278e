#include "group.hpp"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using ::testing::HasSubstr;

TEST(ResolveGroup, NumbersAreTakenAsTheyAre) {
    // The capture initrd has no /etc/group: a number is never looked up.
    EXPECT_EQ(resolve_group("0").value(), 0u);
    EXPECT_EQ(resolve_group("4242").value(), 4242u);
}

TEST(ResolveGroup, NamesAreLookedUp) {
    const struct group* root = ::getgrgid(0);
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(resolve_group(root->gr_name).value(), 0u);
}

TEST(ResolveGroup, UnknownAndInvalidAreErrors) {
    const auto missing = resolve_group("no-such-group-crashcapture");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_EQ(missing.error().message, "no-such-group-crashcapture: no such group");
    // (gid_t)-1 means "leave the group" to chown(2); beyond 32 bits is no gid.
    EXPECT_THAT(resolve_group("4294967295").error().message, HasSubstr("not a group id"));
    EXPECT_THAT(resolve_group("99999999999").error().message, HasSubstr("not a group id"));
    EXPECT_FALSE(resolve_group(""));
}

TEST(ShareDirectoryWithGroup, GivesTheGroupTheDirectoryOnceAndLeavesTheRest) {
    crashcapture::test::TempDir dir;
    const std::string crash = dir.path() + "/crash";
    // Not there yet: nothing to do, no error.
    auto missing = share_directory_with_group(crash, ::getegid());
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);
    ASSERT_EQ(::mkdir(crash.c_str(), 0700), 0);
    // A group this process may give (its own): root may give any.
    const gid_t gid = ::getegid();
    auto changed = share_directory_with_group(crash, gid);
    ASSERT_TRUE(changed) << changed.error().message;
    EXPECT_TRUE(*changed);
    struct stat st {};
    ASSERT_EQ(::stat(crash.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_EQ(st.st_mode & 07777, 0750U);
    auto again = share_directory_with_group(crash, gid);
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again);
    // A file is not a dump directory.
    const std::string file = dir.path() + "/file";
    std::ofstream(file) << "x";
    auto on_file = share_directory_with_group(file, gid);
    ASSERT_TRUE(on_file);
    EXPECT_FALSE(*on_file);
}

TEST(ShareDirectoryWithGroup, AGroupThatCannotBeGivenIsAnErrorNamingTheDirectory) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root may give a directory to any group";
    }
    crashcapture::test::TempDir dir;
    const std::string crash = dir.path() + "/crash";
    ASSERT_EQ(::mkdir(crash.c_str(), 0700), 0);
    // gid 0 (root): not this process's group, so chown(2) refuses (EPERM).
    auto refused = share_directory_with_group(crash, 0);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(crash), std::string::npos);
    EXPECT_EQ(refused.error().errno_value, EPERM);
}
