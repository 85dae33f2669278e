#include "daemon-run.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

namespace {

constexpr std::string_view kBoot = "0f5c0d3e-6a1b-4e7c-9d2f-8a6b4c3e1d70";

SystemPaths fake_system(const TempDir& dir) {
    const SystemPaths paths = SystemPaths::under(dir.path());
    std::filesystem::create_directories(paths.state);
    return paths;
}

void touch(const std::string& path) {
    std::ofstream(path) << "half\n";
}

DaemonRun building_run() {
    return {.pid = 412,
            .boot_id = std::string(kBoot),
            .state = "building",
            .started_at = 1795508000,
            .state_since = 1795508040};
}

}  // namespace

TEST(DaemonRun, WrittenReadBackAndRemoved) {
    TempDir dir;
    const auto paths = fake_system(dir);
    ASSERT_TRUE(write_daemon_run(paths, building_run()));
    struct stat st {};
    ASSERT_EQ(::stat(daemon_run_path(paths).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto read = read_daemon_run(paths);
    ASSERT_TRUE(read) << read.error().message;
    ASSERT_TRUE(read->has_value());
    EXPECT_EQ(**read, building_run());
    ASSERT_TRUE(remove_daemon_run(paths));
    const auto gone = read_daemon_run(paths);
    ASSERT_TRUE(gone);
    EXPECT_FALSE(gone->has_value());
    EXPECT_TRUE(remove_daemon_run(paths)) << "removing a missing record is not an error";
}

TEST(DaemonRun, AGarbledRecordIsAnErrorNotACrash) {
    TempDir dir;
    const auto paths = fake_system(dir);
    for (const char* text : {"{", "[]", R"({"pid": "x"})",
                             R"({"pid": 1, "boot_id": "b", "state": "loaded", "started_at": 4E96,
                                 "state_since": 0})"}) {
        std::ofstream(daemon_run_path(paths)) << text;
        const auto read = read_daemon_run(paths);
        EXPECT_FALSE(read) << text;
    }
}

TEST(DaemonRun, BuildLeftoversAreTheHalfBuiltImagesAndInputLists) {
    EXPECT_TRUE(is_build_leftover("initrd-6.1.0-28-amd64.img.new"));
    EXPECT_TRUE(is_build_leftover("initrd-6.1.0-28-amd64.img.new.building"));
    EXPECT_TRUE(is_build_leftover("initrd-6.1.0-28-amd64.inputs.json.new"));
    EXPECT_FALSE(is_build_leftover("initrd-6.1.0-28-amd64.img"));
    EXPECT_FALSE(is_build_leftover("initrd-6.1.0-28-amd64.manifest.json"));
    EXPECT_FALSE(is_build_leftover("running.json"));
    EXPECT_FALSE(is_build_leftover("boots"));
    EXPECT_FALSE(is_build_leftover("other.img.new")) << "only the daemon's own initrd names";
}

TEST(DaemonRun, RemovesOnlyTheLeftovers) {
    TempDir dir;
    const auto paths = fake_system(dir);
    touch(paths.state + "/initrd-6.1.0-28-amd64.img");
    touch(paths.state + "/initrd-6.1.0-28-amd64.img.new");
    touch(paths.state + "/initrd-6.1.0-28-amd64.img.new.building");
    touch(paths.state + "/initrd-6.1.0-28-amd64.inputs.json.new");
    touch(paths.state + "/initrd-6.1.0-28-amd64.inputs.json");
    std::vector<std::string> problems;
    auto removed = remove_build_leftovers(paths, problems);
    std::sort(removed.begin(), removed.end());
    EXPECT_THAT(problems, IsEmpty());
    EXPECT_THAT(removed, ElementsAre("initrd-6.1.0-28-amd64.img.new",
                                     "initrd-6.1.0-28-amd64.img.new.building",
                                     "initrd-6.1.0-28-amd64.inputs.json.new"));
    EXPECT_TRUE(std::filesystem::exists(paths.state + "/initrd-6.1.0-28-amd64.img"));
    EXPECT_TRUE(std::filesystem::exists(paths.state + "/initrd-6.1.0-28-amd64.inputs.json"));
    EXPECT_FALSE(std::filesystem::exists(paths.state + "/initrd-6.1.0-28-amd64.img.new"));
}

TEST(DaemonRun, AKillInThisBootIsDescribedWithWhatItWasDoing) {
    const std::string text =
        describe_previous_run(building_run(), kBoot, {"initrd-6.1.0-28-amd64.img.new"});
    EXPECT_THAT(text, HasSubstr("pid 412"));
    EXPECT_THAT(text, HasSubstr("without an orderly stop"));
    EXPECT_THAT(text, HasSubstr("while building the capture initrd since 2026-11-24"));
    EXPECT_THAT(text,
                HasSubstr("removed what a build cut short left: initrd-6.1.0-28-amd64.img.new"));
    DaemonRun loading = building_run();
    loading.state = "loading";
    EXPECT_THAT(describe_previous_run(loading, kBoot, {}),
                HasSubstr("while loading the capture kernel"));
    loading.state = "loaded";
    EXPECT_THAT(describe_previous_run(loading, kBoot, {}), HasSubstr("while in state loaded"));
}

TEST(DaemonRun, NothingToSayAfterAnOrderlyStopOrAReboot) {
    EXPECT_THAT(describe_previous_run(std::nullopt, kBoot, {}), IsEmpty());
    // A record of an earlier boot: that boot ended (the armed-boot ledger
    // reports how), this daemon was not killed.
    DaemonRun earlier = building_run();
    earlier.boot_id = "11111111-2222-4333-8444-555555555555";
    EXPECT_THAT(describe_previous_run(earlier, kBoot, {}), IsEmpty());
    EXPECT_THAT(describe_previous_run(building_run(), "", {}), IsEmpty())
        << "without a boot id, a record cannot be placed in this boot";
    // Leftovers alone are still said (a record that could not be written).
    EXPECT_THAT(describe_previous_run(earlier, kBoot, {"initrd-x.img.new"}), Not(IsEmpty()));
}
