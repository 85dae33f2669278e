#include "block-stack.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "dracut-command.hpp"
#include "fake-sysfs.hpp"

using namespace crashcapture;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

namespace {

namespace fs = std::filesystem;

const std::string kVgUuid(32, 'V');
const std::string kLvUuid(32, 'L');
const std::string kLvmUuid = "LVM-" + kVgUuid + kLvUuid;

using FakeSysfs = crashcapture::test::FakeSysfs;

}  // namespace

TEST(SplitLvmDmName, SplitsAtTheSingleDashAndUndoublesTheOthers) {
    EXPECT_EQ(split_lvm_dm_name("vg0-root"),
              std::make_pair(std::string("vg0"), std::string("root")));
    EXPECT_EQ(split_lvm_dm_name("my--vg-my--lv"),
              std::make_pair(std::string("my-vg"), std::string("my-lv")));
    EXPECT_EQ(split_lvm_dm_name("nodash"), std::make_pair(std::string(), std::string()));
}

TEST_F(FakeSysfs, RootOnLvmLinearNeedsDmLvmAndActivatesJustThatVolume) {
    disk("vda", "254:0", "virtio_blk");
    partition("vda", "vda3", "254:3");
    dm("dm-0", "253:0", "vg0-root", kLvmUuid, {"vda3"});
    const auto stack = block_stack(paths_, 253, 0);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(stack->layers, ElementsAre(BlockLayer{"dm-0", "lvm", "vg0/root"},
                                           BlockLayer{"vda3", "partition", ""},
                                           BlockLayer{"vda", "disk", "virtio_blk"}));
    EXPECT_THAT(stack->dracut_modules, UnorderedElementsAre("dm", "lvm", "dracut-systemd"));
    EXPECT_THAT(stack->kernel_modules, UnorderedElementsAre("dm-mod", "virtio_blk"));
    EXPECT_THAT(stack->programs, UnorderedElementsAre("lvm", "dmsetup"));
    EXPECT_THAT(stack->kernel_arguments, ElementsAre("rd.lvm.lv=vg0/root"));
    EXPECT_THAT(stack->unsupported, IsEmpty());
    EXPECT_EQ(stack->udev_rules.size(), 4u);
}

TEST_F(FakeSysfs, LvmOnMdRaid1NeedsBothAndNamesTheArray) {
    disk("vda", "254:0", "virtio_blk");
    disk("vdb", "254:16", "virtio_blk");
    partition("vda", "vda2", "254:2");
    partition("vdb", "vdb2", "254:18");
    md("md0", "9:0", "raid1", {"vda2", "vdb2"});
    dm("dm-0", "253:0", "vg0-root", kLvmUuid, {"md0"});
    const auto stack = block_stack(paths_, 253, 0);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(
        stack->layers,
        ElementsAre(BlockLayer{"dm-0", "lvm", "vg0/root"}, BlockLayer{"md0", "md", "raid1"},
                    BlockLayer{"vda2", "partition", ""}, BlockLayer{"vda", "disk", "virtio_blk"},
                    BlockLayer{"vdb2", "partition", ""}, BlockLayer{"vdb", "disk", "virtio_blk"}));
    EXPECT_THAT(stack->dracut_modules,
                UnorderedElementsAre("dm", "lvm", "dracut-systemd", "mdraid"));
    EXPECT_THAT(stack->kernel_modules,
                UnorderedElementsAre("dm-mod", "md-mod", "raid1", "virtio_blk"));
    EXPECT_THAT(stack->programs, UnorderedElementsAre("lvm", "dmsetup", "mdadm"));
    EXPECT_THAT(stack->kernel_arguments,
                UnorderedElementsAre("rd.lvm.lv=vg0/root",
                                     "rd.md.uuid=3f1a2b4c-5d6e-7f80-9a1b-2c3d4e5f6071"));
    EXPECT_THAT(stack->unsupported, IsEmpty());
}

TEST_F(FakeSysfs, PlainPartitionNeedsOnlyItsDiskDriver) {
    disk("vda", "254:0", "virtio_blk");
    partition("vda", "vda1", "254:1");
    const auto stack = block_stack(paths_, 254, 1);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(stack->layers, ElementsAre(BlockLayer{"vda1", "partition", ""},
                                           BlockLayer{"vda", "disk", "virtio_blk"}));
    EXPECT_THAT(stack->dracut_modules, IsEmpty());
    EXPECT_THAT(stack->kernel_modules, ElementsAre("virtio_blk"));
    EXPECT_THAT(stack->programs, IsEmpty());
    EXPECT_THAT(stack->udev_rules, IsEmpty());
    EXPECT_THAT(stack->kernel_arguments, IsEmpty());
}

// A SATA disk as sysfs lays it out: the block device under its SCSI device
// (driver sd), under the ATA port, under the AHCI controller's PCI function
// (drivers/scsi/sd.c, drivers/ata/ahci.c). The capture initrd gets dracut's
// exclusive --drivers list, so the controller's driver must be named too.
TEST_F(FakeSysfs, ADiskNeedsTheDriversOfTheBusesItHangsFrom) {
    const fs::path controller = fs::path(root_) / "sys/devices/pci0000:00/0000:00:1f.2";
    const fs::path scsi = controller / "ata1/host0/target0:0:0/0:0:0:0";
    const fs::path block = scsi / "block/sda";
    fs::create_directories(block / "sda1");
    std::ofstream(block / "uevent") << "DEVNAME=sda\n";
    std::ofstream(block / "sda1/uevent") << "DEVNAME=sda1\n";
    std::ofstream(block / "sda1/partition") << "1\n";
    fs::create_symlink("../../../0:0:0:0", block / "device");
    for (const auto& [device, module] : {std::pair{scsi, "sd_mod"}, {controller, "ahci"}}) {
        fs::create_directories(device / "driver");
        fs::create_symlink(std::string("../../../module/") + module, device / "driver/module");
    }
    // The host and the port have no driver of their own (no driver/ link).
    fs::create_directories(fs::path(root_) / "sys/dev/block");
    fs::create_symlink(block / "sda1", fs::path(root_) / "sys/dev/block/8:1");
    fs::create_directories(fs::path(root_) / "sys/class/block");
    fs::create_symlink(block, fs::path(root_) / "sys/class/block/sda");
    const auto stack = block_stack(paths_, 8, 1);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(stack->layers, ElementsAre(BlockLayer{"sda1", "partition", ""},
                                           BlockLayer{"sda", "disk", "sd_mod"}));
    EXPECT_THAT(stack->kernel_modules, ElementsAre("sd_mod", "ahci"));
}

TEST_F(FakeSysfs, ThinVolumeNeedsThePoolDriverAndActivatesOnlyTheVolume) {
    disk("vda", "254:0", "virtio_blk");
    dm("dm-0", "253:0", "vg0-pool_tdata", kLvmUuid + "-tdata", {"vda"});
    dm("dm-1", "253:1", "vg0-pool-tpool", kLvmUuid + "-tpool", {"dm-0"});
    dm("dm-2", "253:2", "vg0-thin", "LVM-" + kVgUuid + std::string(32, 'T'), {"dm-1"});
    const auto stack = block_stack(paths_, 253, 2);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(stack->kernel_modules, Contains("dm-thin-pool"));
    EXPECT_THAT(stack->programs, Contains("thin_check"));
    EXPECT_THAT(stack->kernel_arguments, ElementsAre("rd.lvm.lv=vg0/thin"));
    EXPECT_THAT(stack->unsupported, IsEmpty());
}

TEST_F(FakeSysfs, DmCryptIsRefusedByName) {
    disk("vda", "254:0", "virtio_blk");
    partition("vda", "vda3", "254:3");
    dm("dm-0", "253:0", "luks-1234", "CRYPT-LUKS2-1234abcd-luks-1234", {"vda3"});
    dm("dm-1", "253:1", "vg0-root", kLvmUuid, {"dm-0"});
    const auto stack = block_stack(paths_, 253, 1);
    ASSERT_TRUE(stack) << stack.error().message;
    ASSERT_EQ(stack->unsupported.size(), 1u);
    EXPECT_THAT(stack->unsupported[0], HasSubstr("dm-0 (luks-1234): dm-crypt"));
    // The reason, and the way out.
    EXPECT_THAT(stack->unsupported[0], HasSubstr("only from Linux 6.16"));
    EXPECT_THAT(stack->unsupported[0], HasSubstr("set Target="));
}

// The session an administrator's open-iscsi made: software initiator, CHAP.
const std::vector<std::pair<std::string, std::string>> kIscsiAttributes = {
    {"targetname", "iqn.2026-12.test:dumps"},
    {"tpgt", "1"},
    {"initiatorname", "iqn.2026-12.test:host"},
    {"username", "crashcapture"},
    {"password", "secret with 'quote"},
    {"username_in", "(null)"},  // libiscsi's print of an unset string
    {"password_in", "(null)"},
};

// An iSCSI LUN (a partition on it): the capture logs in to the session
// again, with what sysfs shows of it; the disk's drivers are the software
// initiator's and sd_mod, and iscsistart does the login.
TEST_F(FakeSysfs, AnIscsiDiskIsLoggedInToAgainWithTheSessionsSettings) {
    iscsi_disk("sdb", "8:16", 3, 1, kIscsiAttributes, "10.0.2.2", "3260", "8:17");
    const auto stack = block_stack(paths_, 8, 17);
    ASSERT_TRUE(stack) << stack.error().message;
    EXPECT_THAT(stack->unsupported, IsEmpty());
    ASSERT_EQ(stack->iscsi_sessions.size(), 1u);
    const IscsiSession& session = stack->iscsi_sessions[0];
    EXPECT_EQ(session.session, "session1");
    EXPECT_EQ(session.target, "iqn.2026-12.test:dumps");
    EXPECT_EQ(session.initiator, "iqn.2026-12.test:host");
    EXPECT_EQ(session.tpgt, "1");
    EXPECT_EQ(session.address, "10.0.2.2");
    EXPECT_EQ(session.port, "3260");
    EXPECT_EQ(session.username, "crashcapture");
    EXPECT_EQ(session.password, "secret with 'quote");
    EXPECT_EQ(session.username_in, "");
    EXPECT_EQ(session.password_in, "");
    EXPECT_THAT(stack->kernel_modules, UnorderedElementsAre("iscsi_tcp", "sd_mod"));
    EXPECT_THAT(stack->programs, ElementsAre("iscsistart"));
    EXPECT_THAT(stack->layers,
                ElementsAre(BlockLayer{"sdb1", "partition", ""},
                            BlockLayer{"sdb", "disk", "iscsi session1 iqn.2026-12.test:dumps"}));

    // Two filesystems on the same session: one login.
    auto merged = *stack;
    merge_block_stack(merged, *block_stack(paths_, 8, 16));
    EXPECT_EQ(merged.iscsi_sessions.size(), 1u);
}

// An offload adapter logs in with its own firmware (not iscsistart's job);
// an attribute the capture could not pass to iscsistart as one word; an
// NVMe over Fabrics namespace: each refused, naming the disk and why.
TEST_F(FakeSysfs, IscsiTheCaptureCannotRedoAndNvmeOverFabricsAreRefusedByName) {
    iscsi_disk("sdb", "8:16", 3, 1, kIscsiAttributes, "10.0.2.2", "3260", "", "qla4xxx");
    const auto offload = block_stack(paths_, 8, 16);
    ASSERT_TRUE(offload) << offload.error().message;
    ASSERT_EQ(offload->unsupported.size(), 1u);
    EXPECT_THAT(offload->unsupported[0],
                HasSubstr("sdb: an iSCSI disk (session1) through qla4xxx"));
    EXPECT_THAT(offload->unsupported[0], HasSubstr("set Target="));
    EXPECT_THAT(offload->iscsi_sessions, IsEmpty());

    auto odd = kIscsiAttributes;
    odd[0].second = "iqn.2026-12.test:dumps $(reboot)";
    iscsi_disk("sdc", "8:32", 4, 2, odd, "10.0.2.2", "3260");
    const auto unsafe = block_stack(paths_, 8, 32);
    ASSERT_TRUE(unsafe) << unsafe.error().message;
    ASSERT_EQ(unsafe->unsupported.size(), 1u);
    EXPECT_THAT(unsafe->unsupported[0],
                HasSubstr("sdc: an iSCSI disk (session2) whose target name"));

    iscsi_disk("sdd", "8:48", 5, 3, kIscsiAttributes, "", "");
    const auto no_portal = block_stack(paths_, 8, 48);
    ASSERT_TRUE(no_portal) << no_portal.error().message;
    ASSERT_EQ(no_portal->unsupported.size(), 1u);
    EXPECT_THAT(no_portal->unsupported[0], HasSubstr("portal address"));

    const std::string nvme = "devices/virtual/nvme-fabrics/ctl/nvme1/nvme1n1";
    write("/sys/" + nvme + "/uevent", "MAJOR=259\nDEVNAME=nvme1n1\n");
    fs::create_symlink("../../" + nvme, root_ + "/sys/dev/block/259:4");
    const auto fabrics = block_stack(paths_, 259, 4);
    ASSERT_TRUE(fabrics) << fabrics.error().message;
    ASSERT_EQ(fabrics->unsupported.size(), 1u);
    EXPECT_THAT(fabrics->unsupported[0], HasSubstr("nvme1n1: an NVMe over Fabrics disk"));

    // A local disk is not: PlainPartitionNeedsOnlyItsDiskDriver.
    disk("vda", "254:0", "virtio_blk");
    const auto local = block_stack(paths_, 254, 0);
    ASSERT_TRUE(local);
    EXPECT_THAT(local->unsupported, IsEmpty());
}

TEST_F(FakeSysfs, AMissingDeviceIsAnError) {
    EXPECT_FALSE(block_stack(paths_, 8, 0));
}

TEST_F(FakeSysfs, FromMountinfoRootOnLvmAndTmpfsHasNoStack) {
    disk("vda", "254:0", "virtio_blk");
    partition("vda", "vda3", "254:3");
    dm("dm-0", "253:0", "vg0-root", kLvmUuid, {"vda3"});
    constexpr std::string_view kMountinfo =
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw\n"
        "24 22 0:25 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw\n";
    const auto root = block_stack_for_directory(paths_, kMountinfo, "/var/crash");
    ASSERT_TRUE(root) << root.error().message;
    EXPECT_THAT(root->kernel_arguments, ElementsAre("rd.lvm.lv=vg0/root"));
    const auto tmp = block_stack_for_directory(paths_, kMountinfo, "/tmp/x");
    ASSERT_TRUE(tmp) << tmp.error().message;
    EXPECT_THAT(tmp->layers, IsEmpty());
}

TEST_F(FakeSysfs, MergeKeepsEachRequirementOnce) {
    disk("vda", "254:0", "virtio_blk");
    partition("vda", "vda1", "254:1");
    partition("vda", "vda3", "254:3");
    dm("dm-0", "253:0", "vg0-root", kLvmUuid, {"vda3"});
    auto root = block_stack(paths_, 253, 0);
    const auto target = block_stack(paths_, 254, 1);
    ASSERT_TRUE(root && target);
    merge_block_stack(*root, *target);
    EXPECT_THAT(root->kernel_modules, UnorderedElementsAre("dm-mod", "virtio_blk"));
    EXPECT_EQ(root->layers.size(), 4u);  // dm-0 vda3 vda vda1
}

namespace {

BlockStack lvm_stack() {
    BlockStack stack;
    stack.kernel_modules = {"dm-mod", "virtio_blk"};
    stack.programs = {"lvm", "dmsetup"};
    stack.udev_rules = {{"udev rule 55-dm.rules", {"55-dm.rules", "10-dm.rules"}},
                        {"udev rule 64-lvm.rules", {"64-lvm.rules"}}};
    stack.dracut_modules = {"dm", "lvm", "dracut-systemd"};
    stack.kernel_arguments = {"rd.lvm.lv=vg0/root"};
    return stack;
}

}  // namespace

TEST(MissingFromImage, AWholeImageLacksNothing) {
    const std::vector<std::string> image = {
        "usr/lib/modules/6.1.0-28-amd64/kernel/drivers/md/dm-mod.ko.xz",
        "usr/lib/modules/6.1.0-28-amd64/kernel/drivers/block/virtio_blk.ko",
        "usr/sbin/lvm",
        "usr/sbin/dmsetup",
        "usr/lib/udev/rules.d/55-dm.rules",
        "usr/lib/udev/rules.d/64-lvm.rules",
    };
    EXPECT_THAT(missing_from_image(lvm_stack(), image), IsEmpty());
}

TEST(MissingFromImage, NamesEveryMissingItem) {
    // What the capture initrd held before issue 23 was fixed: no dm, no lvm.
    const std::vector<std::string> image = {
        "usr/lib/modules/6.1.0-28-amd64/kernel/drivers/block/virtio_blk.ko.xz",
        "usr/sbin/dmsetup",
        "usr/lib/udev/rules.d/10-dm.rules",
        "etc/lvm/lvm.conf",  // not the program
        "usr/lib/udev/rules.d.bak/64-lvm.rules",
    };
    EXPECT_THAT(missing_from_image(lvm_stack(), image),
                ElementsAre("kernel module dm-mod", "program lvm", "udev rule 64-lvm.rules"));
}

TEST(MissingFromImage, ABuiltinModuleNeedsNoFile) {
    const std::vector<std::string> image = {"usr/sbin/lvm", "usr/sbin/dmsetup",
                                            "usr/lib/udev/rules.d/55-dm.rules",
                                            "usr/lib/udev/rules.d/64-lvm.rules"};
    EXPECT_THAT(
        missing_from_image(lvm_stack(), image,
                           {"kernel/drivers/md/dm-mod.ko", "kernel/drivers/block/virtio_blk.ko"}),
        IsEmpty());
}

TEST(DracutCommand, RootOnLvmAddsTheStackModulesDriversAndActivation) {
    DracutInvocation invocation;
    invocation.conf = "/usr/lib/crashcapture/dracut.conf";
    invocation.confdir = "/usr/lib/crashcapture/dracut.conf.d";
    invocation.kernel_version = "6.1.0-28-amd64";
    invocation.output = "/var/lib/crashcapture/initrd.building";
    invocation.root_device = "/dev/mapper/vg0-root";
    invocation.drivers = {"ext4"};
    invocation.stack = lvm_stack();
    EXPECT_THAT(
        dracut_command(invocation),
        ElementsAre("dracut", "--force", "--conf", "/usr/lib/crashcapture/dracut.conf", "--confdir",
                    "/usr/lib/crashcapture/dracut.conf.d", "--modules",
                    std::string(kCaptureDracutModules) + " dm lvm dracut-systemd", "--add-device",
                    "/dev/mapper/vg0-root", "--drivers", "ext4 dm-mod virtio_blk", "--kver",
                    "6.1.0-28-amd64", "--tmpdir", "/tmp", "--install", "lvm dmsetup",
                    "--kernel-cmdline", "rd.lvm.lv=vg0/root", "--quiet",
                    "/var/lib/crashcapture/initrd.building", "6.1.0-28-amd64"));
}

TEST(DracutCommand, PlainPartitionKeepsTheFixedModulesAndNoCmdline) {
    DracutInvocation invocation;
    invocation.kernel_version = "6.1.0-28-amd64";
    invocation.output = "out";
    invocation.root_device = "/dev/vda1";
    invocation.target_device = "/dev/vdb1";
    invocation.drivers = {"xfs", "ext4"};
    invocation.stack.kernel_modules = {"virtio_blk"};
    const auto command = dracut_command(invocation);
    EXPECT_THAT(command, Contains(std::string(kCaptureDracutModules)));
    EXPECT_THAT(command, Contains("xfs ext4 virtio_blk"));
    EXPECT_THAT(command, Contains("/dev/vdb1"));
    EXPECT_THAT(command, ::testing::Not(Contains("--kernel-cmdline")));
    EXPECT_THAT(command, ::testing::Not(Contains("--install")));
}

TEST(DracutCommand, AThinVolumesToolsAreNamedToDracut) {
    // dracut's 90lvm installs thin_check only when its own hostonly probe
    // finds a thin volume; the builder names the stack's programs itself.
    DracutInvocation invocation;
    invocation.kernel_version = "6.1.0-28-amd64";
    invocation.output = "out";
    invocation.root_device = "/dev/vda1";
    invocation.target_device = "/dev/mapper/vgcrash-crash";
    invocation.stack = lvm_stack();
    invocation.stack.programs.push_back("thin_check");
    const auto command = dracut_command(invocation);
    const auto option = std::find(command.begin(), command.end(), "--install");
    ASSERT_NE(option, command.end());
    EXPECT_EQ(option[1], "lvm dmsetup thin_check");
}

TEST(DracutCommand, ASeparateBootIsAddedOnceBesideRootAndTarget) {
    DracutInvocation invocation;
    invocation.kernel_version = "6.1.0-28-amd64";
    invocation.output = "out";
    invocation.root_device = "/dev/mapper/vg0-root";
    invocation.extra_devices = {"/dev/vda1", "/dev/mapper/vg0-root"};
    const auto command = dracut_command(invocation);
    EXPECT_EQ(std::count(command.begin(), command.end(), "--add-device"), 2);
    EXPECT_THAT(command, Contains("/dev/vda1"));
}

TEST(DracutCommand, SquashAddsDracutsSquashModuleWithZstd) {
    DracutInvocation invocation;
    invocation.kernel_version = "6.1.0-28-amd64";
    invocation.output = "out";
    invocation.root_device = "/dev/vda1";
    invocation.stack = lvm_stack();
    const auto plain = dracut_command(invocation);
    EXPECT_THAT(plain, Contains(std::string(kCaptureDracutModules) + " dm lvm dracut-systemd"));
    EXPECT_THAT(plain, ::testing::Not(Contains("--squash-compressor")));
    invocation.squash = true;
    const auto squashed = dracut_command(invocation);
    EXPECT_THAT(squashed,
                Contains(std::string(kCaptureDracutModules) + " dm lvm dracut-systemd squash"));
    const auto option = std::find(squashed.begin(), squashed.end(), "--squash-compressor");
    ASSERT_NE(option, squashed.end());
    EXPECT_EQ(option[1], "zstd");
    // The output and the release stay the last two words.
    EXPECT_EQ(squashed.end()[-2], "out");
}

TEST(FilesystemModule, FoundByItsFsAliasElseItsOwnName) {
    // As Debian 12's 6.1 modules.alias has them.
    constexpr std::string_view kAliases =
        "alias fs-ext4 ext4\n"
        "alias fs-ext3 ext4\n"
        "alias fs-ext2 ext4\n"
        "alias fs-xfs xfs\n"
        "alias fs-vfat vfat\n";
    EXPECT_EQ(filesystem_module(kAliases, "ext2"), "ext4");
    EXPECT_EQ(filesystem_module(kAliases, "ext3"), "ext4");
    EXPECT_EQ(filesystem_module(kAliases, "xfs"), "xfs");
    // "fs-ext" must not match "fs-ext4".
    EXPECT_EQ(filesystem_module(kAliases, "ext"), "ext");
    EXPECT_EQ(filesystem_module(kAliases, "btrfs"), "btrfs");
    EXPECT_EQ(filesystem_module("", "ext2"), "ext2");
    EXPECT_EQ(filesystem_module("alias fs-ext2 \n", "ext2"), "ext2");
}
