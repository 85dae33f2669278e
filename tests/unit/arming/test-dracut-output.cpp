#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dracut-command.hpp"

using namespace crashcapture;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// What crashcaptured's journal showed for every build in the systemd guest
// (Debian 12, dracut 059, the unit's RestrictSUIDSGID=yes).
constexpr const char* kSandboxedBuild =
    "cp: preserving permissions for '/tmp/dracut.4xwJnA/initramfs/usr/bin/mount': Operation not "
    "permitted\n"
    "dracut-install: ERROR: 'cp --reflink=auto --sparse=auto "
    "--preserve=mode,xattr,timestamps,ownership -fL /usr/bin/mount "
    "/tmp/dracut.4xwJnA/initramfs/usr/bin/mount' failed with 1\n"
    "cp: preserving permissions for '/tmp/dracut.4xwJnA/initramfs/usr/bin/umount': Operation not "
    "permitted\n"
    "dracut-install: ERROR: 'cp --reflink=auto --sparse=auto "
    "--preserve=mode,xattr,timestamps,ownership -fL /usr/bin/umount "
    "/tmp/dracut.4xwJnA/initramfs/usr/bin/umount' failed with 1\n"
    "libkmod: ERROR ../libkmod/libkmod-module.c:191 kmod_module_parse_depline: missing\n";

}  // namespace

TEST(DracutOutput, SetuidCopyPairsBecomeOneLineNamingThePrograms) {
    const std::string explained = explain_setuid_copy_failures(kSandboxedBuild);
    EXPECT_THAT(explained, Not(HasSubstr("dracut-install: ERROR")));
    EXPECT_THAT(explained, Not(HasSubstr("preserving permissions")));
    EXPECT_THAT(explained, HasSubstr("/usr/bin/mount, /usr/bin/umount copied into the capture "
                                     "initrd without the set-user-ID bit"));
    // Another error stays, first, as dracut wrote it.
    EXPECT_TRUE(explained.starts_with(
        "libkmod: ERROR ../libkmod/libkmod-module.c:191 kmod_module_parse_depline: missing\n"));
}

TEST(DracutOutput, AnyOtherFailureIsKeptAsWritten) {
    // A copy that failed for another reason, and a pair about two different
    // files: nothing to explain away.
    const std::string other =
        "dracut-install: ERROR: 'cp -fL /usr/bin/ssh /tmp/d/initramfs/usr/bin/ssh' failed with 1\n"
        "cp: preserving permissions for '/tmp/d/initramfs/usr/bin/mount': Operation not "
        "permitted\n"
        "dracut-install: ERROR: 'cp -fL /usr/bin/su /tmp/d/initramfs/usr/bin/su' failed with 1\n"
        "cp: preserving permissions for '/tmp/d/initramfs/usr/bin/umount': Operation not "
        "permitted";
    EXPECT_EQ(explain_setuid_copy_failures(other), other);
    EXPECT_EQ(explain_setuid_copy_failures(""), "");
    EXPECT_EQ(explain_setuid_copy_failures("dracut: done\n"), "dracut: done\n");
}
