#include "target.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "text.hpp"

namespace crashcapture {
namespace {

bool has_whitespace(std::string_view text) {
    return text.find_first_of(kWhitespace) != std::string_view::npos;
}

// --------------------------------------------------------------------------
// Target= syntax.

// RFC 1123 host names (letters, digits, '-', dot-separated labels of at most
// 63, at most 253 in all); IPv4 addresses are among them. A name starting
// with '-' would reach ssh as an option.
bool is_hostname(std::string_view name) {
    if (name.empty() || name.size() > 253) {
        return false;
    }
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) {
            dot = name.size();
        }
        const auto label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (const char c : label) {
            if (!(is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-')) {
                return false;
            }
        }
        start = dot + 1;
    }
    return true;
}

bool is_ipv6(std::string_view address) {
    in6_addr parsed{};
    return ::inet_pton(AF_INET6, std::string(address).c_str(), &parsed) == 1;
}

// The remote directory reaches a shell on the ssh server and mount(8) on the
// NFS client: only characters that no shell or option parser treats
// specially, so no quoting can go wrong.
bool is_safe_remote_path(std::string_view path) {
    return std::all_of(path.begin(), path.end(), [](char c) {
        return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               std::string_view("/._-+,=@%:").find(c) != std::string_view::npos;
    });
}

std::string strip_trailing_slashes(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') {
        path.remove_suffix(1);
    }
    return std::string(path);
}

// "host", "[v6]" -> the host without brackets, or why not.
Result<std::string> parse_host(std::string_view text) {
    if (!text.empty() && text.front() == '[') {
        if (text.back() != ']' || !is_ipv6(text.substr(1, text.size() - 2))) {
            return make_error(EINVAL, "'{}' is not a bracketed IPv6 address", text);
        }
        return std::string(text.substr(1, text.size() - 2));
    }
    if (!is_hostname(text)) {
        return make_error(EINVAL, "'{}' is not a host name or address", text);
    }
    return std::string(text);
}

std::string format_host(std::string_view host) {
    return host.find(':') != std::string_view::npos ? fmt::format("[{}]", host) : std::string(host);
}

Result<Target> parse_remote_directory(Target target, std::string_view path) {
    if (auto problem = check_absolute_path(path, "the remote directory")) {
        return make_error(EINVAL, "{}", *problem);
    }
    if (!is_safe_remote_path(path)) {
        return make_error(EINVAL,
                          "the remote directory may only contain letters, digits and / . _ - + "
                          ", = @ % :");
    }
    target.path = strip_trailing_slashes(path);
    return target;
}

Result<Target> parse_ssh_target(std::string_view rest) {
    Target target;
    target.kind = TargetKind::ssh;
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
        return make_error(EINVAL, "no remote directory: ssh://[USER@]HOST[:PORT]/DIR");
    }
    auto authority = rest.substr(0, slash);
    if (const size_t at = authority.find('@'); at != std::string_view::npos) {
        const auto user = authority.substr(0, at);
        const bool valid_user = !user.empty() && user.front() != '-' &&
                                std::all_of(user.begin(), user.end(), [](char c) {
                                    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') ||
                                           (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
                                           c == '-';
                                });
        if (!valid_user) {
            return make_error(EINVAL, "'{}' is not a user name", user);
        }
        target.user = std::string(user);
        authority.remove_prefix(at + 1);
    }
    // A port follows the last ':' outside brackets.
    const size_t bracket = authority.rfind(']');
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        const auto port = parse_integer<uint16_t>(authority.substr(colon + 1));
        if (!port || *port == 0) {
            return make_error(EINVAL, "'{}' is not a port (1-65535)", authority.substr(colon + 1));
        }
        target.port = *port;
        authority = authority.substr(0, colon);
    }
    auto host = parse_host(authority);
    if (!host) {
        return tl::unexpected(host.error());
    }
    target.host = std::move(*host);
    return parse_remote_directory(std::move(target), rest.substr(slash));
}

Result<Target> parse_nfs_target(std::string_view rest) {
    Target target;
    target.kind = TargetKind::nfs;
    size_t colon = std::string_view::npos;
    if (!rest.empty() && rest.front() == '[') {
        const size_t bracket = rest.find(']');
        if (bracket != std::string_view::npos && bracket + 1 < rest.size() &&
            rest[bracket + 1] == ':') {
            colon = bracket + 1;
        }
    } else {
        colon = rest.find(':');
    }
    if (colon == std::string_view::npos) {
        return make_error(EINVAL, "expected nfs:SERVER:/DIR");
    }
    auto host = parse_host(rest.substr(0, colon));
    if (!host) {
        return tl::unexpected(host.error());
    }
    target.host = std::move(*host);
    return parse_remote_directory(std::move(target), rest.substr(colon + 1));
}

}  // namespace

// "." and ".." components would make the path mean something else than it
// says once the capture mounts things; an absolute path is required.
std::optional<std::string> check_absolute_path(std::string_view path, std::string_view what) {
    if (path.empty() || path.front() != '/') {
        return fmt::format("{} must be an absolute path", what);
    }
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            slash = path.size();
        }
        const auto component = path.substr(start, slash - start);
        if (component == "." || component == "..") {
            return fmt::format("{} must not contain '.' or '..' components", what);
        }
        start = slash + 1;
    }
    return std::nullopt;
}

std::string_view to_string(TargetKind kind) {
    switch (kind) {
        case TargetKind::directory:
            return "directory";
        case TargetKind::raw:
            return "raw";
        case TargetKind::ssh:
            return "ssh";
        case TargetKind::nfs:
            return "nfs";
    }
    return "directory";
}

Result<Target> parse_target(std::string_view text) {
    if (text.empty()) {
        return make_error(EINVAL, "no target");
    }
    if (has_whitespace(text) || has_control_character(text)) {
        return make_error(EINVAL, "a target must not contain whitespace or control characters");
    }
    if (text.front() == '/') {
        if (auto problem = check_absolute_path(text, "a directory")) {
            return make_error(EINVAL, "{}", *problem);
        }
        return Target{TargetKind::directory, strip_trailing_slashes(text), {}, {}, 0};
    }
    if (text.starts_with("raw:")) {
        const auto device = text.substr(4);
        if (!device.starts_with("/dev/") || device.size() == 5) {
            return make_error(EINVAL, "a raw target is a block device under /dev/");
        }
        if (auto problem = check_absolute_path(device, "the device")) {
            return make_error(EINVAL, "{}", *problem);
        }
        return Target{TargetKind::raw, std::string(device), {}, {}, 0};
    }
    if (text.starts_with("ssh://")) {
        return parse_ssh_target(text.substr(6));
    }
    if (text.starts_with("nfs:")) {
        return parse_nfs_target(text.substr(4));
    }
    return make_error(EINVAL,
                      "not a target: expected an absolute directory, raw:/dev/DEVICE, "
                      "ssh://[USER@]HOST[:PORT]/DIR or nfs:SERVER:/DIR");
}

std::string to_string(const Target& target) {
    switch (target.kind) {
        case TargetKind::directory:
            return target.path;
        case TargetKind::raw:
            return "raw:" + target.path;
        case TargetKind::ssh: {
            std::string text = "ssh://";
            if (!target.user.empty()) {
                text += target.user + "@";
            }
            text += format_host(target.host);
            if (target.port != 0) {
                text += fmt::format(":{}", target.port);
            }
            return text + target.path;
        }
        case TargetKind::nfs:
            return "nfs:" + format_host(target.host) + ":" + target.path;
    }
    return target.path;
}

}  // namespace crashcapture
