#include "config.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <memory>

#include "kernel-command-line.hpp"
#include "text.hpp"
#include "unique-fd.hpp"

namespace crashcapture {
namespace {

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

bool has_whitespace(std::string_view text) {
    return text.find_first_of(kWhitespace) != std::string_view::npos;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// A decimal number with an optional fraction: "12", "1.5". The fraction is
// kept as digits so callers can scale it exactly.
struct Decimal {
    uint64_t whole = 0;
    uint64_t fraction = 0;       // the digits after '.', as an integer
    uint64_t fraction_unit = 1;  // 10^(number of those digits)
};

// Consumes a number at the start of text.
std::optional<Decimal> take_decimal(std::string_view& text) {
    size_t i = 0;
    while (i < text.size() && is_digit(text[i])) {
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    Decimal number;
    const auto whole = parse_integer<uint64_t>(text.substr(0, i));
    if (!whole) {
        return std::nullopt;  // too large
    }
    number.whole = *whole;
    if (i < text.size() && text[i] == '.') {
        ++i;
        const size_t start = i;
        while (i < text.size() && is_digit(text[i])) {
            // Digits past 18 cannot change a result in µs or bytes we keep.
            if (i - start < 18) {
                number.fraction = number.fraction * 10 + static_cast<uint64_t>(text[i] - '0');
                number.fraction_unit *= 10;
            }
            ++i;
        }
        if (i == start) {
            return std::nullopt;  // "1." is not a number
        }
    }
    text.remove_prefix(i);
    return number;
}

// number * factor, rounded down; nothing on overflow.
std::optional<uint64_t> scale(const Decimal& number, uint64_t factor) {
    const unsigned __int128 whole = static_cast<unsigned __int128>(number.whole) * factor;
    const unsigned __int128 fraction =
        static_cast<unsigned __int128>(number.fraction) * factor / number.fraction_unit;
    const unsigned __int128 total = whole + fraction;
    if (total > std::numeric_limits<uint64_t>::max()) {
        return std::nullopt;
    }
    return static_cast<uint64_t>(total);
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
            if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) {
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
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               std::string_view("/._-+,=@%:").find(c) != std::string_view::npos;
    });
}

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
                                    return is_digit(c) || (c >= 'a' && c <= 'z') ||
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

// --------------------------------------------------------------------------
// The parser.

struct Location {
    std::string file;
    unsigned line = 0;
    std::string assignment;  // "Key=value" as written, for messages
};

using Setter = std::function<std::optional<std::string>(Config&, std::string_view)>;
using Resetter = std::function<void(Config&)>;

struct KeyHandler {
    std::string_view section;
    std::string_view key;
    Setter set;      // value is non-empty and trimmed; returns why it is bad
    Resetter reset;  // Key= (empty): back to the default
};

template <typename T>
std::optional<std::string> error_of(const Result<T>& result) {
    if (result) {
        return std::nullopt;
    }
    return result.error().message;
}

std::optional<std::string> append_words(std::vector<std::string>& list, std::string_view value,
                                        bool is_remove_pattern) {
    auto words = split_kernel_command_line(value);
    for (const auto& word : words) {
        if (auto problem = check_command_line_word(word, is_remove_pattern)) {
            return fmt::format("'{}': {}", word, *problem);
        }
    }
    list.insert(list.end(), words.begin(), words.end());
    return std::nullopt;
}

std::optional<std::string> set_path(std::string& field, std::string_view value) {
    if (has_control_character(value)) {
        return "a path must not contain control characters";
    }
    if (auto problem = check_absolute_path(value, "a path")) {
        return problem;
    }
    field = std::string(value);
    return std::nullopt;
}

const std::vector<KeyHandler>& key_handlers() {
    static const std::vector<KeyHandler> handlers = {
        {"Dump", "Target",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto target = parse_target(v);
             if (target) {
                 c.target = std::move(*target);
             }
             return error_of(target);
         },
         [](Config& c) { c.target = Config{}.target; }},
        {"Dump", "Format",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto format = parse_dump_format(v);
             if (!format) {
                 return "not a dump format (kdump, elf, flattened)";
             }
             c.format = format;
             return std::nullopt;
         },
         [](Config& c) { c.format.reset(); }},
        {"Dump", "DumpLevel",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             const auto level = parse_integer<int>(v);
             if (!level || *level < 0 || *level > kDumpLevelMax) {
                 return fmt::format("not a dump level (0-{})", kDumpLevelMax);
             }
             c.dump_level = *level;
             return std::nullopt;
         },
         [](Config& c) { c.dump_level = kDefaultDumpLevel; }},
        {"Dump", "Compression",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto compression = parse_compression(v);
             if (!compression) {
                 return "not a compression (zstd, zlib, none)";
             }
             c.compression = *compression;
             return std::nullopt;
         },
         [](Config& c) { c.compression = Config{}.compression; }},
        {"Dump", "CompressionLevel",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             // The range depends on Compression=, which a later line or
             // drop-in may set: checked once everything is read.
             const auto level = parse_integer<int>(v);
             if (!level) {
                 return "not an integer";
             }
             c.compression_level = *level;
             return std::nullopt;
         },
         [](Config& c) { c.compression_level.reset(); }},
        {"Dump", "Group",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             if (auto problem = check_group_name(v)) {
                 return problem;
             }
             c.group = std::string(v);
             return std::nullopt;
         },
         [](Config& c) { c.group.clear(); }},
        {"Capture", "KernelCommandLineAppend",
         [](Config& c, std::string_view v) { return append_words(c.cmdline_append, v, false); },
         [](Config& c) { c.cmdline_append.clear(); }},
        {"Capture", "KernelCommandLineRemove",
         [](Config& c, std::string_view v) { return append_words(c.cmdline_remove, v, true); },
         [](Config& c) { c.cmdline_remove.clear(); }},
        {"Capture", "Kernel",
         [](Config& c, std::string_view v) { return set_path(c.kernel_override, v); },
         [](Config& c) { c.kernel_override.clear(); }},
        {"Capture", "Initrd",
         [](Config& c, std::string_view v) { return set_path(c.initrd_override, v); },
         [](Config& c) { c.initrd_override.clear(); }},
        {"Capture", "FailureAction",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto action = parse_failure_action(v);
             if (!action) {
                 return "not a failure action (reboot, poweroff, shell, dump-to-rootfs)";
             }
             c.failure_action = *action;
             return std::nullopt;
         },
         [](Config& c) { c.failure_action = Config{}.failure_action; }},
        {"Capture", "FinalAction",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto action = parse_final_action(v);
             if (!action) {
                 return "not a final action (reboot, poweroff, halt)";
             }
             c.final_action = *action;
             return std::nullopt;
         },
         [](Config& c) { c.final_action = Config{}.final_action; }},
        {"Capture", "TimeoutSec",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto usec = parse_timespan_usec(v);
             if (usec) {
                 // systemd's TimeoutSec=0: no timeout at all.
                 c.timeout_usec = *usec == 0 ? kInfiniteTimeSpan : *usec;
             }
             return error_of(usec);
         },
         [](Config& c) { c.timeout_usec = kDefaultCaptureTimeoutUsec; }},
        {"Retention", "MaxUse",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto limit = parse_size_limit(v);
             if (limit) {
                 c.retention.max_use = *limit;
             }
             return error_of(limit);
         },
         [](Config& c) { c.retention.max_use.reset(); }},
        {"Retention", "KeepFree",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             auto limit = parse_size_limit(v);
             if (limit) {
                 c.retention.keep_free = *limit;
             }
             return error_of(limit);
         },
         [](Config& c) { c.retention.keep_free.reset(); }},
        {"Retention", "KeepDumps",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             const auto count = parse_integer<uint64_t>(v);
             if (!count) {
                 return "not a count (0 = no limit)";
             }
             c.retention.keep_dumps = *count;
             return std::nullopt;
         },
         [](Config& c) { c.retention.keep_dumps = 0; }},
    };
    return handlers;
}

bool is_known_section(std::string_view name) {
    return name == "Dump" || name == "Capture" || name == "Retention";
}

class Parser {
  public:
    void apply(const ConfigSource& source);
    void check_whole();

    Config config;
    std::vector<ConfigDiagnostic> errors;

  private:
    void apply_line(const std::string& file, unsigned line, std::string_view text);
    void error(const std::string& file, unsigned line, std::string message) {
        errors.push_back(ConfigDiagnostic{file, line, std::move(message)});
    }

    std::string section_;
    bool section_known_ = false;
    // Where the keys checked against others were last set.
    std::optional<Location> format_at_;
    std::optional<Location> compression_level_at_;
};

void Parser::apply(const ConfigSource& source) {
    // Each file starts outside any section (systemd's config_parse()).
    section_.clear();
    section_known_ = false;
    std::string_view text = source.text;
    unsigned number = 0;
    std::string pending;  // a line continued with '\'
    unsigned pending_start = 0;
    while (!text.empty()) {
        const size_t newline = text.find('\n');
        std::string_view raw = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        ++number;
        if (!raw.empty() && raw.back() == '\r') {
            raw.remove_suffix(1);
        }
        if (pending.empty()) {
            pending_start = number;
            const auto trimmed = trim(raw);
            if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') {
                continue;
            }
        } else {
            // Comment lines inside a continuation are skipped, as systemd does.
            const auto trimmed = trim(raw);
            if (!trimmed.empty() && (trimmed.front() == '#' || trimmed.front() == ';')) {
                continue;
            }
        }
        if (!raw.empty() && raw.back() == '\\') {
            pending += raw.substr(0, raw.size() - 1);
            pending += ' ';
            continue;
        }
        pending += raw;
        apply_line(source.name, pending_start, pending);
        pending.clear();
    }
    if (!pending.empty()) {
        apply_line(source.name, pending_start, pending);
    }
}

void Parser::apply_line(const std::string& file, unsigned line, std::string_view text) {
    text = trim(text);
    if (text.empty()) {
        return;
    }
    if (text.front() == '[') {
        if (text.back() != ']' || text.size() < 3) {
            error(file, line, fmt::format("'{}': not a [Section] header", text));
            section_.clear();
            section_known_ = true;  // its keys would only repeat the error
            return;
        }
        section_ = std::string(text.substr(1, text.size() - 2));
        section_known_ = is_known_section(section_);
        if (!section_known_) {
            error(file, line,
                  fmt::format("unknown section [{}] (expected [Dump], [Capture] or [Retention]); "
                              "its keys are ignored",
                              section_));
        }
        return;
    }
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos) {
        error(file, line, fmt::format("'{}': not a Key=value assignment (missing '=')", text));
        return;
    }
    const auto key = trim(text.substr(0, equals));
    const auto value = trim(text.substr(equals + 1));
    if (key.empty()) {
        error(file, line, fmt::format("'{}': no key before '='", text));
        return;
    }
    if (section_.empty()) {
        if (section_known_) {
            return;  // under a broken header, already reported
        }
        error(file, line,
              fmt::format("{}=: outside any section (put it under [Dump], [Capture] or "
                          "[Retention])",
                          key));
        return;
    }
    if (!section_known_) {
        return;
    }
    const auto& handlers = key_handlers();
    const auto handler = std::find_if(handlers.begin(), handlers.end(), [&](const KeyHandler& h) {
        return h.section == section_ && h.key == key;
    });
    if (handler == handlers.end()) {
        const auto elsewhere = std::find_if(handlers.begin(), handlers.end(),
                                            [&](const KeyHandler& h) { return h.key == key; });
        error(file, line,
              elsewhere != handlers.end()
                  ? fmt::format("{}=: unknown key in section [{}] (it belongs in [{}])", key,
                                section_, elsewhere->section)
                  : fmt::format("{}=: unknown key in section [{}]", key, section_));
        return;
    }
    const std::string assignment = fmt::format("{}={}", key, value);
    if (value.empty()) {
        handler->reset(config);
    } else if (auto problem = handler->set(config, value)) {
        error(file, line, fmt::format("{}: {}", assignment, *problem));
        return;
    }
    if (key == "Format") {
        format_at_ = value.empty() ? std::nullopt : std::optional(Location{file, line, assignment});
    } else if (key == "CompressionLevel") {
        compression_level_at_ =
            value.empty() ? std::nullopt : std::optional(Location{file, line, assignment});
    }
}

void Parser::check_whole() {
    if (config.compression_level && compression_level_at_) {
        const int level = *config.compression_level;
        const auto& at = *compression_level_at_;
        if (config.compression == Compression::none) {
            error(at.file, at.line,
                  fmt::format("{}: Compression=none has no levels", at.assignment));
        } else if (config.compression == Compression::zlib && (level < 1 || level > 9)) {
            // zlib.h: 1 (Z_BEST_SPEED) to 9 (Z_BEST_COMPRESSION); 0 stores
            // uncompressed, which Compression=none already says.
            error(at.file, at.line, fmt::format("{}: not a zlib level (1-9)", at.assignment));
        } else if (config.compression == Compression::zstd &&
                   (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())) {
            error(at.file, at.line,
                  fmt::format("{}: not a zstd level ({} to {})", at.assignment, ZSTD_minCLevel(),
                              ZSTD_maxCLevel()));
        }
    }
    const bool stream_only =
        config.target.kind == TargetKind::raw || config.target.kind == TargetKind::ssh;
    if (stream_only && config.format && *config.format != DumpFormat::flattened && format_at_) {
        // kdump.conf(5): makedumpfile -F is the default collector for raw and
        // ssh targets. A pipe to ssh cannot seek back to fill in headers and
        // bitmaps, and a raw device holds no length: the flattened stream
        // carries its own offsets and end marker (makedumpfile -R reads it).
        const auto& at = *format_at_;
        error(at.file, at.line,
              fmt::format("{}: {} targets take a stream that cannot seek back; use "
                          "Format=flattened or leave Format= unset",
                          at.assignment, to_string(config.target.kind)));
    }
}

// Reads a whole config file; a missing one is nothing.
Result<std::optional<std::string>> read_config_file(const std::string& path) {
    // Config files are a few KiB; a huge one is a mistake, not a config.
    constexpr size_t kMaxConfigBytes = 1 << 20;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        if (errno == ENOENT) {
            return std::optional<std::string>();
        }
        return make_errno_error(errno, "cannot open");
    }
    std::string text;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot read");
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > kMaxConfigBytes) {
            return make_error(EFBIG, "larger than {} bytes, not a config file", kMaxConfigBytes);
        }
    }
    return std::optional<std::string>(std::move(text));
}

}  // namespace

// ---------------------------------------------------------------------------

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

std::optional<std::string> check_group_name(std::string_view text) {
    if (text.empty()) {
        return "no group";
    }
    if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // gid_t is 32 bits; (gid_t) -1 means "no change" to chown(2).
        const auto gid = parse_integer<uint32_t>(text);
        if (!gid || *gid == UINT32_MAX) {
            return "not a group id";
        }
        return std::nullopt;
    }
    // shadow-utils' default NAME_REGEX, with upper case as Debian's
    // adduser --allow-all-names and systemd-sysusers accept.
    constexpr size_t kMaxGroupName = 32;
    std::string_view name = text;
    if (name.ends_with('$')) {
        name.remove_suffix(1);
    }
    const bool valid = !name.empty() && text.size() <= kMaxGroupName && name.front() != '-' &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                       });
    if (!valid) {
        return "not a group name (letters, digits, '_', '.', '-', at most 32) or id";
    }
    return std::nullopt;
}

std::string_view to_string(FailureAction action) {
    switch (action) {
        case FailureAction::reboot:
            return "reboot";
        case FailureAction::poweroff:
            return "poweroff";
        case FailureAction::shell:
            return "shell";
        case FailureAction::dump_to_rootfs:
            return "dump-to-rootfs";
    }
    return "reboot";
}

std::optional<FailureAction> parse_failure_action(std::string_view text) {
    for (const auto action : {FailureAction::reboot, FailureAction::poweroff, FailureAction::shell,
                              FailureAction::dump_to_rootfs}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    // kdump.conf(5) spells it dump_to_rootfs; accept an admin's habit.
    if (text == "dump_to_rootfs") {
        return FailureAction::dump_to_rootfs;
    }
    return std::nullopt;
}

std::string_view to_string(FinalAction action) {
    switch (action) {
        case FinalAction::reboot:
            return "reboot";
        case FinalAction::poweroff:
            return "poweroff";
        case FinalAction::halt:
            return "halt";
    }
    return "reboot";
}

std::optional<FinalAction> parse_final_action(std::string_view text) {
    for (const auto action : {FinalAction::reboot, FinalAction::poweroff, FinalAction::halt}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// Sizes.

uint64_t SizeLimit::resolve(uint64_t filesystem_bytes) const {
    if (!is_percent) {
        return bytes;
    }
    return static_cast<uint64_t>(static_cast<unsigned __int128>(filesystem_bytes) * percent / 100);
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
    text = trim(text);
    const std::string original(text);
    auto number = take_decimal(text);
    if (!number) {
        return make_error(EINVAL, "'{}' is not a size", original);
    }
    text = trim(text);
    uint64_t factor = 1;
    if (!text.empty() && text != "B") {
        constexpr std::string_view kSuffixes = "KMGTPE";
        const char upper =
            static_cast<char>(text.front() >= 'a' ? text.front() - 32 : text.front());
        const size_t index = kSuffixes.find(upper);
        const auto rest = text.substr(1);
        if (index == std::string_view::npos || !(rest.empty() || rest == "B" || rest == "iB")) {
            return make_error(EINVAL, "'{}' is not a size (suffixes: K, M, G, T, P, E)", original);
        }
        factor = uint64_t{1} << (10 * (index + 1));
    } else if (number->fraction_unit != 1) {
        return make_error(EINVAL, "'{}' is not a whole number of bytes", original);
    }
    const auto bytes = scale(*number, factor);
    if (!bytes) {
        return make_error(ERANGE, "'{}' is too large", original);
    }
    return *bytes;
}

Result<SizeLimit> parse_size_limit(std::string_view text) {
    text = trim(text);
    if (!text.empty() && text.back() == '%') {
        const auto percent = parse_integer<uint32_t>(trim(text.substr(0, text.size() - 1)));
        if (!percent || *percent > 100) {
            return make_error(EINVAL, "'{}' is not a percentage (0%-100%)", text);
        }
        return SizeLimit{true, 0, *percent};
    }
    auto bytes = parse_size_bytes(text);
    if (!bytes) {
        return tl::unexpected(bytes.error());
    }
    return SizeLimit{false, *bytes, 0};
}

std::string format_size(uint64_t bytes) {
    constexpr std::string_view kSuffixes = "EPTGMK";
    for (size_t i = 0; i < kSuffixes.size(); ++i) {
        const unsigned shift = 10 * static_cast<unsigned>(kSuffixes.size() - i);
        const uint64_t unit = uint64_t{1} << shift;
        if (bytes != 0 && bytes % unit == 0) {
            return fmt::format("{}{}", bytes / unit, kSuffixes[i]);
        }
    }
    return std::to_string(bytes);
}

std::string to_string(const SizeLimit& limit) {
    return limit.is_percent ? fmt::format("{}%", limit.percent) : format_size(limit.bytes);
}

// ---------------------------------------------------------------------------
// Time spans (systemd's parse_sec() and format_timespan(), src/basic/time-util.c).

namespace {

constexpr uint64_t kUsecPerSec = 1000 * 1000;
constexpr uint64_t kUsecPerMinute = 60 * kUsecPerSec;
constexpr uint64_t kUsecPerHour = 60 * kUsecPerMinute;
constexpr uint64_t kUsecPerDay = 24 * kUsecPerHour;
constexpr uint64_t kUsecPerWeek = 7 * kUsecPerDay;
// systemd time-util.h: USEC_PER_MONTH = 2629800 s (30.44 days),
// USEC_PER_YEAR = 31557600 s (365.25 days).
constexpr uint64_t kUsecPerMonth = 2629800 * kUsecPerSec;
constexpr uint64_t kUsecPerYear = 31557600 * kUsecPerSec;

struct TimeUnit {
    std::string_view name;
    uint64_t usec;
};

// systemd's table; case matters ("M" is a month, "m" a minute).
constexpr TimeUnit kTimeUnits[] = {
    {"seconds", kUsecPerSec},
    {"second", kUsecPerSec},
    {"sec", kUsecPerSec},
    {"s", kUsecPerSec},
    {"minutes", kUsecPerMinute},
    {"minute", kUsecPerMinute},
    {"min", kUsecPerMinute},
    {"months", kUsecPerMonth},
    {"month", kUsecPerMonth},
    {"M", kUsecPerMonth},
    {"msec", 1000},
    {"ms", 1000},
    {"m", kUsecPerMinute},
    {"hours", kUsecPerHour},
    {"hour", kUsecPerHour},
    {"hr", kUsecPerHour},
    {"h", kUsecPerHour},
    {"days", kUsecPerDay},
    {"day", kUsecPerDay},
    {"d", kUsecPerDay},
    {"weeks", kUsecPerWeek},
    {"week", kUsecPerWeek},
    {"w", kUsecPerWeek},
    {"years", kUsecPerYear},
    {"year", kUsecPerYear},
    {"y", kUsecPerYear},
    {"usec", 1},
    {"us", 1},
    {"\xc2\xb5s", 1},
    {"\xce\xbcs", 1},
};

bool is_unit_character(char c) {
    // Letters, and the bytes of "µ" (U+00B5, C2 B5) and "μ" (U+03BC, CE BC).
    const auto byte = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || byte == 0xc2 || byte == 0xb5 ||
           byte == 0xce || byte == 0xbc;
}

}  // namespace

Result<uint64_t> parse_timespan_usec(std::string_view text) {
    text = trim(text);
    const std::string original(text);
    if (text == "infinity") {
        return kInfiniteTimeSpan;
    }
    if (text.empty()) {
        return make_error(EINVAL, "no time span");
    }
    uint64_t total = 0;
    while (!text.empty()) {
        auto number = take_decimal(text);
        if (!number) {
            return make_error(
                EINVAL, "'{}' is not a time span (e.g. 90s, 30min, 1h 30min, infinity)", original);
        }
        size_t length = 0;
        while (length < text.size() && text[length] == ' ') {
            ++length;
        }
        text.remove_prefix(length);
        length = 0;
        while (length < text.size() && is_unit_character(text[length])) {
            ++length;
        }
        const auto unit_name = text.substr(0, length);
        uint64_t unit = kUsecPerSec;  // a bare number is seconds
        if (!unit_name.empty()) {
            const auto* found =
                std::find_if(std::begin(kTimeUnits), std::end(kTimeUnits),
                             [&](const TimeUnit& u) { return u.name == unit_name; });
            if (found == std::end(kTimeUnits)) {
                return make_error(EINVAL, "'{}': unknown time unit '{}'", original, unit_name);
            }
            unit = found->usec;
        }
        text.remove_prefix(length);
        text = trim(text);
        const auto usec = scale(*number, unit);
        if (!usec || *usec > kInfiniteTimeSpan - 1 - total) {
            return make_error(ERANGE, "'{}' is too long", original);
        }
        total += *usec;
    }
    return total;
}

std::string format_timespan(uint64_t usec) {
    if (usec == kInfiniteTimeSpan) {
        return "infinity";
    }
    if (usec == 0) {
        return "0";
    }
    // systemd's format_timespan() table, largest first.
    constexpr TimeUnit kFormatUnits[] = {
        {"y", kUsecPerYear}, {"month", kUsecPerMonth}, {"w", kUsecPerWeek}, {"d", kUsecPerDay},
        {"h", kUsecPerHour}, {"min", kUsecPerMinute},  {"s", kUsecPerSec},  {"ms", 1000},
        {"us", 1},
    };
    std::string text;
    for (const auto& unit : kFormatUnits) {
        if (usec >= unit.usec) {
            if (!text.empty()) {
                text += ' ';
            }
            text += fmt::format("{}{}", usec / unit.usec, unit.name);
            usec %= unit.usec;
        }
    }
    return text;
}

// ---------------------------------------------------------------------------
// Config.

DumpFormat Config::effective_format() const {
    if (format) {
        return *format;
    }
    return target.kind == TargetKind::raw || target.kind == TargetKind::ssh ? DumpFormat::flattened
                                                                            : DumpFormat::kdump;
}

int Config::effective_compression_level() const {
    if (compression == Compression::none) {
        return 0;  // as save-dump records it
    }
    return compression_level.value_or(default_compression_level(compression));
}

std::string Config::target_description() const {
    return to_string(target);
}

namespace {

std::string join_words(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) {
        if (!text.empty()) {
            text += ' ';
        }
        text += word;
    }
    return text;
}

}  // namespace

std::string Config::describe() const {
    std::string out;
    auto line = [&out](std::string_view key, std::string_view value) {
        out += fmt::format("{}={}\n", key, value);
    };
    auto unset = [&out](std::string_view key, std::string_view meaning) {
        out += fmt::format("# {}= is unset: {}\n{}=\n", key, meaning, key);
    };
    out += "[Dump]\n";
    line("Target", to_string(target));
    if (format) {
        line("Format", to_string(*format));
    } else {
        unset("Format", fmt::format("{} for this target", to_string(effective_format())));
    }
    line("DumpLevel", std::to_string(dump_level));
    line("Compression", to_string(compression));
    if (compression_level) {
        line("CompressionLevel", std::to_string(*compression_level));
    } else {
        unset("CompressionLevel",
              compression == Compression::none
                  ? std::string("no compression")
                  : fmt::format("{}, the default for {}", effective_compression_level(),
                                to_string(compression)));
    }
    if (group.empty()) {
        unset("Group", "dumps readable by root only");
    } else {
        line("Group", group);
    }
    out += "\n[Capture]\n";
    line("KernelCommandLineAppend", join_words(cmdline_append));
    line("KernelCommandLineRemove", join_words(cmdline_remove));
    if (kernel_override.empty()) {
        unset("Kernel", "the running kernel's image");
    } else {
        line("Kernel", kernel_override);
    }
    if (initrd_override.empty()) {
        unset("Initrd", "one built for the capture");
    } else {
        line("Initrd", initrd_override);
    }
    line("FailureAction", to_string(failure_action));
    line("FinalAction", to_string(final_action));
    line("TimeoutSec", format_timespan(timeout_usec));
    out += "\n[Retention]\n";
    if (retention.max_use) {
        line("MaxUse", to_string(*retention.max_use));
    } else {
        unset("MaxUse", "no limit");
    }
    if (retention.keep_free) {
        line("KeepFree", to_string(*retention.keep_free));
    } else {
        unset("KeepFree", "no limit");
    }
    line("KeepDumps", std::to_string(retention.keep_dumps));
    return out;
}

nlohmann::json to_json(const Config& config) {
    auto optional_text = [](const std::string& text) {
        return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
    };
    auto limit = [](const std::optional<SizeLimit>& l) {
        if (!l) {
            return nlohmann::json(nullptr);
        }
        return l->is_percent ? nlohmann::json{{"percent", l->percent}}
                             : nlohmann::json{{"bytes", l->bytes}};
    };
    nlohmann::json target{{"kind", to_string(config.target.kind)}, {"path", config.target.path}};
    if (!config.target.host.empty()) {
        target["host"] = config.target.host;
    }
    if (!config.target.user.empty()) {
        target["user"] = config.target.user;
    }
    if (config.target.port != 0) {
        target["port"] = config.target.port;
    }
    return nlohmann::json{
        {"Dump",
         {{"Target", to_string(config.target)},
          {"TargetParts", target},
          {"Format", to_string(config.effective_format())},
          {"DumpLevel", config.dump_level},
          {"Compression", to_string(config.compression)},
          {"CompressionLevel", config.effective_compression_level()},
          {"Group", optional_text(config.group)}}},
        {"Capture",
         {{"KernelCommandLineAppend", config.cmdline_append},
          {"KernelCommandLineRemove", config.cmdline_remove},
          {"Kernel", optional_text(config.kernel_override)},
          {"Initrd", optional_text(config.initrd_override)},
          {"FailureAction", to_string(config.failure_action)},
          {"FinalAction", to_string(config.final_action)},
          {"TimeoutSec", format_timespan(config.timeout_usec)},
          {"TimeoutUSec", config.timeout_usec == kInfiniteTimeSpan
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(config.timeout_usec)}}},
        {"Retention",
         {{"MaxUse", limit(config.retention.max_use)},
          {"KeepFree", limit(config.retention.keep_free)},
          {"KeepDumps", config.retention.keep_dumps}}},
    };
}

// ---------------------------------------------------------------------------

std::string ConfigDiagnostic::to_string() const {
    if (line == 0) {
        return fmt::format("{}: {}", file, message);
    }
    return fmt::format("{}:{}: {}", file, line, message);
}

LoadedConfig parse_config(const std::vector<ConfigSource>& sources) {
    Parser parser;
    LoadedConfig loaded;
    for (const auto& source : sources) {
        parser.apply(source);
        loaded.files.push_back(source.name);
    }
    parser.check_whole();
    loaded.config = std::move(parser.config);
    loaded.errors = std::move(parser.errors);
    return loaded;
}

LoadedConfig load_config_files(const SystemPaths& paths) {
    Parser parser;
    LoadedConfig loaded;
    // Errors stay in file order: reading problems where the file would
    // have been applied.
    auto add = [&](const std::string& path) {
        auto text = read_config_file(path);
        if (!text) {
            parser.errors.push_back(ConfigDiagnostic{path, 0, text.error().message});
        } else if (*text) {
            parser.apply(ConfigSource{path, std::move(**text)});
            loaded.files.push_back(path);
        }
    };
    add(paths.config_file());

    const std::string dropins = paths.config_dropin_directory();
    std::unique_ptr<DIR, int (*)(DIR*)> directory(::opendir(dropins.c_str()), ::closedir);
    if (!directory) {
        if (errno != ENOENT && errno != ENOTDIR) {
            parser.errors.push_back(ConfigDiagnostic{
                dropins, 0, make_errno_error(errno, "cannot open").value().message});
        }
    } else {
        std::vector<std::string> names;
        errno = 0;
        while (const dirent* entry = ::readdir(directory.get())) {
            const std::string_view name = entry->d_name;
            // systemd's conf_files_list(): "*.conf", hidden files skipped.
            if (name.size() > 5 && name.ends_with(".conf") && name.front() != '.') {
                names.emplace_back(name);
            }
        }
        if (errno != 0) {
            parser.errors.push_back(ConfigDiagnostic{
                dropins, 0, make_errno_error(errno, "cannot list").value().message});
        }
        std::sort(names.begin(), names.end());  // byte order, as strcmp()
        for (const auto& name : names) {
            const std::string path = dropins + "/" + name;
            struct stat st {};
            // Following symlinks: a link to /dev/null masks a drop-in, as in
            // systemd, and a directory named *.conf is not one.
            if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
                continue;
            }
            add(path);
        }
    }
    parser.check_whole();
    loaded.config = std::move(parser.config);
    loaded.errors = std::move(parser.errors);
    return loaded;
}

Result<Config> load_config(const SystemPaths& paths) {
    LoadedConfig loaded = load_config_files(paths);
    if (loaded.errors.empty()) {
        return std::move(loaded.config);
    }
    std::string message;
    for (const auto& error : loaded.errors) {
        if (!message.empty()) {
            message += '\n';
        }
        message += error.to_string();
    }
    return tl::unexpected(Error{EINVAL, std::move(message)});
}

}  // namespace crashcapture
