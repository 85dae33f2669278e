#include "system-paths.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

using namespace crashcapture;

namespace {

// Sets CRASHCAPTURE_ROOT for one test and restores what was there.
class RootVariable {
  public:
    explicit RootVariable(const char* value) {
        if (const char* old = std::getenv(name_.c_str())) {
            saved_ = old;
        }
        if (value) {
            ::setenv(name_.c_str(), value, 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    ~RootVariable() {
        if (saved_) {
            ::setenv(name_.c_str(), saved_->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }

  private:
    std::string name_{kRootEnvironmentVariable};
    std::optional<std::string> saved_;
};

}  // namespace

TEST(SystemPaths, RunningSystem) {
    const auto paths = SystemPaths::under("");
    EXPECT_EQ(paths.root, "");
    EXPECT_EQ(paths.proc, "/proc");
    EXPECT_EQ(paths.sys, "/sys");
    EXPECT_EQ(paths.boot, "/boot");
    EXPECT_EQ(paths.modules, "/usr/lib/modules");
    EXPECT_EQ(paths.legacy_modules, "/lib/modules");
    EXPECT_EQ(paths.etc_config, "/etc/crashcapture");
    EXPECT_EQ(paths.state, "/var/lib/crashcapture");
    EXPECT_EQ(paths.run, "/run/crashcapture");
    EXPECT_EQ(paths.crash_dir, "/var/crash");
    EXPECT_EQ(paths.config_file(), "/etc/crashcapture/crashcapture.conf");
    EXPECT_EQ(paths.config_dropin_directory(), "/etc/crashcapture/crashcapture.conf.d");
}

TEST(SystemPaths, SlashIsTheRunningSystem) {
    EXPECT_EQ(SystemPaths::under("/"), SystemPaths::under(""));
    EXPECT_EQ(SystemPaths::under("//"), SystemPaths::under(""));
}

TEST(SystemPaths, EveryPathUnderATestRoot) {
    const auto paths = SystemPaths::under("/tmp/fake/");
    EXPECT_EQ(paths.root, "/tmp/fake");
    EXPECT_EQ(paths.proc, "/tmp/fake/proc");
    EXPECT_EQ(paths.sys, "/tmp/fake/sys");
    EXPECT_EQ(paths.boot, "/tmp/fake/boot");
    EXPECT_EQ(paths.modules, "/tmp/fake/usr/lib/modules");
    EXPECT_EQ(paths.legacy_modules, "/tmp/fake/lib/modules");
    EXPECT_EQ(paths.etc_config, "/tmp/fake/etc/crashcapture");
    EXPECT_EQ(paths.state, "/tmp/fake/var/lib/crashcapture");
    EXPECT_EQ(paths.run, "/tmp/fake/run/crashcapture");
    EXPECT_EQ(paths.crash_dir, "/tmp/fake/var/crash");
    EXPECT_EQ(paths.config_file(), "/tmp/fake/etc/crashcapture/crashcapture.conf");
}

TEST(SystemPaths, ResolvePrefixesTheRoot) {
    EXPECT_EQ(SystemPaths::under("").resolve("/etc/fstab"), "/etc/fstab");
    EXPECT_EQ(SystemPaths::under("/t").resolve("/boot/vmlinuz"), "/t/boot/vmlinuz");
}

TEST(SystemPaths, FromEnvironmentUnsetOrEmptyIsTheRunningSystem) {
    {
        RootVariable unset(nullptr);
        EXPECT_EQ(SystemPaths::from_environment(), SystemPaths::under(""));
    }
    {
        RootVariable empty("");
        EXPECT_EQ(SystemPaths::from_environment(), SystemPaths::under(""));
    }
}

TEST(SystemPaths, FromEnvironmentAbsoluteRoot) {
    RootVariable root("/srv/image/");
    EXPECT_EQ(SystemPaths::from_environment(), SystemPaths::under("/srv/image"));
}

TEST(SystemPaths, FromEnvironmentRelativeRootIsMadeAbsolute) {
    RootVariable root("fake-root");
    char cwd[4096];
    ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
    const auto paths = SystemPaths::from_environment();
    EXPECT_EQ(paths.root, std::string(cwd) + "/fake-root");
    EXPECT_EQ(paths.proc, std::string(cwd) + "/fake-root/proc");
}
