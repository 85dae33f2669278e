#include "initrd-build-plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "fake-sysfs.hpp"

using namespace crashcapture;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

namespace fs = std::filesystem;

constexpr const char* kKernel = "6.1.0-28-amd64";
// As Debian 12's kernels have it: ext2 and ext3 are mounted by ext4.
constexpr const char* kModulesAlias =
    "alias fs-ext4 ext4\nalias fs-ext3 ext4\nalias fs-ext2 ext4\nalias fs-xfs xfs\n";

// A network as the fake probe answers it; every `ip -j` call is recorded.
class FakeNetwork : public NetworkProbe {
  public:
    std::map<std::string, std::string> hosts;   // name -> address
    std::map<std::string, std::string> output;  // "route get 10.0.2.2" -> JSON
    std::vector<std::string> calls;
    int waits = 0;

    std::optional<std::string> resolve_host(const std::string& host) override {
        const auto found = hosts.find(host);
        return found == hosts.end() ? std::nullopt : std::optional(found->second);
    }
    Result<std::string> ip_json(const std::vector<std::string>& arguments) override {
        std::string key;
        for (const auto& word : arguments) {
            key += (key.empty() ? "" : " ") + word;
        }
        calls.push_back(key);
        const auto found = output.find(key);
        if (found == output.end()) {
            return std::string("[]");  // what ip prints when nothing matches
        }
        return found->second;
    }
    void wait_one_second() override { ++waits; }
};

// The Debian installer's LVM layout: vda1 /boot (ext2), vda2 the PV of vg0,
// / on vg0-root (ext4); a virtio NIC eth0 on 10.0.2.15/24.
class InstallerLayout : public crashcapture::test::FakeSysfs {
  protected:
    void SetUp() override {
        FakeSysfs::SetUp();
        disk("vda", "254:0", "virtio_blk");
        partition("vda", "vda1", "254:1");
        partition("vda", "vda2", "254:2");
        dm("dm-0", "253:0", "vg0-root", "LVM-" + std::string(32, 'V') + std::string(32, 'L'),
           {"vda2"});
        uuid("dm-0", "aaaa-root");
        uuid("vda1", "bbbb-boot");
        write("/proc/self/mountinfo",
              "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw\n"
              "25 22 254:1 / /boot rw,relatime shared:2 - ext2 /dev/vda1 rw\n"
              "26 22 0:25 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw\n");
        write("/lib/modules/" + std::string(kKernel) + "/modules.alias", kModulesAlias);
        // eth0: /sys/devices/pci0000:00/0000:00:03.0/virtio0/net/eth0.
        const fs::path pci = fs::path(root_) / "sys/devices/pci0000:00/0000:00:03.0";
        fs::create_directories(pci / "virtio0/net/eth0");
        fs::create_directories(root_ + "/sys/module/virtio_net");
        fs::create_directories(pci / "virtio0/driver");
        fs::create_symlink(root_ + "/sys/module/virtio_net", pci / "virtio0/driver/module");
        fs::create_directories(root_ + "/sys/class/net");
        fs::create_symlink(pci / "virtio0/net/eth0", root_ + "/sys/class/net/eth0");
        fs::create_symlink(pci / "virtio0", pci / "virtio0/net/eth0/device");
        network_.hosts["dumphost"] = "10.0.2.2";
        network_.output["route get 10.0.2.2"] =
            R"([{"dst":"10.0.2.2","dev":"eth0","prefsrc":"10.0.2.15","flags":[]}])";
        network_.output["address show dev eth0"] =
            R"([{"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":)"
            R"([{"family":"inet","local":"10.0.2.15","prefixlen":24,"scope":"global"}]}])";
        network_.output["-d link show"] =
            R"([{"ifindex":2,"ifname":"eth0","address":"52:54:00:12:34:56"}])";
    }

    // A second virtio NIC, eth1, at 0000:00:04.0.
    void second_nic() {
        const fs::path pci = fs::path(root_) / "sys/devices/pci0000:00/0000:00:04.0";
        fs::create_directories(pci / "virtio1/net/eth1");
        fs::create_directories(pci / "virtio1/driver");
        fs::create_symlink(root_ + "/sys/module/virtio_net", pci / "virtio1/driver/module");
        fs::create_symlink(pci / "virtio1/net/eth1", root_ + "/sys/class/net/eth1");
        fs::create_symlink(pci / "virtio1", pci / "virtio1/net/eth1/device");
    }

    Result<InitrdBuildPlan> plan(const std::string& target) {
        Config config;
        auto parsed = parse_target(target);
        EXPECT_TRUE(parsed) << parsed.error().message;
        config.target = *parsed;
        InitrdBuildRequest request;
        request.kernel_version = kKernel;
        request.output = "/var/lib/crashcapture/initrd";
        request.progress = [this](const std::string& what) { progress_.push_back(what); };
        return plan_initrd_build(paths_, config, request, network_);
    }

    static std::string file(const InitrdBuildPlan& plan, const std::string& name) {
        for (const auto& [staged, text] : plan.staged_files) {
            if (staged == name) {
                return text;
            }
        }
        return "(no " + name + ")";
    }
    // The word after `option` in the dracut command, each time it appears.
    static std::vector<std::string> after(const InitrdBuildPlan& plan, const std::string& option) {
        std::vector<std::string> values;
        const auto& words = plan.dracut_command;
        for (size_t i = 0; i + 1 < words.size(); ++i) {
            if (words[i] == option) {
                values.push_back(words[i + 1]);
            }
        }
        return values;
    }

    FakeNetwork network_;
    std::vector<std::string> progress_;
};

}  // namespace

TEST_F(InstallerLayout, RootOnLvmWithASeparateBoot) {
    const auto planned = plan("/var/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    EXPECT_EQ(planned->target.device, "/dev/mapper/vg0-root");
    EXPECT_EQ(planned->target.directory_in_filesystem, "/var/crash");
    ASSERT_TRUE(planned->spare_note);
    EXPECT_EQ(planned->spare_note->source, "UUID=bbbb-boot");
    EXPECT_THAT(after(*planned, "--add-device"),
                ::testing::ElementsAre("/dev/mapper/vg0-root", "/dev/vda1"));
    // ext4 once, for the root and for /boot's ext2; then the stack's.
    EXPECT_THAT(after(*planned, "--drivers"), ::testing::ElementsAre("ext4 dm-mod virtio_blk"));
    EXPECT_THAT(after(*planned, "--kernel-cmdline"), ::testing::ElementsAre("rd.lvm.lv=vg0/root"));
    EXPECT_EQ(planned->temporary_output, "/var/lib/crashcapture/initrd.building");
    EXPECT_EQ(planned->dracut_command.end()[-2], planned->temporary_output);
    const std::string environment = file(*planned, "capture.env");
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_TARGET_SOURCE='UUID=aaaa-root'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_SPARE_NOTE_SOURCE='UUID=bbbb-boot'\n"));
    // The target is the root filesystem: no note there, /boot instead.
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_FAILURE_NOTE_DIRECTORY=''\n"));
    EXPECT_THAT(file(*planned, "capture-actions.conf"), HasSubstr("FailureAction="));
    EXPECT_THAT(planned->destination, HasSubstr("/var/crash on UUID=aaaa-root (ext4)"));
    EXPECT_TRUE(network_.calls.empty());  // a local target needs no network
}

// What the capture's network leads to, for crashcaptured's watch: an ssh
// or nfs target's server; nothing for a local disk (iSCSI: above).
TEST_F(InstallerLayout, TheCapturesNetworkLeadsToARemoteTargetsServerOnly) {
    Config config;
    config.target = *parse_target("nfs:dumphost:/exports/crash");
    EXPECT_EQ(capture_network_destination(paths_, config),
              (CaptureNetworkDestination{"dumphost", "Target=nfs:dumphost:/exports/crash"}));
    config.target = *parse_target("/var/crash");
    EXPECT_EQ(capture_network_destination(paths_, config), std::nullopt);
}

TEST_F(InstallerLayout, ADirectoryOnTmpfsIsRefusedBeforeAnythingRuns) {
    const auto planned = plan("/tmp/crash");
    ASSERT_FALSE(planned);
    EXPECT_THAT(planned.error().message, HasSubstr("tmpfs"));
}

TEST_F(InstallerLayout, NfsTargetGoesOutThroughTheRoutesInterface) {
    const auto planned = plan("nfs:dumphost:/exports/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    ASSERT_TRUE(planned->network);
    EXPECT_EQ(planned->network->interface, "eth0");
    EXPECT_EQ(planned->network->server_address, "10.0.2.2");
    const std::string environment = file(*planned, "capture.env");
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_NFS_SOURCE='dumphost:/exports/crash'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_NET_MAC='52:54:00:12:34:56'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_NET_ADDRESS='10.0.2.15/24'\n"));
    // The NFSv4 client, the root's ext4, then the NIC's driver; the root's
    // stack still comes up (FailureAction=dump-to-rootfs and the notes).
    EXPECT_THAT(after(*planned, "--drivers"),
                ::testing::ElementsAre("nfsv4 ext4 virtio_net dm-mod virtio_blk"));
    EXPECT_THAT(planned->destination, HasSubstr("through eth0 (10.0.2.15/24)"));
    EXPECT_EQ(network_.waits, 0);
    EXPECT_TRUE(progress_.empty());
}

TEST_F(InstallerLayout, SshThroughABondMakesTheBondAgain) {
    second_nic();
    network_.output["route get 10.0.2.2"] =
        R"([{"dst":"10.0.2.2","dev":"bond0","prefsrc":"10.0.2.15","flags":[]}])";
    network_.output["address show dev bond0"] =
        R"([{"ifname":"bond0","address":"aa:bb:cc:00:00:01","addr_info":)"
        R"([{"family":"inet","local":"10.0.2.15","prefixlen":24,"scope":"global"}]}])";
    network_.output["-d link show"] =
        R"([{"ifindex":2,"ifname":"eth0","master":"bond0","address":"aa:bb:cc:00:00:01",)"
        R"("permaddr":"52:54:00:12:34:56"},)"
        R"({"ifindex":3,"ifname":"eth1","master":"bond0","address":"aa:bb:cc:00:00:01",)"
        R"("permaddr":"52:54:00:12:34:57"},)"
        R"({"ifindex":4,"ifname":"bond0","address":"aa:bb:cc:00:00:01","linkinfo":)"
        R"({"info_kind":"bond","info_data":{"mode":"active-backup","miimon":100}}}])";
    const auto planned = plan("nfs:dumphost:/exports/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    ASSERT_TRUE(planned->network);
    EXPECT_EQ(planned->network->interface, "bond0");
    ASSERT_EQ(planned->network->links.size(), 3U);
    // virtio_net once for both NICs, then bonding; the root's stack last.
    EXPECT_THAT(after(*planned, "--drivers"),
                ::testing::ElementsAre("nfsv4 ext4 virtio_net bonding dm-mod virtio_blk"));
    EXPECT_THAT(file(*planned, "capture.env"),
                HasSubstr("CRASHCAPTURE_NET_LINKS='ethernet eth0 52:54:00:12:34:56\n"
                          "ethernet eth1 52:54:00:12:34:57\n"
                          "bond bond0 eth0,eth1 mode active-backup miimon 100'\n"));
    // A port without a device behind it is refused with the reason.
    fs::remove(fs::path(root_) / "sys/devices/pci0000:00/0000:00:04.0/virtio1/net/eth1/device");
    const auto refused = plan("nfs:dumphost:/exports/crash");
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message, HasSubstr("eth1 is a virtual interface with no device"));
}

TEST_F(InstallerLayout, NoRouteWaitsForTheNetworkThenSaysWhy) {
    network_.output.erase("route get 10.0.2.2");
    const auto planned = plan("nfs:dumphost:/exports/crash");
    ASSERT_FALSE(planned);
    EXPECT_THAT(planned.error().message, HasSubstr("no route to 10.0.2.2"));
    EXPECT_EQ(network_.waits, kNetworkWaitSeconds);
    ASSERT_EQ(progress_.size(), 1U);
    EXPECT_THAT(progress_[0], HasSubstr("waiting up to 90s for the network"));
}

TEST_F(InstallerLayout, AServerOnThisMachineIsRefusedAtOnce) {
    network_.output["route get 10.0.2.2"] =
        R"([{"dst":"10.0.2.2","dev":"lo","prefsrc":"127.0.0.1","flags":[]}])";
    network_.output["address show dev lo"] =
        R"([{"ifname":"lo","address":"00:00:00:00:00:00","addr_info":)"
        R"([{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]}])";
    const auto planned = plan("nfs:dumphost:/exports/crash");
    ASSERT_FALSE(planned);
    EXPECT_THAT(planned.error().message, HasSubstr("this machine"));
    EXPECT_EQ(network_.waits, 0);
}

// Target= on an iSCSI LUN (open-iscsi's session over eth0, CHAP): the
// capture sets up eth0 as the system has it, towards the portal, and logs
// in with the session's settings before it waits for the disk.
TEST_F(InstallerLayout, AnIscsiTargetBringsUpTheNetworkToThePortalAndLogsIn) {
    iscsi_disk("sdb", "8:16", 2, 1,
               {{"targetname", "iqn.2026-12.test:dumps"},
                {"tpgt", "1"},
                {"initiatorname", "iqn.2026-12.test:host"},
                {"username", "crashcapture"},
                {"password", "s3cret-s3cret"}},
               "10.0.2.2", "3260", "8:17");
    network_.hosts["10.0.2.2"] = "10.0.2.2";  // a literal address resolves to itself
    uuid("sdb1", "cccc-iscsi");
    write("/proc/self/mountinfo",
          "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw\n"
          "25 22 254:1 / /boot rw,relatime shared:2 - ext2 /dev/vda1 rw\n"
          "27 22 8:17 / /srv/crash rw,relatime shared:3 - ext4 /dev/sdb1 rw\n");
    const auto planned = plan("/srv/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    ASSERT_TRUE(planned->network);
    EXPECT_EQ(planned->network->interface, "eth0");
    EXPECT_THAT(network_.calls, Contains("route get 10.0.2.2"));
    const std::string environment = file(*planned, "capture.env");
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_TARGET_SOURCE='UUID=cccc-iscsi'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_NET_INTERFACE='eth0'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_NET_ADDRESS='10.0.2.15/24'\n"));
    EXPECT_THAT(environment,
                HasSubstr("CRASHCAPTURE_ISCSI_SESSIONS='iqn.2026-12.test:dumps 10.0.2.2 3260 1 "
                          "iqn.2026-12.test:host'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_ISCSI_USERNAME_1='crashcapture'\n"));
    EXPECT_THAT(environment, HasSubstr("CRASHCAPTURE_ISCSI_PASSWORD_1='s3cret-s3cret'\n"));
    EXPECT_THAT(environment, Not(HasSubstr("USERNAME_IN")));
    EXPECT_THAT(after(*planned, "--install"), Contains(HasSubstr("iscsistart")));
    EXPECT_THAT(planned->destination,
                HasSubstr("/ on UUID=cccc-iscsi (ext4), iSCSI iqn.2026-12.test:dumps at "
                          "10.0.2.2:3260 through eth0 (10.0.2.15/24)"));
    // crashcaptured watches the way to the portal (a new lease rebuilds).
    Config config;
    config.target = *parse_target("/srv/crash");
    EXPECT_EQ(capture_network_destination(paths_, config),
              (CaptureNetworkDestination{
                  "10.0.2.2", "the iSCSI portal 10.0.2.2:3260 of iqn.2026-12.test:dumps"}));
    ASSERT_EQ(after(*planned, "--drivers").size(), 1u);
    const std::string drivers = after(*planned, "--drivers")[0];
    for (const char* module : {"iscsi_tcp", "sd_mod", "virtio_net"}) {
        EXPECT_THAT(drivers, HasSubstr(module));
    }
}

// The root on iSCSI with an nfs target: the capture's one network is the
// NFS server's; refused, saying what to do instead.
TEST_F(InstallerLayout, RootOnIscsiWithANetworkTargetIsRefused) {
    iscsi_disk("sdb", "8:16", 2, 1,
               {{"targetname", "iqn.2026-12.test:root"},
                {"tpgt", "1"},
                {"initiatorname", "iqn.2026-12.test:host"}},
               "10.0.2.2", "3260", "8:17");
    uuid("sdb1", "cccc-iscsi");
    write("/proc/self/mountinfo", "22 1 8:17 / / rw,relatime shared:1 - ext4 /dev/sdb1 rw\n");
    const auto planned = plan("nfs:dumphost:/exports/crash");
    ASSERT_FALSE(planned);
    EXPECT_THAT(planned.error().message, HasSubstr("the root filesystem is on an iSCSI disk"));
    EXPECT_THAT(planned.error().message, HasSubstr("iqn.2026-12.test:root"));
}

TEST_F(InstallerLayout, SshTargetWithoutTheCapturesKeySaysToPropagate) {
    const auto planned = plan("ssh://dump@dumphost/srv/crash");
    ASSERT_FALSE(planned);
    EXPECT_THAT(planned.error().message, HasSubstr("crashcapturectl propagate"));
    EXPECT_THAT(network_.calls, Not(Contains("route get 10.0.2.2")));
}

TEST_F(InstallerLayout, SquashedWhenDracutSquashfsToolsAndTheKernelAllowIt) {
    const std::string modules = "/lib/modules/" + std::string(kKernel);
    const auto why = [&] { return squash_unavailable_reason(paths_, kKernel).value_or("none"); };
    EXPECT_THAT(why(), HasSubstr("dracut-squash"));
    auto planned = plan("/var/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    EXPECT_FALSE(planned->squash);
    EXPECT_THAT(planned->squash_missing, HasSubstr("squash module is not installed"));
    EXPECT_THAT(after(*planned, "--modules"), Not(Contains(HasSubstr("squash"))));

    write("/usr/lib/dracut/modules.d/99squash/module-setup.sh", "#!/bin/bash\n");
    EXPECT_THAT(why(), HasSubstr("mksquashfs is not installed (squashfs-tools)"));
    write("/usr/bin/mksquashfs", "");
    write("/usr/bin/unsquashfs", "");
    // Debian 6.1: squashfs and overlay as modules, loop too; 6.12
    // compresses them (.ko.xz). One missing is named.
    write(modules + "/modules.dep",
          "kernel/fs/squashfs/squashfs.ko:\nkernel/drivers/block/loop.ko:\n");
    EXPECT_EQ(why(), "kernel 6.1.0-28-amd64 has no overlay module");
    write(modules + "/modules.builtin", "kernel/fs/overlayfs/overlay.ko.xz\n");
    EXPECT_EQ(why(), "none");
    // A kernel config that lacks zstd in squashfs is believed; no config
    // file at all is not a reason.
    write("/boot/config-" + std::string(kKernel),
          "CONFIG_SQUASHFS=m\n# CONFIG_SQUASHFS_ZSTD is not set\n");
    EXPECT_THAT(why(), HasSubstr("CONFIG_SQUASHFS_ZSTD"));
    write("/boot/config-" + std::string(kKernel), "CONFIG_SQUASHFS=m\nCONFIG_SQUASHFS_ZSTD=y\n");
    planned = plan("/var/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    EXPECT_TRUE(planned->squash);
    EXPECT_EQ(planned->squash_missing, "");
    EXPECT_THAT(after(*planned, "--modules"), Contains(HasSubstr(" squash")));
    EXPECT_THAT(after(*planned, "--squash-compressor"), ::testing::ElementsAre("zstd"));
    // dracut's loader is busybox when there is one, else sh, kmod and
    // mount with their libraries: the plan says what that costs.
    EXPECT_THAT(planned->notes, Contains(HasSubstr("no busybox")));
    write("/usr/bin/busybox", "");
    fs::permissions(root_ + "/usr/bin/busybox", fs::perms::owner_exec, fs::perm_options::add);
    planned = plan("/var/crash");
    ASSERT_TRUE(planned) << planned.error().message;
    EXPECT_THAT(planned->notes, Not(Contains(HasSubstr("busybox"))));
}
