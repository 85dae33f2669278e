#include "group.hpp"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>

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
