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

// The capture kernel's network, as crashcapture-capture sets it up.
struct CaptureNetwork {
    std::string interface;  // today's name; the capture finds it by mac
    std::string mac;
    std::string address;  // ADDRESS/PREFIX
    std::string gateway;
    std::vector<std::string> drivers;  // kernel modules, NIC first then its bus
    // The server's address as resolved at build time, "" when it could not
    // be (the capture resolves the name itself first).
    std::string server_address;
    bool operator==(const CaptureNetwork&) const = default;
};

// The interface's MAC and the address the route leaves from, out of
// `ip -j address show dev DEVICE` ([{"ifname":..,"address":MAC,
// "addr_info":[{"family":"inet","local":..,"prefixlen":..,"scope":..}]}]).
Result<CaptureNetwork> capture_network_from(const Route& route, std::string_view address_json);

// The kernel modules that drive the interface and the buses it sits on:
// each device from /sys/class/net/IF/device up to /sys/devices whose
// driver/module link names one (virtio_net, then virtio_pci; e1000e; ...).
// Built-in drivers have no module and are left out. A virtual interface
// (bond, bridge, VLAN: nothing the capture could rebuild) is an error.
Result<std::vector<std::string>> network_device_drivers(const SystemPaths& paths,
                                                        std::string_view interface);

}  // namespace crashcapture
