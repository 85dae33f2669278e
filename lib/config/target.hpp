// Target= of crashcapture.conf(5): where the capture writes the dump, parsed
// and written back in one canonical spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.hpp"

namespace crashcapture {

// Target=: where the capture writes the dump.
//   /var/crash                   a directory on a local filesystem (default)
//   raw:/dev/disk/by-id/…        a block device, written as a flattened stream
//   ssh://[user@]host[:port]/dir a directory on an ssh server
//   nfs:server:/export/dir       a directory on an NFS export
// host and server are a DNS name, an IPv4 address or an [IPv6] address.
enum class TargetKind { directory, raw, ssh, nfs };
std::string_view to_string(TargetKind kind);

struct Target {
    TargetKind kind = TargetKind::directory;
    std::string path;   // directory, device, or the remote directory (absolute)
    std::string user;   // ssh; empty = whoever ssh runs as (root in the capture)
    std::string host;   // ssh and nfs; IPv6 without brackets
    uint16_t port = 0;  // ssh; 0 = ssh's default

    // On another machine (ssh, nfs): the capture needs the network.
    bool is_remote() const { return kind == TargetKind::ssh || kind == TargetKind::nfs; }
    bool operator==(const Target&) const = default;
};

Result<Target> parse_target(std::string_view text);
// The canonical spelling, which parse_target() reads back unchanged.
std::string to_string(const Target& target);

// Why path cannot be used as an absolute path in the configuration (not
// absolute, "." or ".." components, a control character), or nothing; what
// names it in the message ("Target=").
std::optional<std::string> check_absolute_path(std::string_view path, std::string_view what);

}  // namespace crashcapture
