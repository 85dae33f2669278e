#include "remote-target.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "device-drivers.hpp"
#include "json-integer.hpp"
#include "text.hpp"

namespace crashcapture {

std::string ssh_capture_records_directory(const SystemPaths& paths) {
    return paths.state + std::string(kSshCapturesSubdirectory);
}

std::string nfs_capture_records_directory(const SystemPaths& paths) {
    return paths.state + std::string(kNfsCapturesSubdirectory);
}

std::string nfs_mount_source(const Target& target) {
    const bool ipv6 = target.host.find(':') != std::string::npos;
    return (ipv6 ? "[" + target.host + "]" : target.host) + ":" + target.path;
}

std::string ssh_destination(const Target& target) {
    return target.user.empty() ? target.host : target.user + "@" + target.host;
}

std::vector<std::string> ssh_options(const Target& target, std::string_view key_path,
                                     std::string_view known_hosts_path) {
    // ssh_config(5). IdentitiesOnly: no agent, no ~/.ssh keys, only ours.
    // ServerAlive 15 s x 4: a server gone for a minute ends the capture
    // with an error, which the failure action then handles.
    std::vector<std::string> options = {
        "-i", std::string(key_path),
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=" + std::string(known_hosts_path),
        "-o", "ConnectTimeout=30",
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=4",
    };
    if (target.port != 0) {
        options.insert(options.end(), {"-p", std::to_string(target.port)});
    }
    return options;
}

Result<Route> parse_ip_route(std::string_view json_text) {
    const auto routes = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (!routes.is_array()) {
        return make_error(EINVAL, "ip printed no JSON list of routes");
    }
    if (routes.empty() || !routes[0].is_object()) {
        return make_error(ENETUNREACH, "no route");
    }
    const auto& route = routes[0];
    Route result;
    // value() throws type_error 302 when a member has another type ("dev":
    // []); ip never prints that, but the daemon must not die if it did.
    try {
        result.device = route.value("dev", "");
        result.gateway = route.value("gateway", "");
        result.source = route.value("prefsrc", "");
    } catch (const nlohmann::json::exception& e) {
        return make_error(EINVAL, "ip printed a route of an unexpected shape: {}", e.what());
    }
    if (result.device.empty()) {
        return make_error(EINVAL, "the route names no interface");
    }
    return result;
}

namespace {

// capture_network_from() past the JSON parse; throws nlohmann::json
// exceptions on members of the wrong type.
Result<CaptureNetwork> capture_network_of_link(const Route& route, const nlohmann::json& link) {
    CaptureNetwork network;
    network.interface = route.device;
    network.gateway = route.gateway;
    network.mac = link.value("address", "");
    if (network.mac.empty()) {
        return make_error(EINVAL, "{} has no MAC address to find it by in the capture kernel",
                          route.device);
    }
    // The family the route uses: IPv6 gateways and sources have a ':'.
    const bool ipv6 =
        route.gateway.find(':') != std::string::npos || route.source.find(':') != std::string::npos;
    const std::string family = ipv6 ? "inet6" : "inet";
    // The address the route leaves from (prefsrc), else the first global
    // one of that family.
    for (const auto& info : link.value("addr_info", nlohmann::json::array())) {
        const std::string local = info.is_object() ? info.value("local", "") : "";
        if (local.empty() || info.value("family", "") != family ||
            info.value("scope", "global") != "global") {
            continue;
        }
        // An address is 32 or 128 bits long (RFC 791, RFC 8200): a longer
        // prefix, or one that is no integer, is not one ip(8) prints.
        const auto prefix_length = json_integer<unsigned>(info.at("prefixlen"), "prefixlen");
        if (prefix_length > (ipv6 ? 128U : 32U)) {
            throw JsonIntegerError(fmt::format("prefixlen: {} is longer than an {} address",
                                               prefix_length, ipv6 ? "IPv6" : "IPv4"));
        }
        if (network.address.empty() || local == route.source) {
            network.address = fmt::format("{}/{}", local, prefix_length);
        }
        if (local == route.source) {
            break;
        }
    }
    if (network.address.empty()) {
        return make_error(EADDRNOTAVAIL, "{} has no {} address towards the server", route.device,
                          ipv6 ? "IPv6" : "IPv4");
    }
    return network;
}

}  // namespace

Result<CaptureNetwork> capture_network_from(const Route& route, std::string_view address_json) {
    if (route.device == "lo") {
        return make_error(EINVAL,
                          "the server is this machine (the route goes through lo): the capture "
                          "kernel cannot reach it; for dumps on this machine use a directory "
                          "target (Target=/var/crash)");
    }
    const auto links = nlohmann::json::parse(address_json, nullptr, /*allow_exceptions=*/false);
    if (!links.is_array() || links.empty() || !links[0].is_object()) {
        return make_error(EINVAL, "ip printed nothing about {}", route.device);
    }
    try {
        return capture_network_of_link(route, links[0]);
    } catch (const std::exception& e) {
        // A member of another type than iproute2 prints (value() throws), or
        // a prefix length no address has (JsonIntegerError).
        return make_error(EINVAL, "ip printed {}'s addresses in an unexpected shape: {}",
                          route.device, e.what());
    }
}

namespace {

// The kinds the capture rebuilds, with the module each needs
// (drivers/net/bonding, net/8021q, net/bridge in the kernel tree).
struct LinkKind {
    std::string_view kind;
    std::string_view module;
};
constexpr LinkKind kRebuiltLinkKinds[] = {
    {"bond", "bonding"}, {"vlan", "8021q"}, {"bridge", "bridge"}};

// Kinds a bridge may have as ports that nothing in the capture needs: a
// virtual machine's tap (tun), a container's veth.
bool is_guest_port_kind(std::string_view kind) {
    return kind == "tun" || kind == "veth";
}

// Interface names and the bond options below go into a shell-read line and
// ip's arguments: only what the kernel and ip(8) print for them
// (dev_valid_name() refuses '/', ':' is an old alias, whitespace never).
bool is_plain_word(std::string_view word) {
    return !word.empty() && word.size() <= 64 && std::all_of(word.begin(), word.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
               c == '-' || c == ':' || c == '@' || c == '+';
    });
}

// ip -j -d link show, by name.
using LinkTable = std::map<std::string, nlohmann::json, std::less<>>;

std::string json_string(const nlohmann::json& object, const char* key) {
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::string link_kind(const nlohmann::json& link) {
    const auto info = link.find("linkinfo");
    return info != link.end() && info->is_object() ? json_string(*info, "info_kind") : "";
}

const nlohmann::json& link_data(const nlohmann::json& link) {
    static const nlohmann::json empty = nlohmann::json::object();
    const auto info = link.find("linkinfo");
    if (info == link.end() || !info->is_object()) {
        return empty;
    }
    const auto data = info->find("info_data");
    return data != info->end() && data->is_object() ? *data : empty;
}

// The links whose master is NAME, in the kernel's order (ifindex).
std::vector<std::string> ports_of(const LinkTable& table, std::string_view name) {
    std::vector<std::pair<long long, std::string>> ports;
    for (const auto& [port, link] : table) {
        if (json_string(link, "master") == name) {
            const auto index = link.find("ifindex");
            ports.emplace_back(
                index != link.end() && index->is_number_integer() ? index->get<long long>() : 0,
                port);
        }
    }
    std::sort(ports.begin(), ports.end());
    std::vector<std::string> names;
    for (auto& [index, port] : ports) {
        names.push_back(std::move(port));
    }
    return names;
}

// A bond's options as ip-link(8) takes them, each only in the modes the
// kernel accepts it in (drivers/net/bonding/bond_options.c, unsuppmodes);
// the capture always watches the carrier, so miimon is 100 ms when the
// system's bond had none (ARP monitoring is left out: its targets may be
// what is down).
std::vector<std::string> bond_arguments(const nlohmann::json& data,
                                        const std::vector<std::string>& ports) {
    const std::string mode = json_string(data, "mode");
    std::vector<std::string> arguments = {"mode", mode.empty() ? "balance-rr" : mode};
    const auto number = [&](const char* key) -> long long {
        const auto found = data.find(key);
        return found != data.end() && found->is_number_integer() ? found->get<long long>() : 0;
    };
    const long long miimon = number("miimon");
    arguments.insert(arguments.end(), {"miimon", std::to_string(miimon > 0 ? miimon : 100)});
    for (const char* key : {"updelay", "downdelay"}) {
        if (number(key) > 0) {
            arguments.insert(arguments.end(), {key, std::to_string(number(key))});
        }
    }
    const std::string primary = json_string(data, "primary");
    if ((mode == "active-backup" || mode == "balance-tlb" || mode == "balance-alb") &&
        !primary.empty() && std::find(ports.begin(), ports.end(), primary) != ports.end()) {
        arguments.insert(arguments.end(), {"primary", primary});
    }
    if (mode == "balance-xor" || mode == "802.3ad" || mode == "balance-tlb") {
        if (const auto policy = json_string(data, "xmit_hash_policy"); !policy.empty()) {
            arguments.insert(arguments.end(), {"xmit_hash_policy", policy});
        }
    }
    if (mode == "802.3ad") {
        for (const char* key : {"lacp_rate", "ad_select"}) {
            if (const auto value = json_string(data, key); !value.empty()) {
                arguments.insert(arguments.end(), {key, value});
            }
        }
    }
    return arguments;
}

constexpr int kMaximumLinkDepth = 8;  // bond under VLAN under bridge is 3

Status add_links_under(const LinkTable& table, const std::string& name, int depth,
                       std::vector<CaptureLink>& links) {
    if (std::any_of(links.begin(), links.end(),
                    [&](const CaptureLink& link) { return link.name == name; })) {
        return {};  // already made, below another
    }
    const auto found = table.find(name);
    if (found == table.end()) {
        return make_error(ENODEV, "ip printed nothing about {}", name);
    }
    if (!is_plain_word(name)) {
        return make_error(EINVAL, "the interface name \"{}\" is not one the capture can use", name);
    }
    if (depth > kMaximumLinkDepth) {
        return make_error(ELOOP, "{} is more than {} interfaces above a NIC", name,
                          kMaximumLinkDepth);
    }
    const nlohmann::json& link = found->second;
    const std::string kind = link_kind(link);
    CaptureLink made;
    made.kind = kind.empty() ? "ethernet" : kind;
    made.name = name;
    if (kind.empty()) {
        // permaddr: IFLA_PERM_ADDRESS, printed when the current address
        // differs (a bond's port takes the bond's).
        std::string mac = json_string(link, "permaddr");
        if (mac.empty()) {
            mac = json_string(link, "address");
        }
        if (mac.empty() || !is_plain_word(mac)) {
            return make_error(EINVAL, "{} has no MAC address to find it by in the capture kernel",
                              name);
        }
        made.lower = {mac};
    } else if (kind == "vlan") {
        const std::string lower = json_string(link, "link");
        const auto id = link_data(link).find("id");
        if (lower.empty() || id == link_data(link).end() || !id->is_number_integer()) {
            return make_error(EINVAL, "ip printed the VLAN {} without its interface or id", name);
        }
        if (auto added = add_links_under(table, lower, depth + 1, links); !added) {
            return added;
        }
        made.lower = {lower};
        made.arguments = {"id", std::to_string(id->get<long long>())};
        const std::string protocol = json_string(link_data(link), "protocol");
        if (protocol == "802.1ad") {
            made.arguments.insert(made.arguments.end(), {"protocol", protocol});
        }
    } else if (kind == "bond" || kind == "bridge") {
        for (const auto& port : ports_of(table, name)) {
            if (kind == "bridge" && is_guest_port_kind(link_kind(table.find(port)->second))) {
                continue;
            }
            if (auto added = add_links_under(table, port, depth + 1, links); !added) {
                return added;
            }
            made.lower.push_back(port);
        }
        if (made.lower.empty()) {
            return make_error(ENODEV, "the {} {} has no port the capture kernel could set up", kind,
                              name);
        }
        if (kind == "bond") {
            made.arguments = bond_arguments(link_data(link), made.lower);
        }
    } else {
        return make_error(EOPNOTSUPP,
                          "{} is a {} interface: the capture kernel rebuilds bonds, VLANs and "
                          "bridges over physical NICs, nothing else; route the server through "
                          "one of those",
                          name, kind);
    }
    for (const auto& word : made.arguments) {
        if (!is_plain_word(word)) {
            return make_error(EINVAL, "ip printed {}'s settings in an unexpected shape: \"{}\"",
                              name, word);
        }
    }
    links.push_back(std::move(made));
    return {};
}

}  // namespace

Result<std::vector<CaptureLink>> capture_links_from(std::string_view device,
                                                    std::string_view links_json) {
    const auto parsed = nlohmann::json::parse(links_json, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_array()) {
        return make_error(EINVAL, "ip printed no JSON list of interfaces");
    }
    LinkTable table;
    for (const auto& link : parsed) {
        if (link.is_object()) {
            if (auto name = json_string(link, "ifname"); !name.empty()) {
                table.emplace(std::move(name), link);
            }
        }
    }
    std::vector<CaptureLink> links;
    if (auto added = add_links_under(table, std::string(device), 0, links); !added) {
        return tl::unexpected(added.error());
    }
    return links;
}

std::vector<std::string> capture_link_modules(const std::vector<CaptureLink>& links) {
    std::vector<std::string> modules;
    for (const auto& link : links) {
        for (const auto& [kind, module] : kRebuiltLinkKinds) {
            if (link.kind == kind) {
                add_unique(modules, std::string(module));
            }
        }
    }
    return modules;
}

std::vector<CaptureLink> links_to_make(const CaptureNetwork& network) {
    if (network.links.empty()) {
        return {{"ethernet", network.interface, {network.mac}, {}}};
    }
    return network.links;
}

std::string capture_network_summary(const CaptureNetwork& network) {
    std::string text =
        fmt::format("interface {}\naddress {}\ngateway {}\nserver {}\n", network.interface,
                    network.address, network.gateway, network.server_address);
    for (const auto& link : links_to_make(network)) {
        text += "link " + capture_link_line(link) + "\n";
    }
    return text;
}

std::string capture_link_line(const CaptureLink& link) {
    std::string lower;
    for (const auto& name : link.lower) {
        if (!lower.empty()) {
            lower += ',';
        }
        lower += name;
    }
    std::string line = fmt::format("{} {} {}", link.kind, link.name, lower);
    for (const auto& word : link.arguments) {
        line += " " + word;
    }
    return line;
}

Result<std::vector<std::string>> network_device_drivers(const SystemPaths& paths,
                                                        std::string_view interface) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path device =
        fs::canonical(paths.resolve(fmt::format("/sys/class/net/{}/device", interface)), error);
    if (error) {
        // Documentation/ABI/testing/sysfs-class-net: only interfaces on a
        // device have the link.
        return make_error(EINVAL,
                          "{} is a virtual interface with no device (no /sys/class/net/{}/device): "
                          "the capture kernel rebuilds bonds, VLANs and bridges over physical "
                          "NICs, nothing else; route the server through one of those",
                          interface, interface);
    }
    return bound_driver_modules(paths.resolve("/sys/devices"), device);
}

}  // namespace crashcapture
