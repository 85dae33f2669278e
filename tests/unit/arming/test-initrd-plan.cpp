#include "initrd-plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace crashcapture;

namespace {

// A guest's mountinfo: root on vda (254:0), /srv/dumps on vdb1 (254:17),
// /var/crash-bind a bind mount of /srv/dumps/sub, /tmp a tmpfs, a btrfs
// subvolume on an anonymous device (0:33), a path with a space.
constexpr std::string_view kMountinfo =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "24 22 0:25 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw,size=4096k\n"
    "30 22 254:17 / /srv/dumps rw,relatime shared:20 - xfs /dev/vdb1 rw,attr2\n"
    "31 22 254:17 /sub /var/crash-bind rw,relatime shared:20 - xfs /dev/vdb1 rw\n"
    "32 22 0:33 /@crash /btr rw,relatime shared:21 - btrfs /dev/vdc rw,subvol=/@crash\n"
    "33 22 254:0 / /with\\040space rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "34 22 0:40 / /mnt/nfs rw shared:30 - nfs4 server:/export rw\n";

class FakeSystem : public ::testing::Test {
  protected:
    void SetUp() override {
        char name[] = "/tmp/initrd-plan-test.XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        root_ = name;
        device("254:0", "vda", "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        device("254:17", "vdb1", "");
        std::filesystem::create_directories(root_ + "/dev/disk/by-uuid");
        std::filesystem::create_symlink("../../vdc",
                                        root_ + "/dev/disk/by-uuid/ab-cd");  // btrfs
    }
    void TearDown() override { std::filesystem::remove_all(root_); }

    void device(const std::string& numbers, const std::string& name, const std::string& uuid) {
        const std::string sys = root_ + "/sys/dev/block/" + numbers;
        std::filesystem::create_directories(sys);
        std::ofstream(sys + "/uevent")
            << "MAJOR=254\nMINOR=0\nDEVNAME=" << name << "\nDEVTYPE=disk\n";
        if (!uuid.empty()) {
            std::filesystem::create_directories(root_ + "/dev/disk/by-uuid");
            std::filesystem::create_symlink("../../" + name, root_ + "/dev/disk/by-uuid/" + uuid);
        }
    }

    std::string root_;
};

}  // namespace

TEST(ParseMountinfo, ReadsFieldsAfterTheOptionalOnes) {
    const auto mounts = parse_mountinfo(kMountinfo);
    ASSERT_TRUE(mounts) << mounts.error().message;
    ASSERT_EQ(mounts->size(), 8u);
    EXPECT_EQ((*mounts)[0], (MountInfoEntry{254, 0, "/", "/", "ext4", "/dev/vda"}));
    EXPECT_EQ((*mounts)[4],
              (MountInfoEntry{254, 17, "/sub", "/var/crash-bind", "xfs", "/dev/vdb1"}));
    EXPECT_EQ((*mounts)[6].mount_point, "/with space");
}

TEST(ParseMountinfo, NoOptionalFieldsAndSeveralOfThem) {
    const auto mounts = parse_mountinfo(
        "40 1 8:1 / /a rw - ext4 /dev/sda1 rw\n"
        "41 1 8:2 / /b rw shared:1 master:2 propagate_from:3 - vfat /dev/sda2 rw\n");
    ASSERT_TRUE(mounts) << mounts.error().message;
    EXPECT_EQ((*mounts)[0].fstype, "ext4");
    EXPECT_EQ((*mounts)[1].fstype, "vfat");
    EXPECT_EQ((*mounts)[1].source, "/dev/sda2");
}

TEST(ParseMountinfo, MalformedLineIsAnErrorWithItsNumber) {
    const auto mounts = parse_mountinfo("22 1 254:0 / / rw - ext4 /dev/vda rw\n22 1 junk\n");
    ASSERT_FALSE(mounts);
    EXPECT_NE(mounts.error().message.find("line 2"), std::string::npos);
    EXPECT_FALSE(parse_mountinfo("22 1 254:x / / rw - ext4 /dev/vda rw\n"));
    EXPECT_FALSE(parse_mountinfo("22 1 254:0 / / rw shared:1 ext4 /dev/vda rw\n"));
}

TEST(FindMountFor, LongestMountPointThatIsAPathPrefix) {
    const auto mounts = parse_mountinfo(kMountinfo);
    ASSERT_TRUE(mounts);
    EXPECT_EQ(find_mount_for(*mounts, "/var/crash")->mount_point, "/");
    EXPECT_EQ(find_mount_for(*mounts, "/srv/dumps")->mount_point, "/srv/dumps");
    EXPECT_EQ(find_mount_for(*mounts, "/srv/dumps/x/y")->mount_point, "/srv/dumps");
    // /srv/dumpsters is not under /srv/dumps.
    EXPECT_EQ(find_mount_for(*mounts, "/srv/dumpsters")->mount_point, "/");
    EXPECT_EQ(find_mount_for(*mounts, "/tmp/x")->fstype, "tmpfs");
}

TEST(FindMountFor, LastOfStackedMountsWins) {
    const auto mounts = parse_mountinfo(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "30 22 254:16 / /data rw - ext4 /dev/vdb rw\n"
        "31 30 254:32 / /data rw - xfs /dev/vdc rw\n");
    ASSERT_TRUE(mounts);
    EXPECT_EQ(find_mount_for(*mounts, "/data/crash")->source, "/dev/vdc");
}

TEST_F(FakeSystem, DirectoryOnTheRootFilesystemUsesItsUuid) {
    const auto target =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/var/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->device, "/dev/vda");
    EXPECT_EQ(target->source, "UUID=1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    EXPECT_EQ(target->fstype, "ext4");
    EXPECT_EQ(target->directory_in_filesystem, "/var/crash");
    EXPECT_EQ(target->mount_point, "/");
    EXPECT_TRUE(target->is_root_filesystem);
}

TEST_F(FakeSystem, DirectoryOnAnotherFilesystemWithoutUuidFallsBackToTheDevice) {
    const auto target =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/srv/dumps/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->device, "/dev/vdb1");
    EXPECT_EQ(target->source, "/dev/vdb1");
    EXPECT_EQ(target->fstype, "xfs");
    EXPECT_EQ(target->directory_in_filesystem, "/crash");
    EXPECT_FALSE(target->is_root_filesystem);
}

TEST_F(FakeSystem, BindMountAddsItsRootInsideTheFilesystem) {
    const auto target =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/var/crash-bind/x");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->directory_in_filesystem, "/sub/x");
    const auto top =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/var/crash-bind");
    ASSERT_TRUE(top);
    EXPECT_EQ(top->directory_in_filesystem, "/sub");
}

TEST_F(FakeSystem, BtrfsOnAnAnonymousDeviceIsFoundThroughItsSource) {
    const auto target =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/btr/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->device, "/dev/vdc");
    EXPECT_EQ(target->source, "UUID=ab-cd");
    EXPECT_EQ(target->directory_in_filesystem, "/@crash/crash");
}

TEST_F(FakeSystem, DeviceMapperDevicesGoByTheirMapperName) {
    device("253:2", "dm-2", "77-88");
    std::filesystem::create_directories(root_ + "/sys/dev/block/253:2/dm");
    std::ofstream(root_ + "/sys/dev/block/253:2/dm/name") << "vg-crash\n";
    const auto target = resolve_directory_target(
        SystemPaths::under(root_), "22 1 253:2 / / rw - ext4 /dev/mapper/vg-crash rw\n",
        "/var/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->device, "/dev/mapper/vg-crash");
    EXPECT_EQ(target->source, "UUID=77-88");
}

TEST_F(FakeSystem, MemoryAndNetworkFilesystemsAreRefusedWithAReason) {
    const auto on_tmpfs =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/tmp/crash");
    ASSERT_FALSE(on_tmpfs);
    EXPECT_NE(on_tmpfs.error().message.find("tmpfs"), std::string::npos);
    const auto on_nfs =
        resolve_directory_target(SystemPaths::under(root_), kMountinfo, "/mnt/nfs/crash");
    ASSERT_FALSE(on_nfs);
    EXPECT_NE(on_nfs.error().message.find("Target=nfs:"), std::string::npos);
    EXPECT_FALSE(resolve_directory_target(SystemPaths::under(root_), kMountinfo, "relative"));
}

TEST(SaveArguments, FollowTheConfiguration) {
    Config config;
    EXPECT_EQ(save_arguments(config),
              (std::vector<std::string>{"--format", "kdump", "--compress", "zstd",
                                        "--compress-level", "1", "--dump-level", "31"}));
    config.dump_level = 17;
    config.compression = Compression::zlib;
    config.compression_level = 6;
    config.format = DumpFormat::elf;
    EXPECT_EQ(save_arguments(config),
              (std::vector<std::string>{"--format", "elf", "--compress", "zlib", "--compress-level",
                                        "6", "--dump-level", "17"}));
    const auto with_group = save_arguments(config, 4);
    ASSERT_EQ(with_group.size(), 10u);
    EXPECT_EQ(with_group[8], "--group");
    EXPECT_EQ(with_group[9], "4");
}

TEST(ShellQuote, SurvivesQuotesAndSpaces) {
    EXPECT_EQ(shell_quote("plain"), "'plain'");
    EXPECT_EQ(shell_quote("it's a dir"), "'it'\\''s a dir'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(CaptureEnvironment, EveryAssignmentIsQuotedAndSourceableByAShell) {
    Config config;
    config.failure_action = FailureAction::dump_to_rootfs;
    TargetFilesystem target{"/srv/it's", "/srv", "/dev/vdb", "UUID=1", "xfs", "/it's", false};
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    const std::string text = capture_environment(config, target, root);
    EXPECT_NE(text.find("CRASHCAPTURE_TARGET_DIRECTORY='/it'\\''s'\n"), std::string::npos);
    EXPECT_NE(text.find("CRASHCAPTURE_FALLBACK_DIRECTORY='/var/crash'\n"), std::string::npos);
    EXPECT_NE(text.find("CRASHCAPTURE_FAILURE_ACTION='dump-to-rootfs'\n"), std::string::npos);

    // A real shell reads back what we meant.
    char name[] = "/tmp/capture-env.XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    const std::string command = std::string(". ") + name +
                                " && printf '%s|%s|%s' \"$CRASHCAPTURE_TARGET_DIRECTORY\" "
                                "\"$CRASHCAPTURE_ROOT_SOURCE\" \"$CRASHCAPTURE_SAVE_ARGUMENTS\"";
    FILE* shell = ::popen(command.c_str(), "r");
    ASSERT_NE(shell, nullptr);
    char buffer[512] = {};
    const size_t length = std::fread(buffer, 1, sizeof buffer - 1, shell);
    ::pclose(shell);
    ::unlink(name);
    EXPECT_EQ(std::string(buffer, length),
              "/it's|UUID=2|--format kdump --compress zstd --compress-level 1 --dump-level 31");
}

TEST(CaptureEnvironment, FallbackDirectoryIsTheTargetWhenItIsOnTheRootFilesystem) {
    Config config;
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    TargetFilesystem target = root;
    target.directory_in_filesystem = "/var/crash";
    const std::string text = capture_environment(config, target, root);
    EXPECT_NE(text.find("CRASHCAPTURE_FALLBACK_DIRECTORY='/var/crash'\n"), std::string::npos);
}

// CRASHCAPTURE_FAILURE_NOTE_DIRECTORY's quoted value in a capture.env.
std::string failure_note_directory(const std::string& environment) {
    const std::string name = "CRASHCAPTURE_FAILURE_NOTE_DIRECTORY=";
    const size_t start = environment.find(name);
    if (start == std::string::npos) {
        return "(missing)";
    }
    const size_t value = start + name.size();
    return environment.substr(value, environment.find('\n', value) - value);
}

TEST(CaptureEnvironment, FailureNotesGoToTheRootFilesystemOnlyWhenTheTargetIsElsewhere) {
    Config config;
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    TargetFilesystem target{"/srv/crash", "/srv/crash", "/dev/vdb", "UUID=1", "ext4", "/", false};
    TargetFilesystem state = root;
    state.directory_in_filesystem = "/var/lib/crashcapture";
    const auto note_directory = [&](const TargetFilesystem& dumps,
                                    const std::optional<TargetFilesystem>& state_filesystem) {
        return failure_note_directory(
            capture_environment(config, dumps, root, std::nullopt, state_filesystem));
    };
    EXPECT_EQ(note_directory(target, state), "'/var/lib/crashcapture/capture-failures'");
    // Not resolved: no note.
    EXPECT_EQ(note_directory(target, std::nullopt), "''");
    // Bind-mounted onto itself by the service's sandbox: the same filesystem.
    TargetFilesystem sandboxed = state;
    sandboxed.mount_point = "/var/lib/crashcapture";
    EXPECT_EQ(note_directory(target, sandboxed), "'/var/lib/crashcapture/capture-failures'");
    // /var/lib on a filesystem of its own: the capture would not find it.
    TargetFilesystem separate_var = state;
    separate_var.mount_point = "/var";
    separate_var.source = "UUID=3";
    EXPECT_EQ(note_directory(target, separate_var), "''");
    // The target on the root filesystem: if it cannot be mounted, nothing can.
    TargetFilesystem on_root = root;
    on_root.directory_in_filesystem = "/var/crash";
    EXPECT_EQ(note_directory(on_root, state), "''");
}

TEST_F(FakeSystem, ASeparateBootIsTheSpareNotePlaceOnlyWhenItIsItsOwnFilesystem) {
    // The Debian installer's LVM layout: / on vg0-root, /boot on vda1 (ext2).
    device("253:0", "dm-0", "aa-root");
    std::filesystem::create_directories(root_ + "/sys/dev/block/253:0/dm");
    std::ofstream(root_ + "/sys/dev/block/253:0/dm/name") << "vg0-root\n";
    device("254:1", "vda1", "bb-boot");
    constexpr std::string_view kInstallerLayout =
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw\n"
        "25 22 254:1 / /boot rw,relatime shared:2 - ext2 /dev/vda1 rw\n";
    const auto paths = SystemPaths::under(root_);
    const auto root = resolve_directory_target(paths, kInstallerLayout, "/");
    ASSERT_TRUE(root) << root.error().message;
    auto target = *root;
    target.directory_in_filesystem = "/var/crash";
    const auto spare = spare_note_filesystem(paths, kInstallerLayout, target, *root);
    ASSERT_TRUE(spare);
    EXPECT_EQ(spare->device, "/dev/vda1");
    EXPECT_EQ(spare->source, "UUID=bb-boot");
    EXPECT_EQ(spare->fstype, "ext2");
    const std::string environment = capture_environment(Config{}, target, *root, std::nullopt,
                                                        std::nullopt, std::nullopt, spare);
    EXPECT_THAT(environment,
                ::testing::HasSubstr("CRASHCAPTURE_SPARE_NOTE_SOURCE='UUID=bb-boot'\n"));
    EXPECT_THAT(environment, ::testing::HasSubstr("CRASHCAPTURE_SPARE_NOTE_FSTYPE='ext2'\n"));
    EXPECT_THAT(environment, ::testing::HasSubstr(
                                 "CRASHCAPTURE_SPARE_NOTE_DIRECTORY='/crashcapture-failures'\n"));

    // /boot in the root filesystem: nowhere else to go.
    EXPECT_FALSE(spare_note_filesystem(paths, kMountinfo,
                                       *resolve_directory_target(paths, kMountinfo, "/"),
                                       *resolve_directory_target(paths, kMountinfo, "/")));
    // /boot is the target's filesystem: it is what failed.
    auto on_boot = *spare;
    on_boot.directory_in_filesystem = "/crash";
    EXPECT_FALSE(spare_note_filesystem(paths, kInstallerLayout, on_boot, *root));
    // A /boot that is no local disk filesystem.
    EXPECT_FALSE(spare_note_filesystem(paths,
                                       "22 1 253:0 / / rw - ext4 /dev/mapper/vg0-root rw\n25 22 "
                                       "0:40 / /boot rw - tmpfs tmpfs rw\n",
                                       target, *root));
    // None given: the assignments are there, empty.
    EXPECT_THAT(capture_environment(Config{}, target, *root),
                ::testing::HasSubstr("CRASHCAPTURE_SPARE_NOTE_DIRECTORY=''\n"));
}

TEST(CaptureUnitDropin, ActionsAndTimeLimit) {
    Config config;
    EXPECT_EQ(capture_unit_dropin(config),
              "# Written by crashcapture-build-initrd from crashcapture.conf: "
              "FinalAction=reboot, FailureAction=reboot, TimeoutSec=30min.\n"
              "[Unit]\nSuccessAction=reboot-force\nFailureAction=reboot-force\n"
              "[Service]\nTimeoutStartSec=30min\n");
    config.final_action = FinalAction::poweroff;
    config.failure_action = FailureAction::shell;
    config.timeout_usec = kInfiniteTimeSpan;
    const std::string shell = capture_unit_dropin(config);
    EXPECT_NE(shell.find("SuccessAction=poweroff-force\n"), std::string::npos);
    EXPECT_NE(shell.find("OnFailure=emergency.target\n"), std::string::npos);
    EXPECT_EQ(shell.find("FailureAction="), shell.find("FailureAction=shell"));
    EXPECT_NE(shell.find("TimeoutStartSec=infinity\n"), std::string::npos);
    config.failure_action = FailureAction::dump_to_rootfs;
    EXPECT_NE(capture_unit_dropin(config).find("OnFailure=crashcapture-fallback.service\n"),
              std::string::npos);
    config.failure_action = FailureAction::poweroff;
    config.final_action = FinalAction::halt;
    const std::string poweroff = capture_unit_dropin(config);
    EXPECT_NE(poweroff.find("FailureAction=poweroff-force\n"), std::string::npos);
    EXPECT_NE(poweroff.find("SuccessAction=halt-force\n"), std::string::npos);
}

TEST(FallbackUnitDropin, EndsInFinalActionOrAReboot) {
    Config config;
    config.final_action = FinalAction::poweroff;
    config.timeout_usec = 90ULL * 1000 * 1000;
    const std::string text = fallback_unit_dropin(config);
    EXPECT_NE(text.find("SuccessAction=poweroff-force\n"), std::string::npos);
    EXPECT_NE(text.find("FailureAction=reboot-force\n"), std::string::npos);
    EXPECT_NE(text.find("TimeoutStartSec=1min 30s\n"), std::string::npos);
}

namespace {

// A disk for Target=raw: (254:32, no filesystem, not mounted) with a stable
// name under /dev/disk/by-id, as udev makes it.
class RawTarget : public FakeSystem {
  protected:
    void SetUp() override {
        FakeSystem::SetUp();
        if (::geteuid() != 0) {
            GTEST_SKIP() << "needs root to make a block device node (mknod)";
        }
        ASSERT_EQ(::mknod((root_ + "/dev/vdc").c_str(), S_IFBLK | 0600, ::makedev(254, 32)), 0);
        std::filesystem::create_directories(root_ + "/dev/disk/by-id");
        std::filesystem::create_symlink("../../vdc", root_ + "/dev/disk/by-id/virtio-crashraw");
        std::filesystem::create_directories(root_ + sys_ + "/holders");
    }

    Result<TargetFilesystem> resolve(std::string_view mountinfo = kMountinfo,
                                     std::string_view swaps = kNoSwaps) {
        return resolve_raw_target(SystemPaths::under(root_), mountinfo, swaps,
                                  "/dev/disk/by-id/virtio-crashraw");
    }

    static constexpr std::string_view kNoSwaps = "Filename\tType\tSize\tUsed\tPriority\n";
    const std::string sys_ = "/sys/dev/block/254:32";
};

}  // namespace

TEST_F(RawTarget, UnusedDiskIsFoundByItsStableName) {
    const auto target = resolve();
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->device, "/dev/vdc");
    EXPECT_EQ(target->source, "/dev/disk/by-id/virtio-crashraw");
    EXPECT_EQ(target->fstype, "");
    EXPECT_FALSE(target->is_root_filesystem);
}

TEST_F(RawTarget, DiskInUseIsRefusedWithTheReason) {
    const std::string sys = root_ + "/sys/dev/block/254:32";
    std::filesystem::create_directories(sys + "/holders");

    auto target = resolve(std::string(kMountinfo) +
                          "40 22 254:32 / /srv/data rw shared:40 - ext4 /dev/vdc rw\n");
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("is mounted on /srv/data (ext4)"));

    target = resolve(kMountinfo, std::string(kNoSwaps) + "/dev/vdc\tpartition\t1048572\t0\t-2\n");
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("/dev/vdc is in use as swap"));

    std::filesystem::create_directories(sys + "/vdc1");
    std::ofstream(sys + "/vdc1/partition") << "1\n";
    target = resolve();
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("has partitions (vdc1)"));
    std::filesystem::remove_all(sys + "/vdc1");

    std::filesystem::create_directories(sys + "/holders/dm-0");
    target = resolve();
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("in use by dm-0"));
}

TEST_F(RawTarget, NotABlockDeviceOrMissingIsRefused) {
    std::ofstream(root_ + "/dev/file") << "x";
    auto target = resolve_raw_target(SystemPaths::under(root_), kMountinfo, kNoSwaps, "/dev/file");
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("is not a block device"));
    target = resolve_raw_target(SystemPaths::under(root_), kMountinfo, kNoSwaps, "/dev/nothing");
    ASSERT_FALSE(target);
    EXPECT_THAT(target.error().message, testing::HasSubstr("Target=raw:/dev/nothing"));
}

TEST(CaptureEnvironment, RawTargetKeepsItsRecordOnTheRootFilesystem) {
    auto config = std::make_optional<Config>();
    auto raw = parse_target("raw:/dev/disk/by-id/virtio-crashraw");
    ASSERT_TRUE(raw) << raw.error().message;
    config->target = *raw;
    config->failure_action = FailureAction::dump_to_rootfs;
    TargetFilesystem target{"", "", "/dev/vdc", "/dev/disk/by-id/virtio-crashraw", "", "", false};
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    TargetFilesystem state{"/var/lib/crashcapture", "/", "/dev/vda", "UUID=2", "ext4",
                           "/var/lib/crashcapture", true};
    const std::string text = capture_environment(*config, target, root, std::nullopt, state);
    EXPECT_NE(text.find("CRASHCAPTURE_TARGET_KIND='raw'\n"), std::string::npos);
    EXPECT_NE(text.find("CRASHCAPTURE_TARGET_SOURCE='/dev/disk/by-id/virtio-crashraw'\n"),
              std::string::npos);
    EXPECT_NE(
        text.find("CRASHCAPTURE_KEPT_RECORD_DIRECTORY='/var/lib/crashcapture/raw-captures'\n"),
        std::string::npos);
    // The stream for the device, a kdump file for the fallback directory.
    EXPECT_NE(text.find("CRASHCAPTURE_SAVE_ARGUMENTS='--format flattened "), std::string::npos);
    EXPECT_NE(text.find("CRASHCAPTURE_FALLBACK_SAVE_ARGUMENTS='--format kdump "),
              std::string::npos);

    // The state directory on another filesystem than root: nowhere to keep it.
    state.source = "UUID=3";
    EXPECT_NE(capture_environment(*config, target, root, std::nullopt, state)
                  .find("CRASHCAPTURE_KEPT_RECORD_DIRECTORY=''\n"),
              std::string::npos);
}

TEST(FstabMountNotMounted, ANofailTargetStillWaitingForItsDevice) {
    // The target-thin guest after the capture's reboot: /srv/crash's thin
    // volume comes up seconds after crashcaptured starts.
    constexpr std::string_view kFstab =
        "# /etc/fstab: static file system information.\n"
        "/dev/vda / ext4 rw,relatime 0 1\n"
        "LABEL=crashtarget /srv/crash ext4 rw,nofail,x-systemd.device-timeout=90s 0 2\n"
        "/swapfile none swap sw 0 0\n";
    const std::vector<MountInfoEntry> root_only = {{254, 0, "/", "/", "ext4", "/dev/vda"}};
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, root_only, "/srv/crash"), "/srv/crash");
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, root_only, "/srv/crash/dumps"), "/srv/crash");
    // Mounted: nothing to wait for.
    auto mounted = root_only;
    mounted.push_back({253, 3, "/", "/srv/crash", "ext4", "/dev/mapper/vgcrash-crash"});
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, mounted, "/srv/crash"), "");
    // On the root, or a path only sharing a prefix: none.
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, root_only, "/var/crash"), "");
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, root_only, "/srv/crashes"), "");
    EXPECT_EQ(fstab_mount_not_mounted("", root_only, "/srv/crash"), "");
}

TEST(FstabMountNotMounted, TheLongestMountPointNoautoAndEscapesAsFstabHasThem) {
    constexpr std::string_view kFstab =
        "UUID=1 /srv ext4 defaults 0 2\n"
        "UUID=2 /srv/crash\\040dumps/ xfs defaults 0 2\n"
        "UUID=3 /mnt/usb ext4 noauto,user 0 0\n";
    const std::vector<MountInfoEntry> srv = {{254, 0, "/", "/", "ext4", "/dev/vda"},
                                             {254, 1, "/", "/srv", "ext4", "/dev/vda1"}};
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, srv, "/srv/crash dumps"), "/srv/crash dumps");
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, srv, "/srv/other"), "");
    // noauto: nothing mounts it at boot, so nothing to wait for.
    EXPECT_EQ(fstab_mount_not_mounted(kFstab, srv, "/mnt/usb/crash"), "");
}
