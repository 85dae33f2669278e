// Targets on another machine: Target=ssh://[USER@]HOST[:PORT]/DIR and
// Target=nfs:SERVER:/DIR. What the capture initrd needs to reach them, and
// what the host-side tools (the builder, crashcapturectl propagate) share.
//
// nfs: the capture mounts SERVER:/DIR (NFSv4, the kernel's client, no
// mount.nfs helper: the address goes in addr=) and writes dump directories
// into it as into a local directory; the record and logs are also kept on
// the root filesystem (nfs_capture_records_directory()).
//
// The capture streams crashcapture-save's flattened output through
//   ssh OPTIONS DESTINATION 'cat > DIR/ID/vmcore.flat.incomplete'
// with a key of its own (kSshKeyPath) and the server's host key pinned in a
// known_hosts file of its own (kSshKnownHostsPath): `crashcapturectl
// propagate` makes the key, installs it on the server and records the host
// key. The record and logs also go to the root filesystem
// (ssh_capture_records_directory()), where crashcaptured reports them after
// the reboot whether or not the server was reachable.
//
// For both, the capture kernel's network is the running system's, copied at
// build time: the interface (found again by its MAC address), its address and
// prefix, and the gateway towards the server. The crashed system's lease is
// still this machine's, and a static copy needs no DHCP client in the
// initrd.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

inline constexpr std::string_view kSshKeyPath = "/etc/crashcapture/ssh/id_ed25519";
inline constexpr std::string_view kSshKnownHostsPath = "/etc/crashcapture/ssh/known_hosts";

// Under crashcaptured's state directory, on the root filesystem.
inline constexpr std::string_view kSshCapturesSubdirectory = "/ssh-captures";
inline constexpr std::string_view kNfsCapturesSubdirectory = "/nfs-captures";
std::string ssh_capture_records_directory(const SystemPaths& paths);
std::string nfs_capture_records_directory(const SystemPaths& paths);

// What mount(8) takes for an nfs target: "SERVER:/DIR", an IPv6 address in
// brackets.
std::string nfs_mount_source(const Target& target);

// "user@host" or "host", as ssh takes it.
std::string ssh_destination(const Target& target);

// ssh's options for a capture (or a check of one): the dedicated key only,
// no password prompt, the pinned host key only, and time limits so that a
// server that goes away ends the capture instead of hanging it.
std::vector<std::string> ssh_options(const Target& target, std::string_view key_path,
                                     std::string_view known_hosts_path);

// The first route of `ip -j route get ADDRESS` or `ip -j route show default`
// (iproute2's JSON: [{"dst":..,"gateway":..,"dev":..,"prefsrc":..}]).
struct Route {
    std::string device;
    std::string gateway;  // empty when the server is on the link
    std::string source;   // prefsrc, when ip gives it
    bool operator==(const Route&) const = default;
};
Result<Route> parse_ip_route(std::string_view json_text);

// One interface the capture kernel makes to reach the server, in the order
// it makes them (ports first). crashcapture-capture reads each as one line of
// CRASHCAPTURE_NET_LINKS: "KIND NAME LOWER [IP-LINK ARGUMENTS]".
struct CaptureLink {
    std::string kind;  // "ethernet", "bond", "vlan" or "bridge"
    std::string name;  // today's name; the capture gives it the same one
    // ethernet: the permanent MAC the capture finds the NIC by (a bond port's
    // current address is the bond's); bond, bridge: the ports; vlan: the
    // interface below.
    std::vector<std::string> lower;
    // What `ip link add NAME type KIND` takes after the kind (ip-link(8)):
    // "mode active-backup miimon 100 primary ens4"; "id 10".
    std::vector<std::string> arguments;
    bool operator==(const CaptureLink&) const = default;
};
// The line of CRASHCAPTURE_NET_LINKS.
std::string capture_link_line(const CaptureLink& link);

// The interfaces under DEVICE, from `ip -j -d link show` (every link, with
// linkinfo), lowest first, DEVICE last: a physical NIC is one ethernet link;
// a bond is its ports then the bond; a VLAN, the interface under it then the
// VLAN; a bridge, its ports that lead to a NIC (a virtual machine's tap or a
// container's veth is left out: nothing in the capture uses it), then the
// bridge. Any other kind (team, macvlan, a tunnel, WireGuard ...) is an
// error naming it.
Result<std::vector<CaptureLink>> capture_links_from(std::string_view device,
                                                    std::string_view links_json);

// The modules for the kinds above physical NICs (bonding, 8021q, bridge), in
// the order the links need them.
std::vector<std::string> capture_link_modules(const std::vector<CaptureLink>& links);

// The capture kernel's network, as crashcapture-capture sets it up.
struct CaptureNetwork {
    std::string interface;  // today's name of the interface the route leaves by
    std::string mac;        // its MAC today
    std::string address;    // ADDRESS/PREFIX
    std::string gateway;
    std::vector<std::string> drivers;  // kernel modules, NIC first then its bus
    // The server's address as resolved at build time, "" when it could not
    // be (the capture resolves the name itself first).
    std::string server_address;
    // What the capture makes, ending with interface; empty means interface
    // alone, a NIC found by mac.
    std::vector<CaptureLink> links;
    bool operator==(const CaptureNetwork&) const = default;
};

// network.links, or, for a network planned without them, its interface
// alone as a NIC found by its MAC.
std::vector<CaptureLink> links_to_make(const CaptureNetwork& network);

// What of the network a capture initrd carries, as text to compare: the
// interface, its address and gateway, the links made again, the server's
// address. crashcaptured keeps the one of the loaded initrd and rebuilds
// when the system's differs (a new DHCP lease, a NIC replaced).
std::string capture_network_summary(const CaptureNetwork& network);

// The interface's MAC and the address the route leaves from, out of
// `ip -j address show dev DEVICE` ([{"ifname":..,"address":MAC,
// "addr_info":[{"family":"inet","local":..,"prefixlen":..,"scope":..}]}]).
Result<CaptureNetwork> capture_network_from(const Route& route, std::string_view address_json);

// The kernel modules that drive the interface and the buses it sits on:
// each device from /sys/class/net/IF/device up to /sys/devices whose
// driver/module link names one (virtio_net, then virtio_pci; e1000e; ...).
// Built-in drivers have no module and are left out. An interface with no
// device (a dummy, or anything else capture_links_from() lets through as a
// NIC) is an error.
Result<std::vector<std::string>> network_device_drivers(const SystemPaths& paths,
                                                        std::string_view interface);

}  // namespace crashcapture
