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
                 return "not a compression (zstd, lzo, zlib, none)";
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
        {"Capture", "CPUs",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             if (v == "auto") {
                 c.capture_cpus.reset();
                 return std::nullopt;
             }
             const auto cpus = parse_integer<unsigned>(v);
             if (!cpus || *cpus < 1 || *cpus > kMaxConfiguredCaptureCpus) {
                 return fmt::format("not a CPU count (auto, or 1-{})", kMaxConfiguredCaptureCpus);
             }
             c.capture_cpus = *cpus;
             return std::nullopt;
         },
         [](Config& c) { c.capture_cpus.reset(); }},
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
        {"Metrics", "Textfile",
         [](Config& c, std::string_view v) -> std::optional<std::string> {
             // "Textfile=" alone resets to the default; "none" turns it off.
             if (v == "none") {
                 c.metrics_textfile.clear();
                 return std::nullopt;
             }
             if (v.empty() || v.front() != '/' || v.back() == '/') {
                 return "not an absolute file path (or none)";
             }
             if (v.size() < 5 || v.substr(v.size() - 5) != ".prom") {
                 return "must end in .prom (node_exporter's textfile collector reads only those)";
             }
             c.metrics_textfile = std::string(v);
             return std::nullopt;
         },
         [](Config& c) { c.metrics_textfile = std::string(kDefaultMetricsTextfile); }},
    };
    return handlers;
}

bool is_known_section(std::string_view name) {
    return name == "Dump" || name == "Capture" || name == "Retention" || name == "Metrics";
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
                  fmt::format("unknown section [{}] (expected [Dump], [Capture], [Retention] or "
                              "[Metrics]); "
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
              fmt::format("{}=: outside any section (put it under [Dump], [Capture], "
                          "[Retention] or [Metrics])",
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
        } else if (config.compression == Compression::lzo && level != 1) {
            // lzo1x_1 is the one method makedumpfile -l and the readers use.
            error(at.file, at.line,
                  fmt::format("{}: lzo has one level, 1 (lzo1x_1)", at.assignment));
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
    line("CPUs", capture_cpus ? std::to_string(*capture_cpus) : std::string("auto"));
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
    out += "\n[Metrics]\n";
    line("Textfile", metrics_textfile.empty() ? std::string("none") : metrics_textfile);
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
                              : nlohmann::json(config.timeout_usec)},
          {"CPUs",
           config.capture_cpus ? nlohmann::json(*config.capture_cpus) : nlohmann::json("auto")}}},
        {"Retention",
         {{"MaxUse", limit(config.retention.max_use)},
          {"KeepFree", limit(config.retention.keep_free)},
          {"KeepDumps", config.retention.keep_dumps}}},
        {"Metrics", {{"Textfile", optional_text(config.metrics_textfile)}}},
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
