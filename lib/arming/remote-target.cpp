#include "remote-target.hpp"

#include <fmt/format.h>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "device-drivers.hpp"
#include "json-integer.hpp"

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
                          "{} is a virtual interface (a bond, bridge, VLAN or tunnel: no "
                          "/sys/class/net/{}/device): the capture kernel sets up one physical "
                          "interface only; route the server through one",
                          interface, interface);
    }
    return bound_driver_modules(paths.resolve("/sys/devices"), device);
}

}  // namespace crashcapture
