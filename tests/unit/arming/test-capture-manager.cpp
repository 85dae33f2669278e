#include "capture-manager.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::HasSubstr;

namespace {

// Image files the fake kexec can open, as the real syscall opens them.
struct ImageFiles {
    TempDir dir;
    std::string make(const std::string& name) {
        std::ofstream(dir.file(name)) << name;
        return dir.file(name);
    }
};

// A current initrd: built before, still there, nothing changed.
ArmingFacts current_initrd() {
    return ArmingFacts{.have_previous_manifest = true, .initrd_exists = true, .reserved = true};
}

}  // namespace

TEST(DecideArming, ACurrentInitrdIsLoadedOnceThenKept) {
    auto facts = current_initrd();
    EXPECT_EQ(decide_arming(facts), ArmingAction::load);
    facts.loaded = true;
    EXPECT_EQ(decide_arming(facts), ArmingAction::keep);
}

TEST(DecideArming, AnyChangedInputRebuilds) {
    auto facts = current_initrd();
    facts.loaded = true;
    facts.changed_inputs = {"/usr/sbin/crashcapture-save"};
    EXPECT_EQ(decide_arming(facts), ArmingAction::build);
}

TEST(DecideArming, NoRecordOrNoImageOrForceRebuilds) {
    auto no_manifest = current_initrd();
    no_manifest.have_previous_manifest = false;
    no_manifest.loaded = true;
    EXPECT_EQ(decide_arming(no_manifest), ArmingAction::build);
    auto no_image = current_initrd();
    no_image.initrd_exists = false;
    EXPECT_EQ(decide_arming(no_image), ArmingAction::build);
    auto forced = current_initrd();
    forced.loaded = true;
    forced.force = true;
    EXPECT_EQ(decide_arming(forced), ArmingAction::build);
}

TEST(DecideArming, AStaleInitrdIsLoadedWhileTheNewOneBuildsWhenNothingIsLoaded) {
    // A package upgrade restarts the daemon (the stop unloaded the capture
    // kernel) and changes an input: the old image protects the machine for
    // the minutes dracut takes.
    auto restarted = current_initrd();
    restarted.changed_inputs = {"/usr/lib/dracut/modules.d/99crashcapture/crashcapture-capture"};
    EXPECT_EQ(decide_arming(restarted), ArmingAction::load_previous_then_build);
    auto forced = current_initrd();
    forced.force = true;
    EXPECT_EQ(decide_arming(forced), ArmingAction::load_previous_then_build);
    auto unknown_inputs = current_initrd();
    unknown_inputs.have_previous_manifest = false;
    EXPECT_EQ(decide_arming(unknown_inputs), ArmingAction::load_previous_then_build);
    // Loaded already, nothing there, or nowhere to load it: just build.
    restarted.loaded = true;
    EXPECT_EQ(decide_arming(restarted), ArmingAction::build);
    restarted.loaded = false;
    restarted.initrd_exists = false;
    EXPECT_EQ(decide_arming(restarted), ArmingAction::build);
    restarted.initrd_exists = true;
    restarted.reserved = false;
    EXPECT_EQ(decide_arming(restarted), ArmingAction::build);
}

TEST(DecideArming, NothingReservedStillBuildsThenWaits) {
    // Issue 23: the crashkernel= offered must measure the initrd, so it is
    // built on a machine with no reservation yet...
    ArmingFacts fresh{.reserved = false};
    EXPECT_EQ(decide_arming(fresh), ArmingAction::build);
    // ...and once current, nothing is loaded until memory is reserved.
    auto built = current_initrd();
    built.reserved = false;
    EXPECT_EQ(decide_arming(built), ArmingAction::wait_for_reservation);
}

TEST(DecideArming, AnInitrdOverrideIsNeverBuiltAndAlwaysLoaded) {
    ArmingFacts facts{.force = true, .initrd_override = true, .reserved = true, .loaded = true};
    EXPECT_EQ(decide_arming(facts), ArmingAction::load);
    facts.reserved = false;
    EXPECT_EQ(decide_arming(facts), ArmingAction::wait_for_reservation);
}

TEST(BuildQueue, AReloadDuringABuildRunsOnceAfterIt) {
    BuildQueue queue;
    ASSERT_TRUE(queue.request(false));
    queue.started();
    EXPECT_TRUE(queue.running());
    // Three reloads arrive while dracut runs: one more pass, not three.
    EXPECT_FALSE(queue.request(false));
    EXPECT_FALSE(queue.request(false));
    EXPECT_FALSE(queue.request(false));
    const auto again = queue.finished();
    ASSERT_TRUE(again.has_value());
    EXPECT_FALSE(*again);
    EXPECT_FALSE(queue.running());
    EXPECT_FALSE(queue.finished().has_value());
}

TEST(BuildQueue, ForceDuringABuildIsKeptForThePassAfter) {
    BuildQueue queue;
    ASSERT_TRUE(queue.request(false));
    queue.started();
    EXPECT_FALSE(queue.request(true));   // crashcapturectl rebuild
    EXPECT_FALSE(queue.request(false));  // then a file change
    EXPECT_EQ(queue.finished(), std::optional<bool>(true));
}

TEST(BuildQueue, NothingQueuedWhenNothingArrived) {
    BuildQueue queue;
    ASSERT_TRUE(queue.request(true));
    queue.started();
    EXPECT_FALSE(queue.finished().has_value());
    EXPECT_TRUE(queue.request(false));
}

TEST(CaptureLoader, AFailedLoadPutsTheLastGoodImageBack) {
    ImageFiles files;
    FakeKexec kexec;
    CaptureLoader loader(kexec);
    const CaptureImage good{files.make("vmlinuz-good"), files.make("initrd.img"), "ro"};
    ASSERT_TRUE(loader.load(good));
    EXPECT_EQ(loader.last_good(), good);

    kexec.fail_next(KexecOperation::load, Error{ENOEXEC, "kexec_file_load: Exec format error"});
    const CaptureImage bad{files.make("vmlinuz-broken"), good.initrd, good.command_line};
    const auto result = loader.load(bad);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().errno_value, ENOEXEC);
    EXPECT_THAT(result.error().message, HasSubstr("Exec format error"));
    EXPECT_THAT(result.error().message, HasSubstr("the previous capture kernel was loaded again"));
    // The machine stays protected by the good image, which stays the last good.
    ASSERT_TRUE(kexec.loaded_image().has_value());
    EXPECT_EQ(kexec.loaded_image()->kernel, good.kernel);
    EXPECT_EQ(loader.last_good(), good);
}

TEST(CaptureLoader, WithNothingGoodBeforeAFailureSaysNothingWasRestored) {
    ImageFiles files;
    FakeKexec kexec;
    CaptureLoader loader(kexec);
    kexec.fail_next(KexecOperation::load, Error{ENOMEM, "kexec_file_load: Cannot allocate memory"});
    const auto result = loader.load({files.make("vmlinuz"), files.make("initrd"), ""});
    ASSERT_FALSE(result);
    EXPECT_THAT(result.error().message, ::testing::Not(HasSubstr("loaded again")));
    EXPECT_FALSE(loader.last_good().has_value());
    EXPECT_FALSE(kexec.loaded());
}

TEST(CaptureLoader, WhenTheRestoreFailsTooTheErrorDoesNotClaimIt) {
    ImageFiles files;
    FakeKexec kexec;
    CaptureLoader loader(kexec);
    const std::string initrd = files.make("initrd");
    ASSERT_TRUE(loader.load({files.make("vmlinuz-good"), initrd, ""}));
    kexec.fail_always(KexecOperation::load,
                      Error{EBUSY, "kexec_file_load: Device or resource busy"});
    const auto result = loader.load({files.make("vmlinuz-new"), initrd, ""});
    ASSERT_FALSE(result);
    EXPECT_THAT(result.error().message, ::testing::Not(HasSubstr("loaded again")));
}
