#include "remote-target.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "initrd-plan.hpp"
#include "process.hpp"
#include "spawn-semantics.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

Target ssh_target(std::string_view text) {
    auto target = parse_target(text);
    EXPECT_TRUE(target) << (target ? "" : target.error().message);
    return target ? *target : Target{};
}

// What iproute2 6.1 prints (ip -j route get 10.0.2.2; ip -j route show
// default; ip -j address show dev eth0), trimmed.
constexpr std::string_view kRouteOnLink =
    R"([{"dst":"10.0.2.2","dev":"eth0","prefsrc":"10.0.2.15","flags":[],"uid":0,"cache":[]}])";
constexpr std::string_view kRouteViaGateway =
    R"([{"dst":"default","gateway":"192.168.1.1","dev":"enp3s0","protocol":"dhcp","flags":[]}])";
constexpr std::string_view kAddresses =
    R"([{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],)"
    R"("mtu":1500,"link_type":"ether","address":"52:54:00:12:34:56",)"
    R"("addr_info":[{"family":"inet","local":"10.0.2.99","prefixlen":8,"scope":"global"},)"
    R"({"family":"inet","local":"10.0.2.15","prefixlen":24,"scope":"global"},)"
    R"({"family":"inet6","local":"fe80::5054:ff:fe12:3456","prefixlen":64,"scope":"link"}]}])";

}  // namespace

TEST(SshTarget, OptionsUseOnlyTheCapturesKeyAndPinnedHostKey) {
    const auto options = ssh_options(ssh_target("ssh://dump@backup:2222/srv/crash"), kSshKeyPath,
                                     kSshKnownHostsPath);
    const std::string joined = fmt::format("{}", fmt::join(options, " "));
    EXPECT_THAT(joined, HasSubstr("-i /etc/crashcapture/ssh/id_ed25519"));
    EXPECT_THAT(joined, HasSubstr("-o BatchMode=yes"));
    EXPECT_THAT(joined, HasSubstr("-o StrictHostKeyChecking=yes"));
    EXPECT_THAT(joined, HasSubstr("-o UserKnownHostsFile=/etc/crashcapture/ssh/known_hosts"));
    EXPECT_THAT(joined, HasSubstr("-o IdentitiesOnly=yes"));
    EXPECT_EQ(options[options.size() - 2], "-p");
    EXPECT_EQ(options.back(), "2222");
    EXPECT_EQ(ssh_destination(ssh_target("ssh://dump@backup:2222/srv/crash")), "dump@backup");
    // No port: ssh's own default, no -p.
    const auto defaults = ssh_options(ssh_target("ssh://backup/srv/crash"), "k", "h");
    EXPECT_EQ(std::count(defaults.begin(), defaults.end(), "-p"), 0);
    EXPECT_EQ(ssh_destination(ssh_target("ssh://backup/srv/crash")), "backup");
}

TEST(SshTarget, ParsesRoutesOnTheLinkAndThroughAGateway) {
    auto on_link = parse_ip_route(kRouteOnLink);
    ASSERT_TRUE(on_link) << on_link.error().message;
    EXPECT_EQ(*on_link, (Route{"eth0", "", "10.0.2.15"}));
    auto via = parse_ip_route(kRouteViaGateway);
    ASSERT_TRUE(via) << via.error().message;
    EXPECT_EQ(*via, (Route{"enp3s0", "192.168.1.1", ""}));
    EXPECT_FALSE(parse_ip_route("[]"));
    EXPECT_FALSE(parse_ip_route("RTNETLINK answers: Network is unreachable"));
    EXPECT_FALSE(parse_ip_route(R"([{"dst":"10.0.0.1"}])"));
}

TEST(SshTarget, NetworkTakesTheRoutesSourceAddressAndTheMac) {
    auto network = capture_network_from(Route{"eth0", "", "10.0.2.15"}, kAddresses);
    ASSERT_TRUE(network) << network.error().message;
    EXPECT_EQ(network->interface, "eth0");
    EXPECT_EQ(network->mac, "52:54:00:12:34:56");
    EXPECT_EQ(network->address, "10.0.2.15/24");
    EXPECT_EQ(network->gateway, "");
    // No prefsrc: the first global IPv4 address.
    network = capture_network_from(Route{"eth0", "10.0.0.1", ""}, kAddresses);
    ASSERT_TRUE(network);
    EXPECT_EQ(network->address, "10.0.2.99/8");
    EXPECT_EQ(network->gateway, "10.0.0.1");
    // An IPv6 route and only a link-local IPv6 address: nothing to use.
    EXPECT_THAT(capture_network_from(Route{"eth0", "fe80::1", ""}, kAddresses).error().message,
                HasSubstr("no IPv6 address"));
    // The server is this machine.
    EXPECT_THAT(capture_network_from(Route{"lo", "", "127.0.0.1"}, kAddresses).error().message,
                HasSubstr("this machine"));
    EXPECT_FALSE(capture_network_from(Route{"eth0", "", ""}, "[]"));
}

TEST(SshTarget, MembersOfAnotherTypeAreErrorsNotExceptions) {
    // Found by fuzz-ip-route: value("prefsrc", "") threw type_error 302 on
    // "prefsrc":[], out of the daemon's arming code.
    auto route = parse_ip_route(R"([{"dst":"10.0.2.2","dev":"eth0","prefsrc":[]}])");
    ASSERT_FALSE(route);
    EXPECT_THAT(route.error().message, HasSubstr("unexpected shape"));
    EXPECT_FALSE(parse_ip_route(R"([{"dev":7}])"));

    auto good = parse_ip_route(kRouteOnLink);
    ASSERT_TRUE(good);
    for (const char* addresses :
         {R"([{"ifname":"eth0","address":["52:54:00:12:34:56"]}])",
          R"([{"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":[{"family":"inet",)"
          R"("local":"10.0.2.15","prefixlen":"24","scope":"global"}]}])",
          // Found by fuzz-ip-route: a prefix length too big for an int went
          // through a float-to-int cast (UBSan: float-cast-overflow).
          R"([{"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":[{"family":"inet",)"
          R"("local":"10.0.2.15","prefixlen":288888888888888888888884,"scope":"global"}]}])",
          R"([{"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":[{"family":"inet",)"
          R"("local":"10.0.2.15","prefixlen":33,"scope":"global"}]}])",
          R"([{"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":[{"family":"inet",)"
          R"("local":"10.0.2.15","scope":"global"}]}])"}) {
        auto network = capture_network_from(*good, addresses);
        ASSERT_FALSE(network) << addresses;
        EXPECT_THAT(network.error().message, HasSubstr("unexpected shape")) << addresses;
    }
}

TEST(SshTarget, DriversOfTheInterfaceAndItsBus) {
    TempDir root;
    namespace fs = std::filesystem;
    // /sys/devices/pci0000:00/0000:00:03.0/virtio0/net/eth0, as on a QEMU
    // guest: virtio0 driven by virtio_net, the PCI function by virtio_pci.
    const std::string pci = root.file("sys/devices/pci0000:00/0000:00:03.0");
    const std::string virtio = pci + "/virtio0";
    fs::create_directories(virtio + "/net/eth0");
    fs::create_directories(root.file("sys/bus/virtio/drivers/virtio_net"));
    fs::create_directories(root.file("sys/bus/pci/drivers/virtio-pci"));
    fs::create_directories(root.file("sys/module/virtio_net"));
    fs::create_directories(root.file("sys/module/virtio_pci"));
    fs::create_symlink(root.file("sys/bus/virtio/drivers/virtio_net"), virtio + "/driver");
    fs::create_symlink(root.file("sys/module/virtio_net"),
                       root.file("sys/bus/virtio/drivers/virtio_net/module"));
    fs::create_symlink(root.file("sys/bus/pci/drivers/virtio-pci"), pci + "/driver");
    fs::create_symlink(root.file("sys/module/virtio_pci"),
                       root.file("sys/bus/pci/drivers/virtio-pci/module"));
    fs::create_directories(root.file("sys/class/net"));
    fs::create_symlink(virtio + "/net/eth0", root.file("sys/class/net/eth0"));
    fs::create_symlink(virtio, virtio + "/net/eth0/device");
    const auto paths = SystemPaths::under(root.path());
    auto drivers = network_device_drivers(paths, "eth0");
    ASSERT_TRUE(drivers) << drivers.error().message;
    EXPECT_THAT(*drivers, ElementsAre("virtio_net", "virtio_pci"));
    // A virtual interface (no device link): nothing the capture could set up.
    fs::create_directories(root.file("sys/devices/virtual/net/br0"));
    fs::create_symlink(root.file("sys/devices/virtual/net/br0"), root.file("sys/class/net/br0"));
    auto bridge = network_device_drivers(paths, "br0");
    ASSERT_FALSE(bridge);
    EXPECT_THAT(bridge.error().message, HasSubstr("virtual interface with no device"));
}

namespace {

// `ip -j -d link show` on a KVM host (iproute2 6.1's shape, trimmed): two
// virtio NICs in an active-backup bond (their current address is the
// bond's, permaddr their own), VLAN 10 on the bond, a bridge over the VLAN
// with a virtual machine's tap in it too, and a loopback.
constexpr const char* kKvmHostLinks = R"([
 {"ifindex":1,"ifname":"lo","address":"00:00:00:00:00:00","link_type":"loopback"},
 {"ifindex":3,"ifname":"ens4","master":"bond0","address":"aa:bb:cc:00:00:01",
  "permaddr":"52:54:00:12:34:57",
  "linkinfo":{"info_slave_kind":"bond","info_slave_data":{"state":"BACKUP"}}},
 {"ifindex":2,"ifname":"ens3","master":"bond0","address":"aa:bb:cc:00:00:01",
  "permaddr":"52:54:00:12:34:56",
  "linkinfo":{"info_slave_kind":"bond","info_slave_data":{"state":"ACTIVE"}}},
 {"ifindex":4,"ifname":"bond0","address":"aa:bb:cc:00:00:01",
  "linkinfo":{"info_kind":"bond","info_data":{"mode":"active-backup","miimon":0,
   "updelay":200,"downdelay":0,"primary":"ens3","xmit_hash_policy":"layer2",
   "lacp_rate":"slow","arp_interval":1000}}},
 {"ifindex":5,"ifname":"bond0.10","link":"bond0","address":"aa:bb:cc:00:00:01",
  "master":"br0",
  "linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":10},
   "info_slave_kind":"bridge"}},
 {"ifindex":6,"ifname":"br0","address":"aa:bb:cc:00:00:01",
  "linkinfo":{"info_kind":"bridge","info_data":{"stp_state":0}}},
 {"ifindex":7,"ifname":"vnet0","master":"br0","address":"fe:54:00:aa:aa:aa",
  "linkinfo":{"info_kind":"tun","info_slave_kind":"bridge"}},
 {"ifindex":8,"ifname":"wg0","linkinfo":{"info_kind":"wireguard"}},
 {"ifindex":9,"ifname":"br1","linkinfo":{"info_kind":"bridge"}},
 {"ifindex":10,"ifname":"vnet1","master":"br1","linkinfo":{"info_kind":"tun"}}
])";

std::vector<std::string> link_lines(const std::vector<CaptureLink>& links) {
    std::vector<std::string> lines;
    for (const auto& link : links) {
        lines.push_back(capture_link_line(link));
    }
    return lines;
}

}  // namespace

TEST(SshTarget, LinksUnderTheRoutesInterfaceComeFirst) {
    // A NIC in a bond is found by its own (permanent) address.
    const auto port = capture_links_from("ens4", kKvmHostLinks);
    ASSERT_TRUE(port) << port.error().message;
    EXPECT_THAT(link_lines(*port), ElementsAre("ethernet ens4 52:54:00:12:34:57"));
    // The bond: its ports in ifindex order, its mode and primary; miimon
    // 100 in place of the system's ARP monitoring, no lacp_rate or
    // xmit_hash_policy (the kernel refuses them in active-backup).
    const auto bond = capture_links_from("bond0", kKvmHostLinks);
    ASSERT_TRUE(bond) << bond.error().message;
    EXPECT_THAT(link_lines(*bond),
                ElementsAre("ethernet ens3 52:54:00:12:34:56", "ethernet ens4 52:54:00:12:34:57",
                            "bond bond0 ens3,ens4 mode active-backup miimon 100 updelay 200 "
                            "primary ens3"));
    // The bridge over the VLAN over the bond; the tap is left out.
    const auto bridge = capture_links_from("br0", kKvmHostLinks);
    ASSERT_TRUE(bridge) << bridge.error().message;
    EXPECT_THAT(link_lines(*bridge),
                ElementsAre("ethernet ens3 52:54:00:12:34:56", "ethernet ens4 52:54:00:12:34:57",
                            "bond bond0 ens3,ens4 mode active-backup miimon 100 updelay 200 "
                            "primary ens3",
                            "vlan bond0.10 bond0 id 10", "bridge br0 bond0.10"));
    EXPECT_THAT(capture_link_modules(*bridge), ElementsAre("bonding", "8021q", "bridge"));
    EXPECT_TRUE(capture_link_modules(*port).empty());
}

TEST(SshTarget, LinksTheCaptureCannotMakeAreRefusedByName) {
    const auto wireguard = capture_links_from("wg0", kKvmHostLinks);
    ASSERT_FALSE(wireguard);
    EXPECT_THAT(wireguard.error().message, HasSubstr("wg0 is a wireguard interface"));
    EXPECT_THAT(wireguard.error().message, HasSubstr("bonds, VLANs and bridges"));
    const auto only_taps = capture_links_from("br1", kKvmHostLinks);
    ASSERT_FALSE(only_taps);
    EXPECT_THAT(only_taps.error().message, HasSubstr("bridge br1 has no port"));
    const auto gone = capture_links_from("eth9", kKvmHostLinks);
    ASSERT_FALSE(gone);
    EXPECT_THAT(gone.error().message, HasSubstr("nothing about eth9"));
    // Shapes iproute2 does not print: an error each, never a line that
    // would make something else in the capture.
    const std::vector<std::pair<std::string, std::string>> odd = {
        {"e", "{}"},
        {"bad name", R"([{"ifname":"bad name","address":"52:54:00:00:00:01"}])"},
        {"v", R"([{"ifname":"v","link":"e","linkinfo":{"info_kind":"vlan","info_data":{}}},)"
              R"({"ifname":"e","address":"52:54:00:00:00:01"}])"},
        {"b", R"([{"ifname":"b","linkinfo":{"info_kind":"bond","info_data":{"mode":"x y"}}},)"
              R"({"ifname":"e","master":"b","address":"52:54:00:00:00:01"}])"},
        {"v",
         R"([{"ifname":"v","link":"v","linkinfo":{"info_kind":"vlan","info_data":{"id":1}}}])"},
        {"e", R"([{"ifname":"e","address":7}])"},
    };
    for (const auto& [name, json] : odd) {
        EXPECT_FALSE(capture_links_from(name, json)) << json;
    }
}

TEST(SshTarget, BondsKeepTheOptionsTheirModeTakes) {
    const auto links = capture_links_from("bond1", R"([
 {"ifindex":2,"ifname":"eno1","master":"bond1","address":"52:54:00:00:00:01"},
 {"ifindex":3,"ifname":"eno2","master":"bond1","address":"52:54:00:00:00:02"},
 {"ifindex":4,"ifname":"bond1","linkinfo":{"info_kind":"bond","info_data":{
  "mode":"802.3ad","miimon":50,"primary":"eno1","xmit_hash_policy":"layer3+4",
  "lacp_rate":"fast","ad_select":"stable"}}}])");
    ASSERT_TRUE(links) << links.error().message;
    EXPECT_EQ(capture_link_line(links->back()),
              "bond bond1 eno1,eno2 mode 802.3ad miimon 50 xmit_hash_policy layer3+4 "
              "lacp_rate fast ad_select stable");
}

TEST(SshTarget, NetworkSummaryChangesWithWhatTheCaptureCarries) {
    const CaptureNetwork leased{"bond0",
                                "aa:bb:cc:00:00:01",
                                "10.0.2.15/24",
                                "10.0.2.2",
                                {},
                                "10.0.2.2",
                                {{"ethernet", "ens3", {"52:54:00:12:34:56"}, {}},
                                 {"bond", "bond0", {"ens3"}, {"mode", "active-backup"}}}};
    const std::string summary = capture_network_summary(leased);
    EXPECT_THAT(summary, HasSubstr("address 10.0.2.15/24\n"));
    EXPECT_THAT(summary, HasSubstr("link bond bond0 ens3 mode active-backup\n"));
    // The same network read again (drivers are the kernel's, not the
    // network's) is no change.
    CaptureNetwork same = leased;
    same.drivers = {"virtio_net", "bonding"};
    EXPECT_EQ(capture_network_summary(same), summary);
    // A new lease, another gateway, a NIC replaced (its MAC), a port more.
    CaptureNetwork renumbered = leased;
    renumbered.address = "10.0.2.77/24";
    CaptureNetwork rerouted = leased;
    rerouted.gateway = "10.0.2.1";
    CaptureNetwork replaced = leased;
    replaced.links[0].lower = {"52:54:00:99:99:99"};
    CaptureNetwork grown = leased;
    grown.links[1].lower.push_back("ens4");
    for (const auto& changed : {renumbered, rerouted, replaced, grown}) {
        EXPECT_NE(capture_network_summary(changed), summary);
    }
}

TEST(SshTarget, CaptureEnvironmentCarriesSshAndNetwork) {
    Config config;
    config.target = ssh_target("ssh://dump@backup:2222/srv/crash");
    config.failure_action = FailureAction::dump_to_rootfs;
    TargetFilesystem remote;
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    TargetFilesystem state{"/var/lib/crashcapture", "/", "/dev/vda", "UUID=2", "ext4",
                           "/var/lib/crashcapture", true};
    // Through an active-backup bond of two NICs.
    const CaptureNetwork network{"bond0",
                                 "aa:bb:cc:00:00:01",
                                 "10.0.2.15/24",
                                 "10.0.2.2",
                                 {},
                                 "10.0.2.2",
                                 {{"ethernet", "ens3", {"52:54:00:12:34:56"}, {}},
                                  {"ethernet", "ens4", {"52:54:00:12:34:57"}, {}},
                                  {"bond", "bond0", {"ens3", "ens4"}, {"mode", "active-backup"}}}};
    const std::string text =
        capture_environment(config, remote, root, std::nullopt, state, network);
    for (const auto* line : {
             "CRASHCAPTURE_TARGET_KIND='ssh'\n",
             "CRASHCAPTURE_SSH_DESTINATION='dump@backup'\n",
             "CRASHCAPTURE_SSH_DIRECTORY='/srv/crash'\n",
             "CRASHCAPTURE_NET_INTERFACE='bond0'\n",
             "CRASHCAPTURE_NET_LINKS='ethernet ens3 52:54:00:12:34:56\n"
             "ethernet ens4 52:54:00:12:34:57\n"
             "bond bond0 ens3,ens4 mode active-backup'\n",
             "CRASHCAPTURE_NET_ADDRESS='10.0.2.15/24'\n",
             "CRASHCAPTURE_NET_GATEWAY='10.0.2.2'\n",
             "CRASHCAPTURE_KEPT_RECORD_DIRECTORY='/var/lib/crashcapture/ssh-captures'\n",
             "CRASHCAPTURE_SAVE_ARGUMENTS='--format flattened ",
             "CRASHCAPTURE_FALLBACK_SAVE_ARGUMENTS='--format kdump ",
         }) {
        EXPECT_THAT(text, HasSubstr(line));
    }
    EXPECT_THAT(text, HasSubstr("-o BatchMode=yes"));
    EXPECT_THAT(text, HasSubstr("-p 2222"));
}

TEST(Process, OutputStatusAndMissingProgram) {
    auto output = program_output({"sh", "-c", "echo out; echo err >&2"}, true);
    ASSERT_TRUE(output) << output.error().message;
    EXPECT_EQ(*output, "out\nerr\n");
    auto failed = program_output({"sh", "-c", "echo why; exit 3"});
    ASSERT_FALSE(failed);
    EXPECT_THAT(failed.error().message, HasSubstr("exited with status 3: why"));
    auto status = run_program({"sh", "-c", "exit 7"});
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 7);
    EXPECT_EQ(*run_program({"sh", "-c", "test \"$CRASHCAPTURE_X\" = y"}, {"CRASHCAPTURE_X=y"}), 0);
    SKIP_UNLESS_SPAWN_WAITS_FOR_EXEC();  // last: the checks above ran
    auto missing = run_program({"crashcapture-no-such-program"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
}

TEST(NfsTarget, CaptureEnvironmentCarriesTheMountAndNetwork) {
    Config config;
    config.target = ssh_target("nfs:[fd00::2]:/exports/crash");
    TargetFilesystem remote;
    remote.source = nfs_mount_source(config.target);
    remote.fstype = "nfs4";
    remote.directory_in_filesystem = "/";
    TargetFilesystem root{"/", "/", "/dev/vda", "UUID=2", "ext4", "/", true};
    TargetFilesystem state{"/var/lib/crashcapture", "/", "/dev/vda", "UUID=2", "ext4",
                           "/var/lib/crashcapture", true};
    const CaptureNetwork network{"eth0", "52:54:00:12:34:56", "fd00::15/64", "", {}, "fd00::2", {}};
    const std::string text =
        capture_environment(config, remote, root, std::nullopt, state, network);
    for (const auto* line : {
             "CRASHCAPTURE_TARGET_KIND='nfs'\n",
             "CRASHCAPTURE_TARGET_FSTYPE='nfs4'\n",
             "CRASHCAPTURE_NFS_SOURCE='[fd00::2]:/exports/crash'\n",
             "CRASHCAPTURE_NFS_HOST='fd00::2'\n",
             "CRASHCAPTURE_NFS_ADDRESS='fd00::2'\n",
             "CRASHCAPTURE_NET_MAC='52:54:00:12:34:56'\n",
             // No links planned: the interface alone, a NIC found by its MAC.
             "CRASHCAPTURE_NET_LINKS='ethernet eth0 52:54:00:12:34:56'\n",
             "CRASHCAPTURE_KEPT_RECORD_DIRECTORY='/var/lib/crashcapture/nfs-captures'\n",
             // NFS can seek: a kdump file, like a local directory.
             "CRASHCAPTURE_SAVE_ARGUMENTS='--format kdump ",
         }) {
        EXPECT_THAT(text, HasSubstr(line));
    }
    EXPECT_THAT(text, ::testing::Not(HasSubstr("CRASHCAPTURE_SSH_")));
    EXPECT_EQ(nfs_mount_source(ssh_target("nfs:backup.example.com:/srv/crash")),
              "backup.example.com:/srv/crash");
}
